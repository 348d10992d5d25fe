"""Scalers: static, reactive (HPA rules), PreServe, SageServe LT-U and plan replay."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from preserve_cli.errors import InputError
from preserve_cli.plan.fleet import read_fleet
from preserve_cli.simulate.api import SimulationOptions, simulate_fleet
from preserve_cli.simulate.scalers.context import (
    instances_needed,
    pool_capacity,
    window_forecast,
)
from preserve_cli.simulate.workload import make_workload

FLEET = """\
slo: {ttft_p99_s: 2.0, tpot_p99_ms: 100}
models:
  llama-2-7b: {config: llama-2-7b}
pools:
  - {name: a100, gpu: a100-80gb, region: eastus, tp: 1, min: 1, max: 16, usd_per_hour: 1.5, cold_start_s: 60}
  - {name: h100, gpu: h100-80gb, region: eastus, tp: 1, min: 0, max: 16, usd_per_hour: 3.0, cold_start_s: 30}
"""


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    path = tmp_path_factory.mktemp("fleet") / "fleet.yaml"
    path.write_text(FLEET)
    return read_fleet(path)


def test_static_bills_every_instance_for_the_whole_run(fleet, conv_10min):
    run = simulate_fleet(conv_10min, fleet, SimulationOptions(scaler="static", instances=3))
    m = run.metrics
    assert m["mean_instances"] == pytest.approx(3.0)
    assert m["gpu_hours"] == pytest.approx(3 * m["simulated_s"] / 3600)
    assert m["cost_usd"] == pytest.approx(m["gpu_hours"] * 1.5)
    assert m["scaling_actions"] == 0
    assert sum(row["arrivals"] for row in run.timeline) == len(conv_10min)


def test_reactive_scales_out_under_load_and_in_only_after_its_stabilisation_window(fleet, conv_10min):
    busy = simulate_fleet(conv_10min, fleet, SimulationOptions(scaler="reactive", instances=1)).result
    assert any(a.change > 0 for a in busy.actions[1:])
    idle = simulate_fleet(conv_10min, fleet, SimulationOptions(scaler="reactive", instances=12)).result
    removals = [a for a in idle.actions if a.change < 0]
    assert removals and removals[0].time_s >= 300  # HPA's 5-minute scale-down stabilisation


def test_preserve_scaler_starts_with_the_tier1_count_and_beats_static_on_gpu_hours(fleet, azure_conv):
    options = SimulationOptions(scaler="preserve", router="preserve", window_s=600.0, capacity="profile")
    run = simulate_fleet(azure_conv, fleet, options)
    pool = run.result.pools["a100"]
    forecast = window_forecast(azure_conv, 600.0, "oracle")
    capacity = pool_capacity(pool, azure_conv, fleet.slo)
    first = max(instances_needed(capacity, *forecast.at(k), 600.0) for k in (0, 1))
    assert run.result.actions[0].change == first
    static = simulate_fleet(azure_conv, fleet, SimulationOptions(scaler="static", instances=8))
    assert run.metrics["gpu_hours"] < static.metrics["gpu_hours"]


def test_lt_u_adds_an_instance_in_an_emergency_without_budget(fleet):
    # Steady light load for an hour's plan, then a burst: the hourly budget is 0, KV use passes 0.9.
    n_light, n_burst = 200, 3000
    arrival = np.concatenate([np.linspace(0, 600, n_light), 600 + np.linspace(0, 30, n_burst)])
    workload = make_workload(arrival + 1.7e9, np.full(arrival.size, 2000), np.full(arrival.size, 600),
                             source="burst")
    run = simulate_fleet(workload, fleet, SimulationOptions(scaler="lt-u", forecast="last", window_s=600.0,
                                                            capacity="profile"))
    added = [a for a in run.result.actions[1:] if a.change > 0]
    assert added and all(a.reason.startswith("KV use") for a in added)
    times = [a.time_s for a in added]
    assert all(b - a >= 60 for a, b in itertools.pairwise(times))  # cooldown = the pool's cold start


SCHEDULE = """\
schema: preserve.dev/schedule/v1
window_s: 300
deployments:
  a100: {pool: a100, model: llama-2-7b, gpu: a100-80gb, tp: 1}
  h100: {pool: h100, model: llama-2-7b, gpu: h100-80gb, tp: 1}
