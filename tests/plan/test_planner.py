"""The planner: capacity covers planned demand, cheapest first, smoothing, cold start."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from preserve_cli.errors import InputError
from preserve_cli.plan.pipeline import run_plan
from preserve_cli.plan.smoothing import limit_step_change, schedule_segments
from tests.conftest import daily_forecast


def _run(inputs, **kwargs):
    return run_plan([str(inputs["forecast"])], fleet_path=str(inputs["fleet"]),
                    capacity_path=str(inputs["capacity"]), emit=["schedule"], **kwargs)


def test_capacity_covers_planned_demand_with_headroom(plan_inputs):
    plan = _run(plan_inputs).plan
    for k in range(len(plan.starts)):
        for metric in ("prefill_tokens", "decode_tokens"):
            demand = sum(getattr(m, metric)[k] for m in plan.demand.values())
            assert plan.capacity_tokens(k, metric) >= demand * 1.1 - 1e-6


def use_planner(inputs, planner: str) -> None:
    fleet = inputs["fleet"]
    fleet.write_text(fleet.read_text().replace("timezone: Europe/Berlin}", f"timezone: Europe/Berlin, planner: {planner}}}"))


@pytest.mark.parametrize("planner", ["milp", "greedy"])
def test_replicas_follow_the_formula_on_one_pool(plan_inputs, planner):
    """One pool, no smoothing: replicas = ceil(max(P/mu_p, D/mu_d, P/mu_p + D/mu_d) × (1 + headroom))."""
    use_planner(plan_inputs, planner)
    fleet = plan_inputs["fleet"]
    fleet.write_text(fleet.read_text().replace("max_step_change: 0.5", "max_step_change: 0")
                     .replace("  - {name: a100-westus", "  # - {name: a100-westus"))
    plan = _run(plan_inputs).plan
    p90_prefill = plan.demand["llama-3-8b"].prefill_tokens / 3600 * 1.1
    p90_decode = plan.demand["llama-3-8b"].decode_tokens / 3600 * 1.1
    # capacity.yaml gives no mixed rate, so prefill and decode time-share the GPU.
    expected = np.maximum(np.ceil(p90_prefill / 20000 + p90_decode / 4000 - 1e-9), 1)
    assert plan.replicas["h100-eastus"].tolist() == expected.astype(int).tolist()


@pytest.mark.parametrize("planner", ["milp", "greedy"])
def test_cheapest_capacity_is_filled_first(plan_inputs, planner):
    use_planner(plan_inputs, planner)
    # Make the A100 pool clearly cheaper per token: it should take the load above the H100 minimum.
    fleet = plan_inputs["fleet"]
    fleet.write_text(fleet.read_text().replace("usd_per_hour: 1.3", "usd_per_hour: 0.5"))
    plan = _run(plan_inputs).plan
    assert plan.replicas["a100-westus"].max() > 0
    assert plan.replicas["h100-eastus"].max() == 1  # only its min


@pytest.mark.parametrize("planner", ["milp", "greedy"])
def test_spills_to_next_pool_when_cheapest_is_full(plan_inputs, planner):
    use_planner(plan_inputs, planner)
    forecast = daily_forecast(plan_inputs["dir"] / "big.csv", req_per_s=60)
    plan = run_plan([str(forecast)], fleet_path=str(plan_inputs["fleet"]),
                    capacity_path=str(plan_inputs["capacity"]), emit=[]).plan
    peak = int(np.argmax(plan.demand["llama-3-8b"].decode_tokens))
    assert plan.replicas["h100-eastus"][peak] == 8
    assert plan.replicas["a100-westus"][peak] > 0
    # The integer program reports the full H100 pool; the greedy fill reports what the A100 spill needed.
    expected = {"pool max h100-eastus"} if planner == "milp" else {"prefill", "decode", "mixed"}
    assert plan.binding["llama-3-8b"][peak] in expected
    shares = plan.routing["llama-3-8b"][peak]
    assert shares["h100-eastus"] > shares["a100-westus"] > 0
    assert sum(shares.values()) == pytest.approx(1)


@pytest.mark.parametrize("planner", ["milp", "greedy"])
def test_impossible_fleet_names_window_model_and_limit(plan_inputs, planner):
    use_planner(plan_inputs, planner)
    forecast = daily_forecast(plan_inputs["dir"] / "huge.csv", req_per_s=500)
    with pytest.raises(InputError) as excinfo:
        run_plan([str(forecast)], fleet_path=str(plan_inputs["fleet"]), capacity_path=str(plan_inputs["capacity"]))
    message = excinfo.value.one_line()
    assert "2025-01-20T" in message and "llama-3-8b" in message and "max" in message
    assert str(plan_inputs["fleet"]) in message


def test_missing_quantile_column_is_reported(plan_inputs):
    fleet = plan_inputs["fleet"]
    fleet.write_text(fleet.read_text().replace("quantile: 0.9", "quantile: 0.95"))
    with pytest.raises(InputError, match="p95"):
        _run(plan_inputs)


def test_step_change_never_goes_below_requirement():
    required = np.array([1, 1, 1, 12, 12, 2, 1, 1, 6, 1])
    smoothed = limit_step_change(required, 0.5, maximum=16)
    assert (smoothed >= required).all()
    for a, b in zip(smoothed, smoothed[1:]):
        assert abs(int(b) - int(a)) <= max(1, int(0.5 * a))


def test_step_change_respects_pool_max():
    smoothed = limit_step_change(np.array([1, 1, 8]), 0.5, maximum=8)
    assert smoothed.max() <= 8 and smoothed[-1] == 8


def test_scale_up_starts_cold_start_before_the_window():
    starts = np.datetime64("2025-01-01T00:00:00") + np.arange(3) * np.timedelta64(3600, "s")
    segments = schedule_segments(starts.astype("datetime64[s]"), 3600, np.array([2, 5, 3]), cold_start_s=130)
    # 130 s rounds up to a 3-minute lead; scale-down waits for the window's end.
    assert [(s.start.strftime("%H:%M"), s.end.strftime("%H:%M"), s.replicas) for s in segments] == [
        ("23:57", "00:57", 2), ("00:57", "02:00", 5), ("02:00", "03:00", 3)]
    assert segments[0].end - segments[0].start == timedelta(minutes=60)


def test_packaged_default_fleet_is_the_documented_example():
    from preserve_cli.plan.pipeline import default_fleet_path
    from tests.conftest import REPO

    assert default_fleet_path().read_bytes() == (REPO / "examples" / "fleet.yaml").read_bytes()
