"""What-if flags on `preserve plan`: each changes the plan in the right direction, by the right amount."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from preserve_cli.cli.app import app
from preserve_cli.errors import InputError
from preserve_cli.plan.pipeline import run_plan
from preserve_cli.plan.whatif import parse_whatif
from preserve_cli.profile.catalog import get_gpu, resolve_model
from preserve_cli.profile.predicted import predicted_capacity
from preserve_cli.profile.slo import Slo


def _one_pool(inputs) -> None:
    """H100 pool only, no step limit: replicas = ceil(P/mu_p + D/mu_d) with headroom (tests/plan/test_planner.py)."""
    fleet = inputs["fleet"]
    fleet.write_text(fleet.read_text().replace("max_step_change: 0.5", "max_step_change: 0")
                     .replace("  - {name: a100-westus", "  # - {name: a100-westus"))


def _run(inputs, *, capacity: bool = True, **flags):
    return run_plan([str(inputs["forecast"])], fleet_path=str(inputs["fleet"]),
                    capacity_path=str(inputs["capacity"]) if capacity else None, emit=["schedule"],
                    whatif=parse_whatif(**flags) if flags else None, compare=bool(flags))


def _expected_replicas(plan, prefill_per_s: float, decode_per_s: float, floor: int = 1) -> list[int]:
    demand = plan.demand["llama-3-8b"]
    need = demand.prefill_tokens / 3600 * 1.1 / prefill_per_s + demand.decode_tokens / 3600 * 1.1 / decode_per_s
    return np.maximum(np.ceil(need - 1e-9), floor).astype(int).tolist()


def test_scale_demand_multiplies_planned_demand_and_replicas_follow(plan_inputs):
    _one_pool(plan_inputs)
    base = _run(plan_inputs).plan
    run = _run(plan_inputs, scale_demand=1.3)
    grown = run.plan
    for metric in ("prefill_tokens", "decode_tokens"):
        np.testing.assert_allclose(getattr(grown.demand["llama-3-8b"], metric),
                                   1.3 * getattr(base.demand["llama-3-8b"], metric))
    # capacity.yaml: H100 serves 20000 prefill and 4000 decode tokens/s.
    assert grown.replicas["h100-eastus"].tolist() == _expected_replicas(grown, 20000, 4000)
    assert (grown.replicas["h100-eastus"] >= base.replicas["h100-eastus"]).all()
    ratio = grown.gpu_hours("h100-eastus") / base.gpu_hours("h100-eastus")
    assert 1.15 < ratio < 1.45  # 30% more traffic, give or take the rounding up to whole replicas
    totals = run.comparison.to_dict()["totals"]["gpu_hours"]
    assert totals["base"] == pytest.approx(base.gpu_hours("h100-eastus"))
    assert totals["delta"] == pytest.approx(grown.gpu_hours("h100-eastus") - base.gpu_hours("h100-eastus"))
    assert any("demand ×1.3" in note for note in grown.notes)


def test_scale_demand_below_one_shrinks_the_plan(plan_inputs):
    _one_pool(plan_inputs)
    run = _run(plan_inputs, scale_demand=0.5)
    delta = run.comparison.to_dict()["totals"]
    assert delta["gpu_hours"]["delta"] < 0 and delta["cost_usd"]["delta"] < 0


def test_tighter_tpot_slo_lowers_decode_capacity_and_adds_replicas(plan_inputs):
    _one_pool(plan_inputs)
    base = _run(plan_inputs, capacity=False).plan
    tight = _run(plan_inputs, capacity=False, slo=["tpot_p99_ms=30"]).plan
    before, after = base.deployments[0].capacity, tight.deployments[0].capacity
    assert after.decode_tokens_per_s < before.decode_tokens_per_s
    # Size: exactly the capacity the profile model gives at the new SLO, and the replicas it implies.
    shape_capacity = predicted_capacity(get_gpu("h100-80gb"), resolve_model("llama-3-8b"), 1,
                                        Slo(ttft_p99_s=2.0, tpot_p99_ms=30), _workload(plan_inputs))
    assert after.decode_tokens_per_s == pytest.approx(shape_capacity.decode_tokens_per_s)
    assert tight.gpu_hours("h100-eastus") > base.gpu_hours("h100-eastus")
    assert tight.fleet.slo.tpot_p99_ms == 30 and base.fleet.slo.tpot_p99_ms == 100


def _workload(inputs):
    from preserve_cli.forecast.schema import read_forecast
    from preserve_cli.plan.planner import _workload as planner_workload

    return planner_workload(read_forecast(inputs["forecast"]), ["all"])


def test_pool_max_caps_the_pool_and_the_other_pool_takes_the_rest(plan_inputs):
    base = _run(plan_inputs).plan
    assert base.replicas["h100-eastus"].max() > 1 or base.replicas["a100-westus"].max() > 0
    capped = _run(plan_inputs, pools=["h100-eastus.max=1"]).plan
    assert capped.replicas["h100-eastus"].max() == 1
    assert capped.replicas["a100-westus"].sum() >= base.replicas["a100-westus"].sum()
    for k in range(len(capped.starts)):  # still covers the demand in every window
        assert capped.capacity_tokens(k, "decode_tokens") >= capped.demand["llama-3-8b"].decode_tokens[k] * 1.1 - 1e-6


def test_pool_price_changes_cost_by_exactly_the_price_ratio(plan_inputs):
    _one_pool(plan_inputs)
    run = _run(plan_inputs, pools=["h100-eastus.usd_per_hour=6"])
    row = run.comparison.deployments[0]
    assert row.replica_hours_after == row.replica_hours_before
    assert row.cost_after == pytest.approx(2 * row.cost_before)  # $3 -> $6 per GPU-hour


def test_gpu_swap_uses_the_new_gpus_capacity(plan_inputs):
    _one_pool(plan_inputs)
    fleet = plan_inputs["fleet"]
    fleet.write_text(fleet.read_text().replace("min: 1, max: 8", "min: 1, max: 40"))
    base = _run(plan_inputs, capacity=False).plan
    run = _run(plan_inputs, capacity=False, gpus=["h100-80gb=a100-80gb"])
    swapped = run.plan
    assert swapped.deployments[0].pool.gpu == "a100-80gb"
    expected = predicted_capacity(get_gpu("a100-80gb"), resolve_model("llama-3-8b"), 1, Slo(), _workload(plan_inputs))
    capacity = swapped.deployments[0].capacity
    assert capacity.decode_tokens_per_s == pytest.approx(expected.decode_tokens_per_s)
    assert capacity.decode_tokens_per_s < base.deployments[0].capacity.decode_tokens_per_s  # A100 is slower
    assert swapped.gpu_hours("h100-eastus") > base.gpu_hours("h100-eastus")
    assert any("runs a100-80gb instead of h100-80gb" in note for note in swapped.notes)


@pytest.mark.parametrize("flags, field", [
    ({"scale_demand": 0}, "--scale-demand"),
    ({"slo": ["latency=3"]}, "--slo"),
    ({"slo": ["tpot_p99_ms"]}, "--slo"),
    ({"pools": ["h100-eastus.colour=3"]}, "--pool"),
    ({"pools": ["h100-eastus.max=2.5"]}, "--pool"),
])
def test_bad_what_if_flags_name_the_flag(flags, field):
    with pytest.raises(InputError) as error:
        parse_whatif(**flags)
    assert error.value.field == field


@pytest.mark.parametrize("flags", [{"pools": ["nosuch.max=3"]}, {"pools": ["h100-eastus.min=9"]},
                                   {"gpus": ["b200=h200"]}, {"gpus": ["h100-80gb=nosuch"]}])
def test_what_if_against_the_fleet_is_checked(plan_inputs, flags):
    with pytest.raises(InputError):
        _run(plan_inputs, **flags)


def test_cli_what_if_writes_nothing_without_o_and_prints_the_delta(plan_inputs, monkeypatch):
    monkeypatch.chdir(plan_inputs["dir"])
    before = sorted(p.name for p in plan_inputs["dir"].iterdir())
    result = CliRunner().invoke(app, ["plan", str(plan_inputs["forecast"]), "-f", str(plan_inputs["fleet"]),
                                      "--capacity", str(plan_inputs["capacity"]), "--scale-demand", "2",
                                      "--compare", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["files"] == []
    assert document["compare"]["totals"]["gpu_hours"]["delta"] > 0
    assert sorted(p.name for p in plan_inputs["dir"].iterdir()) == before  # no plan/ written, fleet untouched
    human = CliRunner().invoke(app, ["plan", str(plan_inputs["forecast"]), "-f", str(plan_inputs["fleet"]),
                                     "--capacity", str(plan_inputs["capacity"]), "--pool", "nosuch.max=3"])
    assert human.exit_code == 2
    assert human.stderr.count("\n") == 1 and "--pool" in human.stderr and "nosuch" in human.stderr


def test_compare_when_only_the_what_if_is_feasible(plan_inputs):
    """Demand beyond both pools' max: the base plan fails, `--pool …max=` makes it feasible; the plan is kept."""
    _one_pool(plan_inputs)
    fleet = plan_inputs["fleet"]
    fleet.write_text(fleet.read_text().replace("min: 1, max: 8", "min: 1, max: 2"))
    with pytest.raises(InputError):
        _run(plan_inputs)
    run = _run(plan_inputs, pools=["h100-eastus.max=8"])
    assert run.comparison.base_problem and "more capacity than its pools can give" in run.comparison.base_problem
    assert run.plan.replicas["h100-eastus"].max() > 2
    assert run.comparison.to_dict()["totals"]["gpu_hours"]["base"] is None


def test_pool_min_raises_the_floor(plan_inputs):
    run = _run(plan_inputs, pools=["a100-westus.min=3"])
    assert run.plan.replicas["a100-westus"].min() == 3
    row = {d.name: d for d in run.comparison.deployments}["a100-westus"]
    assert row.replica_hours_after >= 3 * 24 and row.replica_hours_after > row.replica_hours_before
