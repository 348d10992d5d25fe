"""schedule.yaml: ONE YAML document with replicas per deployment over time.

Terraform reads it with `yamldecode(file("plan/schedule.yaml"))`; `deployments` is
a map keyed by deployment name so `for_each` works on it directly. Layout in
docs/formats.md.
"""

from __future__ import annotations

from preserve_cli.emit.common import (
    GENERATED_BY,
    deployment_identity,
    deployment_totals,
    header,
    iso,
    plan_summary,
    window_bounds,
)
from preserve_cli.fileio import dump_yaml
from preserve_cli.plan.model import Plan


def schedule_document(plan: Plan) -> dict:
    fleet = plan.fleet
    end = window_bounds(plan, len(plan.starts) - 1)[1]
    deployments = {}
    for d in plan.deployments:
        deployments[d.name] = {
            **deployment_identity(d),
            "min_replicas": d.pool.min,
            "max_replicas": d.pool.max,
            "cold_start_s": d.pool.cold_start_s,
            "usd_per_instance_hour": d.usd_per_hour,
            "capacity_per_instance": {
                "prefill_tokens_per_s": d.capacity.prefill_tokens_per_s,
                "decode_tokens_per_s": d.capacity.decode_tokens_per_s,
                "kv_tokens": d.capacity.kv_tokens,
                "source": d.capacity.source,
            },
            **deployment_totals(plan, d),
        }
    windows = []
    for k in range(len(plan.starts)):
        start, stop = window_bounds(plan, k)
        windows.append({
            "start": iso(start),
            "end": iso(stop),
            "replicas": {d.name: int(plan.replicas[d.name][k]) for d in plan.deployments},
            "demand": {m: {"prefill_tokens": float(md.prefill_tokens[k]), "decode_tokens": float(md.decode_tokens[k])}
                       for m, md in plan.demand.items()},
            "binding": {m: plan.binding[m][k] for m in plan.binding},
        })
    return {
        "schema": "preserve.dev/schedule/v1",
        "generated_by": GENERATED_BY,
        "inputs": dict(sorted(plan.inputs.items())),
        "window_s": plan.window_s,
        "timezone": fleet.planning.timezone,
        "quantile": fleet.planning.quantile,
        "headroom": fleet.planning.headroom,
        "start": iso(plan.starts[0]),
        "end": iso(end),
        "totals": plan_summary(plan),
        "deployments": deployments,
        "windows": windows,
        "notes": list(plan.notes),
    }


class ScheduleEmitter:
    name = "schedule"
    description = "schedule.yaml: replicas per deployment and window (one YAML document, Terraform-readable)"

    def render(self, plan: Plan) -> dict[str, str]:
        return {"schedule.yaml": dump_yaml(schedule_document(plan), header=header("Replica schedule"))}
