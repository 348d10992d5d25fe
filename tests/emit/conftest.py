"""Plans the emitter tests share, each rendered once with every built-in emitter.

* `single_run`: the shared fixture fleet (one model, two pools, Europe/Berlin, one day).
* `multi_run`: two models, one pool serving both, a GPU cap, America/New_York, two days.
* `long_run`: the single fleet over nine days of demand growing 10% a day (longer than a week:
  AIBrix folds it onto one week).
* `dst_run`: the single fleet over the day Europe/Berlin moves its clocks forward.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from preserve_cli.forecast.schema import Forecast, SeriesForecast, write_forecast
from preserve_cli.plan.pipeline import PlanRun, run_plan
from tests.conftest import CAPACITY_YAML, FLEET_YAML, daily_forecast

ALL_EMITTERS = ["schedule", "routing", "keda", "aibrix", "hpa", "gateway", "karpenter", "terraform"]

MULTI_FLEET_YAML = """\
slo: {ttft_p99_s: 2.0, tpot_p99_ms: 100}
models:
  chat: {config: llama-3-8b, series: [chat]}
  code: {config: llama-3-8b, series: [code]}
pools:
  - {name: h100-eastus, gpu: h100-80gb, region: eastus, tp: 2, min: 1, max: 12, usd_per_hour: 3.0, cold_start_s: 300}
  - {name: a100-westus, gpu: a100-80gb, region: westus, tp: 1, min: 0, max: 6, usd_per_hour: 1.3, cold_start_s: 150,
     models: [chat]}
gpu_limits:
  - {gpu: h100-80gb, region: eastus, max_gpus: GPU_CAP}
planning: {window: 1h, horizon: 2d, quantile: 0.9, headroom: 0.1, max_step_change: 0.5, timezone: America/New_York}
kubernetes: {namespace: llm}
"""

MULTI_CAPACITY_YAML = """\
capacities:
  - {gpu: h100-80gb, model: llama-3-8b, tp: 2, prefill_tokens_per_s: 36000, decode_tokens_per_s: 7000, kv_tokens: 900000, max_batch: 256}
  - {gpu: a100-80gb, model: llama-3-8b, tp: 1, prefill_tokens_per_s: 8000, decode_tokens_per_s: 1600, kv_tokens: 400000, max_batch: 128}
"""

# The h100 GPUs both models could reach at their own peaks exceed this cap, so the
# Karpenter limit must be clamped to it (the planner keeps every window under it).
MULTI_GPU_CAP = 13


def sine_forecast(path: Path, series: dict[str, tuple[float, int]], *, days: int,
                  start: str = "2025-01-20T05:00:00", growth_per_day: float = 0.0) -> Path:
    """Daily sine shapes: series key -> (mean requests/s, hours its peak is shifted by); the
    level grows by `growth_per_day` each day (so a week later is never the same)."""
    hours = 24 * days
    starts = (np.datetime64(start) + np.arange(hours) * np.timedelta64(3600, "s")).astype("datetime64[s]")
    growth = 1 + growth_per_day * (np.arange(hours) // 24)
    forecasts = []
    for key, (req_per_s, shift) in series.items():
        shape = (1 + 0.8 * np.sin((np.arange(hours) - shift) / 24 * 2 * np.pi)) * growth
        for metric, tokens in (("requests", 1), ("prefill_tokens", 500), ("decode_tokens", 150)):
            p50 = shape * 3600 * req_per_s * tokens
            forecasts.append(SeriesForecast(key, metric, "test", 3600, starts, {0.5: p50, 0.9: p50 * 1.2}))
    write_forecast(Forecast(3600, forecasts), path)
    return path


def _run(directory: Path, fleet_yaml: str, capacity_yaml: str, forecast: Path, horizon_s: int | None = None) -> PlanRun:
    fleet = directory / "fleet.yaml"
    fleet.write_text(fleet_yaml)
    capacity = directory / "capacity.yaml"
    capacity.write_text(capacity_yaml)
    return run_plan([str(forecast)], fleet_path=str(fleet), capacity_path=str(capacity), horizon_s=horizon_s,
                    emit=ALL_EMITTERS)


@pytest.fixture(scope="session")
def single_run(tmp_path_factory) -> PlanRun:
    base = tmp_path_factory.mktemp("single")
    return _run(base, FLEET_YAML, CAPACITY_YAML, daily_forecast(base / "f.csv", req_per_s=60))


@pytest.fixture(scope="session")
def multi_run(tmp_path_factory) -> PlanRun:
    base = tmp_path_factory.mktemp("multi")
    fleet = MULTI_FLEET_YAML.replace("GPU_CAP", str(MULTI_GPU_CAP))
    # The second model peaks six hours after the first.
    forecast = sine_forecast(base / "f.csv", {"chat": (45.0, 0), "code": (45.0, 6)}, days=2)
    return _run(base, fleet, MULTI_CAPACITY_YAML, forecast)


@pytest.fixture(scope="session")
def long_run(tmp_path_factory) -> PlanRun:
    base = tmp_path_factory.mktemp("long")
    forecast = sine_forecast(base / "f.csv", {"all": (25.0, 0)}, days=9, start="2025-01-20T00:00:00",
                             growth_per_day=0.1)
    # Cheapest-first planner: what is tested here is the weekly fold, and the integer program
    # over 216 windows would spend its whole time limit.
    fleet = FLEET_YAML.replace("timezone: Europe/Berlin}", "timezone: Europe/Berlin, planner: greedy}")
    assert fleet != FLEET_YAML
    return _run(base, fleet, CAPACITY_YAML, forecast, horizon_s=9 * 86400)


@pytest.fixture(scope="session")
def dst_run(tmp_path_factory) -> PlanRun:
    base = tmp_path_factory.mktemp("dst")
    # Europe/Berlin: 2025-03-30 02:00 local (01:00 UTC) jumps to 03:00.
    forecast = daily_forecast(base / "f.csv", req_per_s=60, start="2025-03-29T12:00:00")
    return _run(base, FLEET_YAML, CAPACITY_YAML, forecast)


@pytest.fixture(scope="session", params=["single", "multi"])
def any_run(request) -> PlanRun:
    return request.getfixturevalue(f"{request.param}_run")
