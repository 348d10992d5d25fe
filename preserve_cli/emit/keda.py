"""KEDA ScaledObjects with cron triggers, one per deployment.

Each schedule segment above the pool's min becomes a `cron` trigger
(timezone, start, end, desiredReplicas as a string — KEDA's cron scaler,
https://keda.sh/docs/latest/scalers/cron/). Outside every trigger KEDA falls
back to minReplicaCount (the pool's min). While triggers overlap (the cold-start
lead of a scale-up) KEDA takes the largest desiredReplicas.

Recurrence: a plan spanning at most one week is written as weekly crons
(minute hour * * weekday): if the nightly re-plan ever fails, last week's
pattern repeats instead of the fleet dropping to min. A longer plan uses dated
crons (minute hour day month *).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from preserve_cli.emit.common import header
from preserve_cli.fileio import dump_yaml_stream
from preserve_cli.plan.model import Deployment, Plan, Segment

WEEK = timedelta(days=7)
# A weekly cron pair cannot express a span of a week or more (start and end
# would coincide), so long segments are cut into pieces no longer than this.
MAX_TRIGGER_SPAN = timedelta(days=3)


def cron_expression(moment: datetime, tz: ZoneInfo, weekly: bool) -> str:
    local = moment.astimezone(tz)
    if weekly:
        weekday = (local.weekday() + 1) % 7  # cron: 0 = Sunday; Python: 0 = Monday
        return f"{local.minute} {local.hour} * * {weekday}"
    return f"{local.minute} {local.hour} {local.day} {local.month} *"


def triggers(deployment: Deployment, segments: list[Segment], timezone: str, weekly: bool) -> list[dict]:
    tz = ZoneInfo(timezone)
    result = []
    for segment in _split_long(segments):
        if segment.replicas <= deployment.pool.min:
            continue
        result.append({
            "type": "cron",
            "name": f"{deployment.name}-{segment.start.strftime('%Y%m%dt%H%M')}",
            "metadata": {
                "timezone": timezone,
                "start": cron_expression(segment.start, tz, weekly),
                "end": cron_expression(segment.end, tz, weekly),
                "desiredReplicas": str(segment.replicas),
            },
        })
    return result


def _split_long(segments: list[Segment]) -> list[Segment]:
    pieces = []
    for segment in segments:
        start = segment.start
        while segment.end - start > MAX_TRIGGER_SPAN:
            pieces.append(Segment(start, start + MAX_TRIGGER_SPAN, segment.replicas))
            start += MAX_TRIGGER_SPAN
        pieces.append(Segment(start, segment.end, segment.replicas))
    return pieces


def scaled_object(plan: Plan, deployment: Deployment, weekly: bool) -> dict:
    segments = plan.segments[deployment.name]
    cron = triggers(deployment, segments, plan.fleet.planning.timezone, weekly)
    if not cron:
        # KEDA needs at least one trigger; the plan never exceeds min, so hold min all week.
        cron = [{"type": "cron", "name": f"{deployment.name}-hold-min",
                 "metadata": {"timezone": plan.fleet.planning.timezone, "start": "0 0 * * *", "end": "59 23 * * *",
                              "desiredReplicas": str(deployment.pool.min)}}]
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {
            "name": f"{deployment.name}-schedule",
            "namespace": plan.fleet.namespace,
            "labels": {
                "app.kubernetes.io/managed-by": "preserve",
                "preserve.dev/pool": deployment.pool.name,
                "preserve.dev/model": deployment.model,
            },
        },
        "spec": {
            "scaleTargetRef": {"name": deployment.name},
            "minReplicaCount": deployment.pool.min,
            "maxReplicaCount": deployment.pool.max,
            "triggers": cron,
        },
    }


def uses_weekly_crons(plan: Plan) -> bool:
    first = min(s.start for segs in plan.segments.values() for s in segs)
    last = max(s.end for segs in plan.segments.values() for s in segs)
    horizon = timedelta(seconds=plan.window_s * len(plan.starts))
    return horizon <= WEEK and last - first <= WEEK + timedelta(seconds=max(d.pool.cold_start_s for d in plan.deployments) + 60)


class KedaEmitter:
    name = "keda"
    description = "keda-scaledobjects.yaml: a KEDA ScaledObject per deployment with cron triggers"

    def render(self, plan: Plan) -> dict[str, str]:
        weekly = uses_weekly_crons(plan)
        documents = [scaled_object(plan, d, weekly) for d in plan.deployments]
        return {"keda-scaledobjects.yaml": dump_yaml_stream(documents, header=header("KEDA ScaledObjects"))}
