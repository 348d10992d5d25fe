"""Terraform inputs: `terraform.yaml` (ONE YAML document) and `preserve.auto.tfvars.json`.

`terraform.yaml` is what `yamldecode(file(...))` reads in examples/terraform:
maps keyed by deployment and by pool, so `for_each` takes them directly, each
entry carrying the ready manifest the module applies (the KEDA ScaledObject of
the `keda` emitter, the Karpenter NodePool of the `karpenter` emitter: the same
objects, validated the same way). No anchors, aliases, tags or second documents:
yamldecode rejects them.

`preserve.auto.tfvars.json` sets the module's typed variables (Terraform loads
`*.auto.tfvars.json` from the working directory by itself): the plan's start
(the module refuses a terraform.yaml from another run), replicas in the first
window per deployment and the GPU limit per pool, for use in other resources
(cloud quotas, node-group sizes). Layout in docs/formats.md.
"""

from __future__ import annotations

from preserve_cli.emit.common import (
    GENERATED_BY,
    deployment_identity,
    deployment_totals,
    header,
    integer_weights,
    iso,
    plan_summary,
    replica_floor,
    replica_peak,
    window_bounds,
)
from preserve_cli.emit.karpenter import node_pool, planned_pools, pool_gpu_limit
from preserve_cli.emit.keda import scaled_object, uses_weekly_crons
from preserve_cli.fileio import dump_json, dump_yaml
from preserve_cli.plan.model import Plan

SCHEMA = "preserve.dev/terraform/v1"
WEIGHT_TOTAL = 1000


def terraform_document(plan: Plan) -> dict:
    weekly = uses_weekly_crons(plan)
    deployments = {}
    for d in plan.deployments:
        deployments[d.name] = {
            **deployment_identity(d),
            "max_replicas": d.pool.max,
            "replicas_now": int(plan.replicas[d.name][0]),
            "replicas_floor": replica_floor(plan, d),
            "replicas_peak": replica_peak(plan, d),
            **deployment_totals(plan, d),
            "keda_scaled_object": scaled_object(plan, d, weekly),
        }
    pools = {}
    for pool in planned_pools(plan):
        pools[pool.name] = {
            "gpu": pool.gpu,
            "region": pool.region,
            "tp": pool.tp,
            "deployments": [d.name for d in plan.deployments if d.pool.name == pool.name],
            "gpu_limit": pool_gpu_limit(plan, pool),
            "karpenter_node_pool": node_pool(plan, pool),
        }
    models = {model: {"weights_now": integer_weights(per_window[0], WEIGHT_TOTAL)}
              for model, per_window in sorted(plan.routing.items())}
    return {
        "schema": SCHEMA,
        "generated_by": GENERATED_BY,
        "namespace": plan.fleet.namespace,
        "timezone": plan.fleet.planning.timezone,
        "window_s": plan.window_s,
        "start": iso(plan.starts[0]),
        "end": iso(window_bounds(plan, len(plan.starts) - 1)[1]),
        "totals": plan_summary(plan),
        "deployments": deployments,
        "pools": pools,
        "models": models,
    }


def tfvars_document(document: dict) -> dict:
    """The module's variables, taken from the same document so the two files always agree."""
    return {
        "preserve_plan_start": document["start"],
        "preserve_replicas_now": {name: d["replicas_now"] for name, d in document["deployments"].items()},
        "preserve_gpu_limits": {name: p["gpu_limit"] for name, p in document["pools"].items()},
    }


class TerraformEmitter:
    name = "terraform"
    description = ("terraform.yaml (one document, for_each maps) + preserve.auto.tfvars.json for "
                   "examples/terraform")

    def render(self, plan: Plan) -> dict[str, str]:
        document = terraform_document(plan)
        return {
            "terraform.yaml": dump_yaml(document, header=header("Terraform input (yamldecode)")),
            "preserve.auto.tfvars.json": dump_json(tfvars_document(document)),
        }
