"""AIBrix PodAutoscalers with `spec.schedules`, one per deployment.

A schedule entry raises the autoscaler's bounds on some weekdays between two
wall-clock times (HH:MM in the plan's time zone). We set its `minReplicas` to the
planned replicas and its `maxReplicas` to the pool max: the plan is the floor,
and AIBrix's metric-driven scaling may add replicas above it when demand beats
the forecast quantile. Semantics follow AIBrix's resolver
(pkg/controller/podautoscaler/schedules, added in vllm-project/aibrix#2529):
a schedule is active when the weekday matches and start <= minute < end; start
must be before end (so no entry crosses midnight: we cut at local midnight);
entries may not overlap; all share one time zone; outside every entry the spec's
own minReplicas/maxReplicas hold.

Weekly clock: each minute of the plan is placed on the local weekday and time it
falls on, and where several plan minutes land on the same weekly minute (a plan
longer than a week, the hour a DST change repeats, the first scale-up's
cold-start lead wrapping onto the week's end) the largest count holds, so the
schedule never goes below the plan. Weekly minutes the plan does not reach hold
the plan's floor (its fewest replicas).

23:59: HH:MM stops at 23:59 and the end is exclusive, so no entry can cover the
last minute of a day; there spec.minReplicas holds. We set it to the lowest value
any day has at 23:59, so that minute can only lower the floor, never raise it (a
raise would start GPU pods for one minute); the metric-driven strategy keeps the
replicas unless load is low at that moment. Every other minute's floor is
exactly the plan. Minutes whose value equals spec.minReplicas need no entry.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np

from preserve_cli.emit.common import (
    deployment_labels,
    header,
    object_metadata,
    replica_floor,
)
from preserve_cli.fileio import dump_yaml_stream
from preserve_cli.plan.model import Deployment, Plan

MINUTES_PER_DAY = 24 * 60
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY
# Python's weekday order (Monday = 0); AIBrix reads sun..sat case-insensitively.
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

# Strategy and metric. APA ("AIBrix Pod Autoscaler") scales up when the metric is
# above target × (1 + up tolerance) and down when below target × (1 − down tolerance)
# (pkg/controller/podautoscaler/algorithm/apa.go). Target 0.5 KV-cache use with a
# down tolerance of 0.5 reproduces SageServe's reactive guards: scale out above 0.5
# KV use, in below 0.25 (SageServe's released simulator; research/sageserve.md). The up tolerance 0.1 and
# the metric name kv_cache_usage_perc (vLLM's KV-cache use gauge, 0–1) are those of
# AIBrix's own sample, samples/autoscaling/apa.yaml. Port 8000 is vLLM's default.
STRATEGY = "APA"
KV_CACHE_METRIC = "kv_cache_usage_perc"
TARGET_KV_USE = "0.5"
UP_TOLERANCE = "0.1"
DOWN_TOLERANCE = "0.5"
VLLM_METRICS_PORT = "8000"


def weekly_clock(plan: Plan) -> tuple[int, np.ndarray]:
    """(first UTC epoch minute, local minute-of-week of every minute the plan's segments span).

    Computed minute by minute so DST changes and zones with 30/45-minute offsets
    land where the wall clock puts them.
    """
    starts = [s.start for segs in plan.segments.values() for s in segs]
    ends = [s.end for segs in plan.segments.values() for s in segs]
    first = int(min(starts).timestamp()) // 60
    last = -(-int(max(ends).timestamp()) // 60)
    tz = ZoneInfo(plan.fleet.planning.timezone)
    minute_of_week = np.empty(last - first, dtype=np.int64)
    for i in range(last - first):
        local = datetime.fromtimestamp((first + i) * 60, tz)
        minute_of_week[i] = local.weekday() * MINUTES_PER_DAY + local.hour * 60 + local.minute
    return first, minute_of_week


def weekly_replicas(plan: Plan, deployment: Deployment, clock: tuple[int, np.ndarray]) -> np.ndarray:
    """Replicas the plan wants at each minute of the local week; -1 where the plan says nothing."""
    first, minute_of_week = clock
    along = np.full(len(minute_of_week), -1, dtype=np.int64)
    for segment in plan.segments[deployment.name]:
        # Round outwards to whole minutes: scale up no later, hold no shorter.
        a = int(segment.start.timestamp()) // 60 - first
        b = -(-int(segment.end.timestamp()) // 60) - first
        along[a:b] = np.maximum(along[a:b], segment.replicas)
    week = np.full(MINUTES_PER_WEEK, -1, dtype=np.int64)
    covered = along >= 0
    np.maximum.at(week, minute_of_week[covered], along[covered])
    return week


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def schedule_entries(targets: np.ndarray, base: int, timezone: str, max_replicas: int) -> list[dict]:
    """Runs of equal target within each local day (23:59 excluded), those differing from `base`.

    Runs with the same times and replicas on several weekdays share one entry.
    """
    runs: dict[tuple[int, int, int], list[int]] = {}
    for day in range(7):
        values = targets[day * MINUTES_PER_DAY: (day + 1) * MINUTES_PER_DAY - 1]
        start = 0
        for minute in range(1, len(values) + 1):
            if minute < len(values) and values[minute] == values[start]:
                continue
            if values[start] != base:
                runs.setdefault((start, minute, int(values[start])), []).append(day)
            start = minute
    entries = []
    for (start, end, replicas), days in sorted(runs.items(), key=lambda item: (item[1][0], item[0])):
        names = [DAY_NAMES[d] for d in days]
        entries.append({
            "name": "-".join(n.lower() for n in names) + f"-{start // 60:02d}{start % 60:02d}-{end // 60:02d}{end % 60:02d}",
            "timezone": timezone,
            "daysOfWeek": names,
            "startTime": _hhmm(start),
            "endTime": _hhmm(end),
            "minReplicas": replicas,
            "maxReplicas": max_replicas,
        })
    return entries


def pod_autoscaler(plan: Plan, deployment: Deployment, clock: tuple[int, np.ndarray]) -> dict:
    week = weekly_replicas(plan, deployment, clock)
    targets = np.where(week < 0, replica_floor(plan, deployment), week)
    base = int(min(targets[day * MINUTES_PER_DAY + MINUTES_PER_DAY - 1] for day in range(7)))
    spec = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment.name},
        "scalingStrategy": STRATEGY,
        "minReplicas": base,
        "maxReplicas": deployment.pool.max,
        "metricsSources": [{
            "metricSourceType": "pod",
            "protocolType": "http",
            "port": VLLM_METRICS_PORT,
            "path": "metrics",
            "targetMetric": KV_CACHE_METRIC,
            "targetValue": TARGET_KV_USE,
        }],
    }
    entries = schedule_entries(targets, base, plan.fleet.planning.timezone, deployment.pool.max)
    if entries:  # the CRD wants at least one entry when the field is present
        spec["schedules"] = entries
    annotations = {
        "autoscaling.aibrix.ai/up-fluctuation-tolerance": UP_TOLERANCE,
        "autoscaling.aibrix.ai/down-fluctuation-tolerance": DOWN_TOLERANCE,
    }
    return {
        "apiVersion": "autoscaling.aibrix.ai/v1alpha1",
        "kind": "PodAutoscaler",
        "metadata": object_metadata(plan, f"{deployment.name}-schedule", deployment_labels(deployment), annotations),
        "spec": spec,
    }


class AibrixEmitter:
    name = "aibrix"
    description = ("aibrix-podautoscalers.yaml: an AIBrix PodAutoscaler per deployment, weekly schedules "
                   "(floor = plan) over APA on KV-cache use")

    def render(self, plan: Plan) -> dict[str, str]:
        clock = weekly_clock(plan)
        documents = [pod_autoscaler(plan, d, clock) for d in plan.deployments]
        return {"aibrix-podautoscalers.yaml": dump_yaml_stream(documents, header=header("AIBrix PodAutoscalers"))}
