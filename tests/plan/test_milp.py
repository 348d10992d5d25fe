"""The integer program: covers every model's demand within pool bounds, GPU limits and residency."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from preserve_cli.errors import InputError
from preserve_cli.forecast.schema import Forecast, SeriesForecast
from preserve_cli.plan.fleet import read_fleet
from preserve_cli.plan.planner import make_plan
from preserve_cli.profile.schema import InstanceCapacity

FLEET = """\
models:
  chat: {config: llama-3-8b}
  code: {config: llama-3-8b, regions: [eu]}
gpu_limits:
  - {gpu: h100-80gb, region: us, max_gpus: 6}
  - {gpu: h100-80gb, region: eu, max_gpus: 10}
pools:
  - {name: h100-us, gpu: h100-80gb, region: us, tp: 1, min: 1, max: 20, usd_per_hour: 3.0, cold_start_s: 120}
  - {name: h100-eu, gpu: h100-80gb, region: eu, tp: 1, min: 0, max: 20, usd_per_hour: 3.5, cold_start_s: 120}
  - {name: a100-us, gpu: a100-80gb, region: us, tp: 1, min: 0, max: 8, usd_per_hour: 1.3, cold_start_s: 120,
     models: [chat]}
planning: {window: 1h, horizon: 1d, quantile: 0.9, headroom: 0.1, max_step_change: 0.5}
"""
CAPACITY = {"h100-80gb": (20000, 4000), "a100-80gb": (8000, 1600)}


def capacity_of(gpu, model, tp, workload):
    prefill, decode = CAPACITY[gpu]
    return InstanceCapacity(gpu=gpu, model=model.name, tp=tp, prefill_tokens_per_s=prefill,
                            decode_tokens_per_s=decode, mixed_tokens_per_s=None, kv_tokens=100000, max_batch=64)


def forecast(scale: dict[str, float], hours: int = 24) -> Forecast:
    starts = (np.datetime64("2025-01-20T00:00:00") + np.arange(hours) * np.timedelta64(3600, "s")).astype("datetime64[s]")
    shape = 1 + np.sin(np.arange(hours) / 24 * 2 * np.pi)
    series = []
    for key, req_per_s in scale.items():
        for metric, tokens in (("requests", 1), ("prefill_tokens", 500), ("decode_tokens", 150)):
            p50 = shape * 3600 * req_per_s * tokens
            series.append(SeriesForecast(key, metric, "test", 3600, starts, {0.5: p50, 0.9: p50 * 1.2}))
    return Forecast(3600, series)


@pytest.fixture
def fleet(tmp_path):
    path = tmp_path / "fleet.yaml"
    path.write_text(FLEET)
    return read_fleet(path)


def test_every_model_covered_within_limits_and_residency(fleet):
    plan = make_plan(forecast({"chat": 40, "code": 20}), fleet, capacity_of)
    assert plan.solver["planner"] == "milp" and plan.solver["mip_gap"] <= 0.01
    names = {d.name for d in plan.deployments}
    assert "h100-us-code" not in names  # code may only run in the EU
    assert {"h100-us-chat", "h100-eu-chat", "h100-eu-code", "a100-us"} == names
    for k in range(len(plan.starts)):
        for model in ("chat", "code"):
            serving = [d for d in plan.deployments if d.model == model]
            p = plan.demand[model].prefill_tokens[k] * 1.1 / 3600
            dd = plan.demand[model].decode_tokens[k] * 1.1 / 3600
            if p + dd == 0:
                continue
            fraction = sum(int(plan.replicas[d.name][k]) / max(p / d.capacity.prefill_tokens_per_s
                                                              + dd / d.capacity.decode_tokens_per_s, 1e-12)
                           for d in serving)
            assert fraction >= 1 - 1e-6
            assert sum(plan.routing[model][k].values()) == pytest.approx(1)
        us_gpus = sum(int(plan.replicas[d.name][k]) for d in plan.deployments if d.pool.name == "h100-us")
        eu_gpus = sum(int(plan.replicas[d.name][k]) for d in plan.deployments if d.pool.name == "h100-eu")
        assert us_gpus <= 6 and eu_gpus <= 10
        assert us_gpus >= 1  # pool min, shared by the models of the pool
        assert plan.replicas["a100-us"][k] <= 8


def test_no_worse_than_cheapest_first(fleet):
    plan = make_plan(forecast({"chat": 40, "code": 20}), fleet, capacity_of)
    baseline = plan.solver["cheapest_first_cost_usd"]
    cost = sum(plan.cost_usd(d.name) for d in plan.deployments)
    if isinstance(baseline, float):
        assert cost <= baseline + 1e-6


def test_gpu_limit_that_cannot_hold_the_peak_names_window_model_and_limit(fleet):
    tight = dataclasses.replace(fleet, gpu_limits=tuple(dataclasses.replace(g, max_gpus=2) for g in fleet.gpu_limits))
    with pytest.raises(InputError) as excinfo:
        make_plan(forecast({"chat": 10, "code": 30}), tight, capacity_of)
    message = excinfo.value.one_line()
    assert "model 'code'" in message and "2025-01-20T" in message and "h100-80gb@eu max_gpus 2" in message


def test_step_change_limit_holds(fleet):
    plan = make_plan(forecast({"chat": 60, "code": 5}), fleet, capacity_of)
    for d in plan.deployments:
        r = plan.replicas[d.name]
        for before, after in zip(r, r[1:]):
            assert after <= 1.5 * before + 1 + 1e-9 and after >= 0.5 * before - 1 - 1e-9


def test_binding_names_the_gpu_limit_when_it_binds(fleet):
    plan = make_plan(forecast({"chat": 5, "code": 60}), fleet, capacity_of)
    peak = int(np.argmax(plan.demand["code"].decode_tokens))
    assert plan.binding["code"][peak] in {"gpu limit h100-80gb@eu", "pool max h100-eu"}
