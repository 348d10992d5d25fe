"""--previous: the diff against the plan in force, and the guard on big drops (exit 3)."""

from __future__ import annotations

import json
import subprocess
import sys

import yaml

from tests.conftest import daily_forecast


def preserve(*args, cwd):
    return subprocess.run([sys.executable, "-m", "preserve_cli", *args], capture_output=True, text=True, cwd=cwd)


def _plan(inputs, forecast, out, *extra):
    return preserve("plan", str(forecast), "--fleet", str(inputs["fleet"]), "--capacity", str(inputs["capacity"]),
                    "-o", str(out), *extra, cwd=inputs["dir"])


def test_guard_refuses_a_halved_fleet_and_writes_nothing(plan_inputs):
    base = plan_inputs["dir"]
    big = daily_forecast(base / "big.csv", req_per_s=60)
    small = daily_forecast(base / "small.csv", req_per_s=10)
    assert _plan(plan_inputs, big, base / "now").returncode == 0
    before = (base / "now" / "schedule.yaml").read_bytes()
    refused = _plan(plan_inputs, small, base / "now", "--previous", str(base / "now" / "schedule.yaml"))
    assert refused.returncode == 3, refused.stderr
    assert "refusing the new plan" in refused.stderr and "--force" in refused.stderr
    assert "Change against the plan in force" in refused.stderr  # the diff is shown before the refusal
    assert (base / "now" / "schedule.yaml").read_bytes() == before  # nothing written


def test_force_lets_the_change_through_and_reports_the_diff(plan_inputs):
    base = plan_inputs["dir"]
    big = daily_forecast(base / "big.csv", req_per_s=60)
    small = daily_forecast(base / "small.csv", req_per_s=10)
    assert _plan(plan_inputs, big, base / "now").returncode == 0
    forced = _plan(plan_inputs, small, base / "now", "--previous", str(base / "now" / "schedule.yaml"),
                   "--force", "--json")
    assert forced.returncode == 0, forced.stderr
    diff = json.loads(forced.stdout)["diff"]
    h100 = next(d for d in diff["deployments"] if d["name"] == "h100-eastus")
    assert h100["largest_drop_share"] > 0.5
    assert h100["gpu_hours_after"] < h100["gpu_hours_before"]
    assert diff["violations"]


def test_small_change_passes_the_guard(plan_inputs):
    base = plan_inputs["dir"]
    first = daily_forecast(base / "a.csv", req_per_s=60)
    second = daily_forecast(base / "b.csv", req_per_s=59)
    assert _plan(plan_inputs, first, base / "now").returncode == 0
    run = _plan(plan_inputs, second, base / "now", "--previous", str(base / "now" / "schedule.yaml"))
    assert run.returncode == 0, run.stderr
    assert "Change against the plan in force" in run.stdout


def test_previous_must_be_a_schedule(plan_inputs):
    bogus = plan_inputs["dir"] / "bogus.yaml"
    bogus.write_text(yaml.safe_dump({"schema": "something-else"}))
    run = _plan(plan_inputs, plan_inputs["forecast"], plan_inputs["dir"] / "out", "--previous", str(bogus))
    assert run.returncode == 2 and "schema" in run.stderr
