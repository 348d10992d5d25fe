"""Bad fleet files and plan inputs: one line naming file and field, exit 2, nothing written."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import FLEET_YAML

BAD_FLEETS = {
    "invalid_yaml": ("pools: [ {name: a", "invalid YAML"),
    "empty_file": ("", "file is empty"),
    "no_pools": (FLEET_YAML.split("pools:")[0] + "pools: []\n", "field 'pools'"),
    "min_above_max": (FLEET_YAML.replace("min: 1, max: 8", "min: 9, max: 8"), "pools[0].min"),
    "negative_price": (FLEET_YAML.replace("usd_per_hour: 3.0", "usd_per_hour: -3"), "pools[0].usd_per_hour"),
    "unknown_key": (FLEET_YAML.replace("tp: 1, min: 1", "tp: 1, mni: 1, min: 1"), "pools[0].mni"),
    "bad_timezone": (FLEET_YAML.replace("Europe/Berlin", "Mars/Olympus"), "planning.timezone"),
    "bad_window": (FLEET_YAML.replace("window: 1h", "window: 5m"), "planning.window"),
    "bad_duration": (FLEET_YAML.replace("horizon: 1d", "horizon: soon"), "planning.horizon"),
    "duplicate_pool": (FLEET_YAML.replace("name: a100-westus", "name: h100-eastus"), "duplicate pool"),
    "bad_name": (FLEET_YAML.replace("name: a100-westus", "name: A100_West"), "pools[1].name"),
    "quantile_out_of_range": (FLEET_YAML.replace("quantile: 0.9", "quantile: 1.5"), "planning.quantile"),
    "tp_not_integer": (FLEET_YAML.replace("tp: 1, min: 1", "tp: 1.5, min: 1"), "pools[0].tp"),
    "missing_demand_file": ("demand: nowhere.csv\n" + FLEET_YAML, "field 'demand'"),
}


def run_cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "preserve_cli", *args], capture_output=True, text=True, cwd=cwd)


@pytest.mark.parametrize("case", sorted(BAD_FLEETS))
def test_bad_fleet_is_one_line_exit_2_nothing_written(case, plan_inputs):
    text, expected = BAD_FLEETS[case]
    plan_inputs["fleet"].write_text(text)
    out = plan_inputs["dir"] / "out"
    result = run_cli("plan", str(plan_inputs["forecast"]), "--fleet", str(plan_inputs["fleet"]),
                     "--capacity", str(plan_inputs["capacity"]), "-o", str(out))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert str(plan_inputs["fleet"]) in lines[0] and expected in lines[0]
    assert "fix:" in lines[0]
    assert not out.exists()
    assert result.stdout == ""


def test_bad_capacity_file_names_the_field(plan_inputs):
    plan_inputs["capacity"].write_text(plan_inputs["capacity"].read_text().replace("decode_tokens_per_s: 4000", "decode_tokens_per_s: -1"))
    result = run_cli("plan", str(plan_inputs["forecast"]), "--fleet", str(plan_inputs["fleet"]),
                     "--capacity", str(plan_inputs["capacity"]), "-o", str(plan_inputs["dir"] / "out"))
    assert result.returncode == 2
    assert "capacities[0].decode_tokens_per_s" in result.stderr
    assert not (plan_inputs["dir"] / "out").exists()


def test_truncated_forecast_names_the_line(plan_inputs):
    lines = plan_inputs["forecast"].read_text().splitlines()
    plan_inputs["forecast"].write_text("\n".join(lines[:10]) + "\n" + lines[10][:15] + "\n")
    result = run_cli("plan", str(plan_inputs["forecast"]), "--fleet", str(plan_inputs["fleet"]),
                     "--capacity", str(plan_inputs["capacity"]), "-o", str(plan_inputs["dir"] / "out"))
    assert result.returncode == 2
    assert f"{plan_inputs['forecast']}:11" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_fleet_file(plan_inputs):
    result = run_cli("plan", str(plan_inputs["forecast"]), "--fleet", str(plan_inputs["dir"] / "nope.yaml"))
    assert result.returncode == 2 and "nope.yaml" in result.stderr and "not found" in result.stderr