windows:
- {start: '2030-01-01T00:00:00Z', end: '2030-01-01T00:05:00Z', replicas: {a100: 2, h100: 0}}
- {start: '2030-01-01T00:05:00Z', end: '2030-01-01T00:10:00Z', replicas: {a100: 4, h100: 1}}
"""


def test_plan_replay_follows_the_schedule_with_cold_start_lead(fleet, conv_10min, tmp_path):
    schedule = tmp_path / "schedule.yaml"
    schedule.write_text(SCHEDULE)
    with pytest.raises(InputError, match="--align start"):
        simulate_fleet(conv_10min, fleet, SimulationOptions(scaler="plan", plan=str(schedule)))
    run = simulate_fleet(conv_10min, fleet, SimulationOptions(scaler="plan", plan=str(schedule), align="start"))
    launches = {(a.pool, a.change, a.time_s) for a in run.result.actions}
    assert ("a100", 2, 0.0) in launches
    # Ready when window 2 starts at 300 s: launched one cold start ahead (a100 60 s, h100 30 s).
    assert ("a100", 2, 240.0) in launches and ("h100", 1, 270.0) in launches
    assert run.timeline[0]["mean_instances"] == pytest.approx(2 + (2 * 60 + 30) / 300)
    assert run.timeline[1]["mean_instances"] == pytest.approx(5, abs=0.05)


def test_unknown_scaler_and_missing_plan_are_input_errors(fleet, conv_10min):
    with pytest.raises(InputError, match="static, reactive, preserve, lt-u, plan"):
        simulate_fleet(conv_10min, fleet, SimulationOptions(scaler="hpa"))
    with pytest.raises(InputError, match="--plan"):
        simulate_fleet(conv_10min, fleet, SimulationOptions(scaler="plan"))


def test_measured_capacity_is_preserve_algorithm_1_on_the_trace(fleet, conv_10min):
    from preserve_cli.simulate.scalers.calibration import CLEAN_ATTAINMENT

    measured = simulate_fleet(conv_10min, fleet, SimulationOptions(scaler="preserve", capacity="measured",
                                                                   window_s=300.0))
    capacity = measured.metrics["instance_capacity"]
    assert capacity["source"].startswith("measured")
    # Calibrated on the windows that met the SLO, the scaler keeps the trace's windows within it.
    assert measured.metrics["slo_attainment"] >= CLEAN_ATTAINMENT
    profile = simulate_fleet(conv_10min, fleet, SimulationOptions(scaler="preserve", window_s=300.0,
                                                                  capacity="profile"))
    assert profile.metrics["instance_capacity"]["source"].startswith("onnx")
    with pytest.raises(InputError, match="--capacity"):
        simulate_fleet(conv_10min, fleet, SimulationOptions(scaler="preserve", capacity="guess"))


def test_a_length_predictor_object_feeds_the_preserve_router(fleet, conv_10min):
    class Constant:
        name = "constant-100"

        def __init__(self):
            self.seen = 0

        def predict_output_tokens(self, batch):
            self.seen = len(batch)
            return np.full(len(batch), 100.0)

    predictor = Constant()
    run = simulate_fleet(conv_10min, fleet, SimulationOptions(router="preserve", lengths=predictor, instances=2))
    assert predictor.seen == len(conv_10min)
    assert run.metrics["lengths"] == "predictor:constant-100"
    assert set(run.result.requests.predicted) == {100.0}


def test_tier1_forecasts_oracle_and_persistence():
    arrival = np.repeat(np.arange(6) * 600.0, [1, 2, 3, 4, 5, 6]) + 1.0
    workload = make_workload(arrival + 1.7e9, np.full(arrival.size, 100), np.full(arrival.size, 10), source="unit")
    oracle, last = window_forecast(workload, 600.0, "oracle"), window_forecast(workload, 600.0, "last")
    assert oracle.at(3) == (400.0, 40.0)          # window 3 holds 4 requests
    # Known when window 2 starts: window 1 is the last complete one.
    assert last.at(3) == (200.0, 20.0)
    with pytest.raises(InputError, match="--forecast"):
        window_forecast(workload, 600.0, "prophet")


def test_compare_calibrates_once_for_all_its_runs(fleet, conv_10min, monkeypatch):
    from preserve_cli.simulate import api
    from preserve_cli.simulate.scalers import calibration

    calls = []
    real = calibration.measured_capacity
    monkeypatch.setattr(calibration, "measured_capacity", lambda *a, **k: calls.append(1) or real(*a, **k))
    runs = api.compare(conv_10min, fleet, [("preserve", "least-requests"), ("lt-u", "preserve")],
                       SimulationOptions(capacity="measured", window_s=300.0))
    assert len(calls) == 1
    assert runs[0].metrics["instance_capacity"] == runs[1].metrics["instance_capacity"]
