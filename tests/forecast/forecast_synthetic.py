"""Synthetic demand for the forecast tests: hourly, daily + weekly pattern, seeded noise."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from preserve_cli.demand.schema import Demand, DemandSeries

START = np.datetime64("2024-05-06T00:00:00", "s")   # a Monday
HOUR = 3600


def daily_weekly_profile(hours: np.ndarray) -> np.ndarray:
    """Requests per hour: a diurnal peak at 14:00 UTC (x3 over the night) and quieter weekends (-40%)."""
    hour_of_day = hours % 24
    day_of_week = (hours // 24) % 7
    diurnal = 1.0 + 0.5 * (1 - np.cos(2 * np.pi * (hour_of_day - 2) / 24))
    weekend = np.where(day_of_week >= 5, 0.6, 1.0)
    return 1000.0 * diurnal * weekend


def synthetic_series(key: str = "all", *, hours: int = 14 * 24, noise: float = 0.1, seed: int = 7,
                     start: np.datetime64 = START) -> DemandSeries:
    """Requests with multiplicative log-normal noise; tokens proportional to requests
    (prefill 800 and decode 250 tokens per request on average, each with its own noise)."""
    rng = np.random.default_rng(seed)
    h = np.arange(hours)
    requests = np.round(daily_weekly_profile(h) * rng.lognormal(0, noise, hours))
    prefill = np.round(requests * 800 * rng.lognormal(0, noise / 2, hours))
    decode = np.round(requests * 250 * rng.lognormal(0, noise / 2, hours))
    return DemandSeries(key=key, window_s=HOUR, starts=start + np.arange(hours) * np.timedelta64(HOUR, "s"),
                        coverage=np.ones(hours), requests=requests.astype(float),
                        prefill_tokens=prefill.astype(float), decode_tokens=decode.astype(float))


def demand_of(*series: DemandSeries) -> Demand:
    return Demand(window_s=series[0].window_s, series={s.key: s for s in sorted(series, key=lambda s: s.key)})


METRICS = ("requests", "prefill_tokens", "decode_tokens")


def with_values(series: DemandSeries, index: slice, value: float, coverage: float) -> DemandSeries:
    """A copy with the windows in `index` set to `value` (NaN = missing) and `coverage`."""
    return _edited(series, index, lambda values: np.full_like(values, value), coverage)


def partially_observed(series: DemandSeries, index: slice, coverage: float) -> DemandSeries:
    """A copy where the windows in `index` were only observed for `coverage` of their length."""
    return _edited(series, index, lambda values: values * coverage, coverage)


def tiled(series: DemandSeries, times: int) -> DemandSeries:
    """The series repeated `times` times back to back."""
    n = len(series) * times
    step = np.timedelta64(series.window_s, "s")
    return DemandSeries(key=series.key, window_s=series.window_s, starts=series.starts[0] + np.arange(n) * step,
                        coverage=np.tile(series.coverage, times),
                        **{name: np.tile(series.metric(name), times) for name in METRICS})


def _edited(series: DemandSeries, index: slice, change, coverage: float) -> DemandSeries:
    arrays = {name: series.metric(name).copy() for name in METRICS}
    for values in arrays.values():
        values[index] = change(values[index])
    cov = series.coverage.copy()
    cov[index] = coverage
    return replace(series, coverage=cov, **arrays)
