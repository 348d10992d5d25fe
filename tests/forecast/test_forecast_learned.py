"""The models that learn from the series itself: gbm, recent-level, ensemble; and how
`auto` chooses between them at day-ahead and one-hour horizons."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from forecast_synthetic import HOUR, START, demand_of, synthetic_series

from preserve_cli.demand.schema import DemandSeries, read_demand
from preserve_cli.forecast import forecast_demand
from preserve_cli.forecast.backtest import backtest_demand, scores
from preserve_cli.forecast.ensemble import Ensemble
from preserve_cli.forecast.gbm_model import GradientBoosting
from preserve_cli.forecast.history import History, wape
from preserve_cli.forecast.recent import RecentLevel, ar1_rate

DAY = 24
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "servegen-m-large-hourly.csv"


def history(values: np.ndarray) -> History:
    return History(START + np.arange(values.size) * np.timedelta64(HOUR, "s"), values.astype(float), HOUR)


def next_day(h: History, days: int = 1) -> np.ndarray:
    return h.next_starts(days * DAY)


def test_gbm_learns_a_daily_pattern_the_flat_level_misses():
    series = synthetic_series(hours=11 * DAY, noise=0.1, seed=21)
    train = history(series.requests[:10 * DAY])
    actual = series.requests[10 * DAY:]
    gbm = GradientBoosting()
    gbm.fit(train)
    predicted = gbm.point(next_day(train))
    # The diurnal swing is 3x; a flat day mean scores ~30%. Measured: gbm 13%, noise floor ~8%.
    assert wape(actual, predicted) < 0.2
    assert np.argmax(predicted) in range(10, 19)              # the 14:00 UTC peak, give or take 4 hours


def test_gbm_one_window_ahead_stays_with_the_last_window():
    """A random walk has no pattern to learn: the best one-step forecast is the last value,
    and the model starts from it (its recent-level anchor), not from the day's mean."""
    gbm_errors, day_mean_errors = [], []
    for seed in (5, 6, 7):
        walk = 1000 * np.exp(np.cumsum(np.random.default_rng(seed).normal(0, 0.05, 6 * DAY)))
        gbm = GradientBoosting()
        gbm.fit(history(walk[:5 * DAY]))
        for end in range(5 * DAY, 6 * DAY):
            step = gbm.point_after(history(walk[:end]), history(walk[:end]).next_starts(1))[0]
            gbm_errors.append(abs(step / walk[end] - 1))
            day_mean_errors.append(abs(walk[end - DAY:end].mean() / walk[end] - 1))
    # Measured: median 5% against 11% (the last value itself: 3%).
    assert np.median(gbm_errors) < 0.7 * np.median(day_mean_errors)


def test_gbm_is_deterministic_and_skips_missing_windows():
    values = synthetic_series(hours=8 * DAY, noise=0.2, seed=2).requests.copy()
    values[5 * DAY:5 * DAY + 8] = np.nan
    first, second = GradientBoosting(), GradientBoosting()
    first.fit(history(values))
    second.fit(history(values))
    starts = next_day(history(values), 2)
    np.testing.assert_array_equal(first.point(starts), second.point(starts))
    assert np.all(np.isfinite(first.point(starts))) and np.all(first.point(starts) > 0)


def test_gbm_needs_three_days():
    assert "needs 3d of observed history" in GradientBoosting.unfit_reason(history(np.ones(2 * DAY)))
    assert GradientBoosting.unfit_reason(history(np.ones(3 * DAY))) is None


def test_recent_level_decays_from_the_last_window_to_the_days_level():
    values = synthetic_series(hours=4 * DAY, noise=0.3, seed=8).requests
    h = history(values)
    model = RecentLevel()
    model.fit(h)
    rho = ar1_rate(np.log1p(values), HOUR)
    assert 0 < rho < 1
    level = np.log1p(values[-DAY:]).mean()
    last = np.log1p(values[-1])
    leads = np.arange(1, 2 * DAY + 1)
    np.testing.assert_allclose(model.point(next_day(h, 2)), np.expm1(level + rho ** leads * (last - level)))


def test_ensemble_is_the_geometric_mean_of_its_members():
    values = synthetic_series(hours=5 * DAY, noise=0.2, seed=3).requests
    h = history(values)
    ensemble = Ensemble()
    ensemble.fit(h)
    parts = []
    for member in Ensemble.members:
        model = member()
        model.fit(h)
        parts.append(model.point(next_day(h)))
    np.testing.assert_allclose(ensemble.point(next_day(h)), np.sqrt((1 + parts[0]) * (1 + parts[1])) - 1)


def test_auto_keeps_the_ensemble_when_no_model_is_clearly_better():
    series = synthetic_series(hours=12 * DAY, noise=0.3, seed=4)
    s = forecast_demand(demand_of(series), 86_400, metrics=("requests",)).get("all", "requests")
    assert s.model == "ensemble"
    assert s.note.startswith("auto: kept ensemble, no model better by 2 standard errors (backtest WAPE over ")
    assert s.backtest_wape is not None and 0 < s.backtest_wape < 0.5


def test_auto_one_hour_ahead_uses_the_recent_windows_on_real_data():
    """Re-planning every hour with a one-hour horizon, on the bundled real series (day 14):
    auto leaves the ensemble (whose Prophet half ignores the last hours) for a recent model.
    Measured over its 24 hourly origins: auto 17.4% (smoothing each time), persistence 17.4%,
    ensemble 30.9% WAPE."""
    demand = read_demand(EXAMPLE)
    result = backtest_demand(demand, 3600, origins=24, every_s=3600, models=["auto", "persistence", "ensemble"],
                             metrics=("requests",))
    by_model = {s.model: s for s in scores(result, metrics=("requests",))}
    assert "ensemble" not in by_model["auto"].picked
    assert by_model["auto"].wape < 0.8 * by_model["ensemble"].wape
    assert by_model["auto"].wape < 1.2 * by_model["persistence"].wape


@pytest.mark.parametrize("window_s", [600, 6 * 3600, 86_400])
def test_windows_from_10_minutes_to_a_day(window_s):
    """Every window the demand stage makes, with horizons of one window and of 7 days."""
    n = 14 * 86_400 // window_s
    t = np.arange(n) * window_s
    rng = np.random.default_rng(window_s)
    values = np.round(1000 * window_s / 3600 * (1.5 + np.sin(2 * np.pi * t / 86_400)) * rng.lognormal(0, 0.1, n))
    starts = START + t.astype("timedelta64[s]")
    series = DemandSeries("all", window_s, starts, np.ones(n), values, values * 800, values * 250)
    for horizon_s in (window_s, 7 * 86_400):
        result = forecast_demand(demand_of(series), horizon_s, quantiles=(0.5, 0.9, 0.99), metrics=("requests",))
        for s in result.series:
            assert len(s.starts) == horizon_s // window_s
            stacked = np.vstack(list(s.quantiles.values()))
            assert np.all(np.isfinite(stacked)) and np.all(stacked >= 0) and np.all(np.diff(stacked, axis=0) >= 0)
