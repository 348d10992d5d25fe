"""Exponential smoothing: its rate follows the series, gaps are skipped, auto's short-horizon default."""

from __future__ import annotations

import numpy as np
from forecast_synthetic import START, demand_of

from preserve_cli.demand.schema import DemandSeries
from preserve_cli.forecast import forecast_demand
from preserve_cli.forecast.history import History
from preserve_cli.forecast.smoothing import Smoothing, best_alpha

TEN_MINUTES = 600


def _history(values: np.ndarray) -> History:
    starts = START + np.arange(values.size) * np.timedelta64(TEN_MINUTES, "s")
    return History(starts, values.astype(float), TEN_MINUTES)


def test_a_random_walk_gets_a_fast_rate_and_noise_around_a_level_a_slow_one():
    rng = np.random.default_rng(11)
    walk = np.log1p(1000 * np.exp(np.cumsum(rng.normal(0, 0.1, 1008))))
    noise = np.log1p(1000 * np.exp(rng.normal(0, 0.3, 1008)))
    assert best_alpha(walk, TEN_MINUTES) >= 0.8
    assert best_alpha(noise, TEN_MINUTES) <= 0.15


def test_forecast_is_the_smoothed_level_and_skips_missing_windows():
    values = np.array([100.0, 100.0, 200.0, np.nan, np.nan, 200.0])
    model = Smoothing()
    history = _history(values)
    model.fit(history)
    alpha = float(model.detail.split()[-1])
    level = np.log1p(100.0)
    for x in (100.0, 200.0, 200.0):                 # the two gaps do not pull the level to 0
        level = alpha * np.log1p(x) + (1 - alpha) * level
    forecast = model.point(history.next_starts(3))
    np.testing.assert_allclose(forecast, np.expm1(level), rtol=1e-9)
    assert forecast[0] > 100.0


def test_auto_one_hour_ahead_starts_from_smoothing():
    rng = np.random.default_rng(5)
    n = 8 * 144

    def one_hour_ahead(log_values: np.ndarray):
        values = np.round(np.exp(log_values))
        series = DemandSeries("all", TEN_MINUTES, START + np.arange(n) * np.timedelta64(TEN_MINUTES, "s"),
                              np.ones(n), values, values * 800, values * 250)
        return forecast_demand(demand_of(series), 3600, metrics=("requests",)).get("all", "requests")

    # A random walk: the latest windows are the best guess; persistence and smoothing tie.
    walk = one_hour_ahead(np.log(1000) + np.cumsum(rng.normal(0, 0.05, n)))
    assert walk.model == "smoothing"
    assert walk.note.startswith("auto: kept smoothing, no model better by 2 standard errors")
    # Noise around a constant 1000: smoothing slows to a long average (or auto takes the day's
    # mean instead when that is clearly better); either way not the last window's draw.
    noise = one_hour_ahead(np.log(1000) + rng.normal(0, 0.3, n))
    assert noise.model in ("smoothing", "recent-level", "flat")
    assert abs(noise.at(0.5)[0] / 1000 - 1) < 0.15
