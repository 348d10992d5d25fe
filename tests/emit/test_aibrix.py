"""AIBrix PodAutoscalers: valid against the upstream CRD and AIBrix's own schedule rules, and,
evaluated the way AIBrix evaluates schedules, a replica floor equal to the plan at every minute."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import yaml

from preserve_cli.plan.model import Plan
from tests.emit.k8s_schemas import crd_schema, validate_stream

AIBRIX_DAYS = {"sun": 6, "mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5}  # -> Python weekday
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def pod_autoscalers(run) -> dict[str, dict]:
    documents = validate_stream(run.files["aibrix-podautoscalers.yaml"],
                                crd_schema("autoscaling.aibrix.ai_podautoscalers.yaml"),
                                api_version="autoscaling.aibrix.ai/v1alpha1", kind="PodAutoscaler")
    return {doc["spec"]["scaleTargetRef"]["name"]: doc for doc in documents}


def _minute(text: str) -> int:
    return int(text[:2]) * 60 + int(text[3:])


def parsed_schedules(pa: dict) -> list[tuple[str, set[int], int, int, int]]:
    """AIBrix's admission rules (pkg/controller/podautoscaler/schedules parseAll), as assertions."""
    spec = pa["spec"]
    base_min, base_max = spec.get("minReplicas", 1), spec["maxReplicas"]
    schedules = spec.get("schedules", [])
    assert len({s.get("timezone", "UTC") for s in schedules}) <= 1, "mixed time zones are rejected"
    parsed = []
    for s in schedules:
        assert DNS_LABEL.match(s["name"])
        days = {AIBRIX_DAYS[d.lower()] for d in s.get("daysOfWeek", list(AIBRIX_DAYS))}
        start, end = _minute(s["startTime"]), _minute(s["endTime"])
        assert start < end, f"{s['name']}: startTime must be earlier than endTime (no crossing midnight)"
        assert "minReplicas" in s or "maxReplicas" in s
        low, high = s.get("minReplicas", base_min), s.get("maxReplicas", base_max)
        assert 0 <= low <= high and high > 0
        for other in parsed:
            assert not (other[1] & days and other[2] < end and start < other[3]), f"{s['name']} overlaps {other[0]}"
        parsed.append((s["name"], days, start, end, low))
    assert len({p[0] for p in parsed}) == len(parsed), "duplicate schedule names"
    return parsed


def floor_at(pa: dict, parsed: list, now: datetime) -> int:
    """AIBrix's Resolve: the first active schedule's minReplicas, else the spec's."""
    schedules = pa["spec"].get("schedules", [])
    local = now.astimezone(ZoneInfo(schedules[0].get("timezone", "UTC"))) if schedules else now
    minute = local.hour * 60 + local.minute
    for _, days, start, end, low in parsed:
        if local.weekday() in days and start <= minute < end:
            return low
    return pa["spec"].get("minReplicas", 1)


def planned_minutes(plan: Plan, name: str):
    """(UTC minute, planned replicas) for every minute the deployment's segments cover."""
    for segment in plan.segments[name]:
        t = segment.start
        while t < segment.end:
            yield t, segment.replicas
            t += timedelta(minutes=1)


def local_clock(plan: Plan, t: datetime) -> tuple[int, int]:
    local = t.astimezone(ZoneInfo(plan.fleet.planning.timezone))
    return local.weekday(), local.hour * 60 + local.minute


def test_pod_autoscalers_validate_against_the_crd_and_aibrix_rules(any_run):
    objects = pod_autoscalers(any_run)
    assert set(objects) == {d.name for d in any_run.plan.deployments}
    for pa in objects.values():
        parsed_schedules(pa)
        for schedule in pa["spec"].get("schedules", []):
            assert schedule["timezone"] == any_run.plan.fleet.planning.timezone
    with pytest.raises(yaml.YAMLError):  # a stream of documents, one per deployment
        yaml.safe_load(any_run.files["aibrix-podautoscalers.yaml"])


def test_scaling_is_metric_driven_between_the_plan_and_the_pool_max(any_run):
    for name, pa in pod_autoscalers(any_run).items():
        deployment = any_run.plan.deployment(name)
        spec = pa["spec"]
        assert spec["scalingStrategy"] == "APA"
        assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        (source,) = spec["metricsSources"]
        assert (source["targetMetric"], source["targetValue"]) == ("kv_cache_usage_perc", "0.5")
        assert spec["maxReplicas"] == deployment.pool.max
        assert all(s["maxReplicas"] == deployment.pool.max for s in spec.get("schedules", []))


@pytest.mark.parametrize("run_name", ["single_run", "multi_run", "dst_run"])
def test_floor_equals_the_plan_at_every_minute(run_name, request):
    """Minute by minute over the whole plan, cold-start leads included; at a local 23:59 (which no
    AIBrix schedule can cover) the floor may only be lower, never higher."""
    run = request.getfixturevalue(run_name)
    plan = run.plan
    split_at_midnight = 0
    for name, pa in pod_autoscalers(run).items():
        parsed = parsed_schedules(pa)
        for t, wanted in planned_minutes(plan, name):
            floor = floor_at(pa, parsed, t)
            if local_clock(plan, t)[1] == 24 * 60 - 1:
                assert floor <= wanted, (name, t)
            else:
                assert floor == wanted, (name, t, floor, wanted)
        # A run of replicas across local midnight: one entry ends at 23:59, the next day's starts at 00:00.
        split_at_midnight += sum(1 for a in parsed for b in parsed
                                 if a[3] == 24 * 60 - 1 and b[2] == 0 and a[4] == b[4]
                                 and {(day + 1) % 7 for day in a[1]} & b[1])
    assert split_at_midnight > 0


def test_a_plan_longer_than_a_week_folds_to_the_weekly_maximum(long_run):
    plan = long_run.plan
    assert len(plan.starts) == 9 * 24
    folded = 0
    for name, pa in pod_autoscalers(long_run).items():
        parsed = parsed_schedules(pa)
        weekly: dict[tuple[int, int], int] = {}
        for t, wanted in planned_minutes(plan, name):
            slot = local_clock(plan, t)
            folded += slot in weekly and weekly[slot] != wanted
            weekly[slot] = max(weekly.get(slot, -1), wanted)
        monday = datetime(2025, 1, 20, tzinfo=ZoneInfo(plan.fleet.planning.timezone))
        for (day, minute), wanted in weekly.items():
            moment = (monday + timedelta(days=day, minutes=minute)).astimezone(UTC)
            floor = floor_at(pa, parsed, moment)
            assert floor <= wanted if minute == 24 * 60 - 1 else floor == wanted, (name, day, minute)
    assert folded > 60  # demand grows day by day: the second week's days differ from the first's
