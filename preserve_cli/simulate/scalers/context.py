"""What the forecast-driven scalers share: per-instance capacity and per-window token forecasts.

Tier-1 forecasts here come from the replayed workload itself, on the simulated clock:
* `oracle`: each window's true prefill and decode tokens (a perfect forecaster: an upper bound
  on what a forecaster gives; PreServe's mLSTM had 4-8% mean APE on Azure 2024, Table 1);
* `last`: the last complete window's tokens, carried forward (a naive persistence forecaster,
  what a system without tier 1 would guess).
`preserve simulate --scaler plan` replays a real forecast's plan instead (plan_replay.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from preserve_cli.errors import InputError
from preserve_cli.profile.schema import InstanceCapacity
from preserve_cli.simulate.engine import SimPool
from preserve_cli.simulate.workload import Workload

FORECASTS = ("oracle", "last")


@dataclass(frozen=True)
class WindowForecast:
    window_s: float
    prefill_tokens: np.ndarray    # per window of the simulated clock
    decode_tokens: np.ndarray
    mode: str

    def at(self, index: int) -> tuple[float, float]:
        """Forecast for window `index`, as known when window `index - 1` starts."""
        n = len(self.prefill_tokens)
        if self.mode == "oracle":
            k = min(max(index, 0), n - 1)
        else:
            k = min(max(index - 2, 0), n - 1)   # the last window complete at the start of index - 1
        return float(self.prefill_tokens[k]), float(self.decode_tokens[k])


def window_forecast(workload: Workload, window_s: float, mode: str) -> WindowForecast:
    if mode not in FORECASTS:
        raise InputError(f"unknown forecast {mode!r}", field="--forecast", fix=f"use one of: {', '.join(FORECASTS)}")
    if not window_s > 0:
        raise InputError(f"window {window_s!r} s is not > 0", field="--window", fix="write e.g. 10m")
    n = max(1, math.ceil((workload.span_s + 1e-9) / window_s))
    index = np.minimum((workload.arrival_s // window_s).astype(np.int64), n - 1)
    prefill = np.bincount(index, weights=workload.input_tokens.astype(np.float64), minlength=n)
    decode = np.bincount(index, weights=workload.output_tokens.astype(np.float64), minlength=n)
    return WindowForecast(window_s=window_s, prefill_tokens=prefill, decode_tokens=decode, mode=mode)


def instances_needed(capacity: InstanceCapacity, prefill_tokens: float, decode_tokens: float, window_s: float) -> int:
    """PreServe Alg. 2: N = ceil(max(P / mu_p, D / mu_d, (P + D) / mu_t)), capacities per window."""
    need = max(prefill_tokens / (capacity.prefill_tokens_per_s * window_s),
               decode_tokens / (capacity.decode_tokens_per_s * window_s))
    if capacity.mixed_tokens_per_s:
        need = max(need, (prefill_tokens + decode_tokens) / (capacity.mixed_tokens_per_s * window_s))
    return max(1, math.ceil(need - 1e-9))


CAPACITIES = ("profile", "measured")


def pool_capacity(pool: SimPool, workload: Workload, slo, source: str = "profile",
                  window_s: float = 600.0, cache: dict | None = None) -> InstanceCapacity:
    """Capacity of one instance at the fleet SLO: the profile's for this workload's mean request, or
    (`source="measured"`) PreServe Alg. 1's on this workload (calibration.py). `cache` (a dict the
    caller keeps for one workload) saves repeating the calibration replays for each scaler."""
    if source not in CAPACITIES:
        raise InputError(f"unknown capacity source {source!r}", field="--capacity",
                         fix=f"use one of: {', '.join(CAPACITIES)}")
    from preserve_cli.profile.catalog import get_gpu, resolve_model
    from preserve_cli.profile.predicted import predicted_capacity
    from preserve_cli.profile.slo import WorkloadShape

    shape = WorkloadShape(float(workload.input_tokens.mean()), float(max(1.0, workload.output_tokens.mean())))
    profile = predicted_capacity(get_gpu(pool.gpu), resolve_model(pool.model), pool.tp, slo, shape)
    if source == "profile":
        return profile
    from preserve_cli.simulate.scalers.calibration import measured_capacity

    key = (pool.name, window_s, slo)
    if cache is None or key not in cache:
        measured = measured_capacity(pool, workload, slo, window_s, profile)
        if cache is None:
            return measured
        cache[key] = measured
    return cache[key]


def ready(sim, pool: str) -> list:
    return [i for i in sim.routable if i.pool.name == pool]


def mean_kv_use(instances: list) -> float:
    return sum(i.kv_use() for i in instances) / len(instances) if instances else 0.0
