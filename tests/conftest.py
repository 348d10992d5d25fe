"""Shared fixtures: paths to ../shared, and a small forecast + fleet + capacity trio."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

FLEET_YAML = """\
slo: {ttft_p99_s: 2.0, tpot_p99_ms: 100}
models:
  llama-3-8b: {config: llama-3-8b, series: [all]}
pools:
  - {name: h100-eastus, gpu: h100-80gb, region: eastus, tp: 1, min: 1, max: 8, usd_per_hour: 3.0, cold_start_s: 120}
  - {name: a100-westus, gpu: a100-80gb, region: westus, tp: 1, min: 0, max: 8, usd_per_hour: 1.3, cold_start_s: 150}
planning: {window: 1h, horizon: 1d, quantile: 0.9, headroom: 0.1, max_step_change: 0.5, timezone: Europe/Berlin}
"""

CAPACITY_YAML = """\
capacities:
  - {gpu: h100-80gb, model: llama-3-8b, tp: 1, prefill_tokens_per_s: 20000, decode_tokens_per_s: 4000, kv_tokens: 400000, max_batch: 256}
  - {gpu: a100-80gb, model: llama-3-8b, tp: 1, prefill_tokens_per_s: 8000, decode_tokens_per_s: 1600, kv_tokens: 400000, max_batch: 128}
"""


def daily_forecast(path: Path, *, req_per_s: float = 20.0, days: int = 1, start: str = "2025-01-20T00:00:00") -> Path:
    """A forecast with a daily sine shape: p90 = 1.2 × p50."""
    from preserve_cli.forecast.schema import Forecast, SeriesForecast, write_forecast

    hours = 24 * days
    starts = np.datetime64(start) + np.arange(hours) * np.timedelta64(3600, "s")
    shape = 1 + np.sin(np.arange(hours) / 24 * 2 * np.pi)
    series = []
    for metric, tokens in (("requests", 1), ("prefill_tokens", 500), ("decode_tokens", 150)):
        p50 = shape * 3600 * req_per_s * tokens
        series.append(SeriesForecast("all", metric, "test", 3600, starts.astype("datetime64[s]"), {0.5: p50, 0.9: p50 * 1.2}))
    write_forecast(Forecast(3600, series), path)
    return path


@pytest.fixture
def plan_inputs(tmp_path: Path) -> dict[str, Path]:
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(FLEET_YAML)
    capacity = tmp_path / "capacity.yaml"
    capacity.write_text(CAPACITY_YAML)
    forecast = daily_forecast(tmp_path / "forecast.csv")
    return {"fleet": fleet, "capacity": capacity, "forecast": forecast, "dir": tmp_path}
