"""Emitted files: valid against upstream schemas, one YAML document each, deterministic,
and a KEDA cron schedule that, evaluated the way KEDA does, gives the planned replicas."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import jsonschema
import numpy as np
import pytest
import yaml

from preserve_cli.emit.common import integer_weights
from preserve_cli.emit.registry import available_emitters, load_emitter
from preserve_cli.errors import InputError
from preserve_cli.plan.pipeline import run_plan, write_outputs
from preserve_cli.timeutil import to_datetime
from tests.conftest import SHARED, daily_forecast


def crd_schema(name: str) -> dict:
    document = yaml.safe_load((SHARED / "schemas" / name).read_text())
    return document["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


@pytest.fixture
def plan_run(plan_inputs):
    forecast = daily_forecast(plan_inputs["dir"] / "f.csv", req_per_s=60)
    return run_plan([str(forecast)], fleet_path=str(plan_inputs["fleet"]),
                    capacity_path=str(plan_inputs["capacity"]), emit=["schedule", "routing", "keda"])


def test_builtin_emitters_are_registered_through_entry_points():
    names = [info.name for info in available_emitters()]
    assert {"schedule", "routing", "keda"} <= set(names)
    assert names == sorted(names)


def test_unknown_emitter_is_an_input_error():
    with pytest.raises(InputError, match="unknown emitter 'nope'"):
        load_emitter("nope")


def test_keda_scaledobjects_validate_against_upstream_crd(plan_run):
    schema = crd_schema("keda.sh_scaledobjects.yaml")
    documents = list(yaml.safe_load_all(plan_run.files["keda-scaledobjects.yaml"]))
    assert len(documents) == len(plan_run.plan.deployments)
    for document in documents:
        jsonschema.validate(document, schema)
        for trigger in document["spec"]["triggers"]:
            assert trigger["type"] == "cron"
            assert isinstance(trigger["metadata"]["desiredReplicas"], str)
            assert trigger["metadata"]["timezone"] == "Europe/Berlin"


def _next_weekly(expr: str, after: datetime, tz: ZoneInfo) -> datetime:
    minute, hour, _, _, weekday = expr.split()
    local = after.astimezone(tz)
    days_ahead = (int(weekday) - (local.weekday() + 1) % 7) % 7
    candidate = (local + timedelta(days=days_ahead)).replace(hour=int(hour), minute=int(minute), second=0)
    if candidate <= local:
        candidate += timedelta(days=7)
    return candidate


def keda_replicas(scaled_object: dict, now: datetime) -> int:
    """KEDA's cron scaler: a trigger is active when its next end comes before its next start."""
    desired = scaled_object["spec"]["minReplicaCount"]
    for trigger in scaled_object["spec"]["triggers"]:
        meta = trigger["metadata"]
        tz = ZoneInfo(meta["timezone"])
        if _next_weekly(meta["end"], now, tz) < _next_weekly(meta["start"], now, tz):
            desired = max(desired, int(meta["desiredReplicas"]))
    return desired


def test_keda_cron_schedule_reproduces_the_plan(plan_run):
    plan = plan_run.plan
    objects = {doc["spec"]["scaleTargetRef"]["name"]: doc
               for doc in yaml.safe_load_all(plan_run.files["keda-scaledobjects.yaml"])}
    for deployment in plan.deployments:
        lead = timedelta(minutes=-(-deployment.pool.cold_start_s // 60))
        for k, start in enumerate(plan.starts):
            begin = to_datetime(start)
            wanted = int(plan.replicas[deployment.name][k])
            assert keda_replicas(objects[deployment.name], begin + timedelta(minutes=30)) == wanted
            if k and wanted > plan.replicas[deployment.name][k - 1]:
                # Already scaled up one cold start before the window begins.
                assert keda_replicas(objects[deployment.name], begin - lead + timedelta(seconds=30)) == wanted


def test_schedule_and_routing_are_single_documents(plan_run):
    schedule = yaml.safe_load(plan_run.files["schedule.yaml"])
    assert schedule["schema"] == "preserve.dev/schedule/v1"
    assert set(schedule["deployments"]) == {d.name for d in plan_run.plan.deployments}
    assert len(schedule["windows"]) == 24
    routing = yaml.safe_load(plan_run.files["routing.yaml"])
    for span in routing["models"]["llama-3-8b"]["windows"]:
        assert sum(span["weights"].values()) == 1000
    with pytest.raises(yaml.YAMLError):  # more than one document would make yamldecode fail too
        yaml.safe_load(plan_run.files["keda-scaledobjects.yaml"])


def test_two_runs_give_byte_identical_files(plan_inputs, tmp_path):
    outputs = []
    for name in ("a", "b"):
        run = run_plan([str(plan_inputs["forecast"])], fleet_path=str(plan_inputs["fleet"]),
                       capacity_path=str(plan_inputs["capacity"]))
        write_outputs(run.files, tmp_path / name)
        outputs.append({p.name: p.read_bytes() for p in sorted((tmp_path / name).iterdir())})
    assert outputs[0] == outputs[1]
    assert set(outputs[0]) == {"schedule.yaml", "routing.yaml", "keda-scaledobjects.yaml"}


@pytest.mark.parametrize("shares,expected", [
    ({"a": 0.5, "b": 0.5}, {"a": 500, "b": 500}),
    ({"a": 1 / 3, "b": 1 / 3, "c": 1 / 3}, {"a": 334, "b": 333, "c": 333}),
    ({"a": 0.0, "b": 0.0}, {"a": 0, "b": 0}),
])
def test_integer_weights_sum_exactly(shares, expected):
    assert integer_weights(shares) == expected


def test_write_outputs_leaves_nothing_when_target_is_a_file(tmp_path):
    target = tmp_path / "plan"
    target.write_text("not a directory")
    with pytest.raises(InputError, match="not a directory"):
        write_outputs({"x.yaml": "a: 1\n"}, target)
    assert target.read_text() == "not a directory"
    assert np.array_equal(sorted(p.name for p in tmp_path.iterdir()), ["plan"])
