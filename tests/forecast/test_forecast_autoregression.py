"""Autoregression of the log changes: learns hourly jobs and bounce-backs, ignores noise it cannot use."""

from __future__ import annotations

import numpy as np
from forecast_synthetic import START, demand_of

from preserve_cli.demand.schema import DemandSeries
from preserve_cli.forecast import forecast_demand
from preserve_cli.forecast.autoregression import LogChangeAutoregression, lags_for
from preserve_cli.forecast.history import History

TEN_MINUTES = 600
DAY = 144
HOUR = 6


def _history(values: np.ndarray) -> History:
    starts = START + np.arange(values.size) * np.timedelta64(TEN_MINUTES, "s")
    return History(starts, values.astype(float), TEN_MINUTES)


def _hour_ahead_wape(values: np.ndarray, first_origin: int) -> tuple[float, float]:
    """(model, persistence) WAPE one hour ahead from every window after `first_origin`, refit daily."""
    history = _history(values)
    model_error = persistence_error = actual_total = 0.0
    model = LogChangeAutoregression()
    for origin in range(first_origin, values.size - HOUR):
        past = history.split(origin).train
        if origin == first_origin or origin % DAY == 0:
            model.fit(past)
        forecast = model.point_after(past, history.starts[origin:origin + HOUR])
        actual = values[origin:origin + HOUR]
        model_error += np.abs(forecast - actual).sum()
        persistence_error += np.abs(values[origin - 1] - actual).sum()
        actual_total += actual.sum()
    return model_error / actual_total, persistence_error / actual_total


def _hourly_job(days: int, seed: int) -> np.ndarray:
    """A wandering base load plus a batch client that runs in the first 20 minutes of every hour."""
    rng = np.random.default_rng(seed)
    n = days * DAY
    base = 1000 * np.exp(np.cumsum(rng.normal(0, 0.02, n)))
    job = np.where(np.arange(n) % HOUR < 2, 800.0, 0.0)
    return np.round(base + job)


def test_lags_cover_the_last_two_hours_six_hours_and_a_day():
    assert lags_for(TEN_MINUTES) == [*range(1, 13), 36, 144]
    assert lags_for(3600) == [*range(1, 13), 24]          # 6 h is already lag 6
    assert lags_for(86_400) == list(range(1, 13))         # no lag below one window


def test_an_hourly_job_is_learnt_where_persistence_keeps_missing_it():
    values = _hourly_job(days=10, seed=3)
    model, persistence = _hour_ahead_wape(values, first_origin=7 * DAY)
    assert model < 0.5 * persistence, (model, persistence)


def test_on_a_random_walk_it_costs_little_against_persistence():
    rng = np.random.default_rng(8)
    values = np.round(1000 * np.exp(np.cumsum(rng.normal(0, 0.08, 10 * DAY))))
    model, persistence = _hour_ahead_wape(values, first_origin=7 * DAY)
    assert model < 1.03 * persistence, (model, persistence)


def test_missing_windows_are_not_zero_demand_and_a_week_ahead_is_held_in_range():
    values = _hourly_job(days=10, seed=4)
    values[500:530] = np.nan                 # a collection gap in the training span
    values[-3:] = np.nan                     # and at the very end: forecast from the last observed window
    history = _history(values)
    model = LogChangeAutoregression()
    model.fit(history)
    week = model.point(history.next_starts(7 * DAY))
    observed = values[~np.isnan(values)]
    assert np.all(np.isfinite(week))
    assert week.min() > 0.2 * observed.min()
    assert week.max() < np.e * observed.max()
    # Past the longest lag (one day) the level is held rather than extrapolated.
    assert np.all(week[DAY - 1:] == week[DAY - 1])
    assert np.ptp(week[:DAY]) > 0


def test_too_short_a_history_is_refused_with_the_reason():
    short = _history(np.full(100, 1000.0))
    reason = LogChangeAutoregression.unfit_reason(short)
    assert reason is not None and "complete windows of change" in reason
    assert LogChangeAutoregression.unfit_reason(_history(_hourly_job(days=3, seed=1))) is None


def test_auto_picks_it_one_hour_ahead_when_an_hourly_job_makes_it_clearly_better():
    values = _hourly_job(days=9, seed=5)
    n = values.size
    series = DemandSeries("all", TEN_MINUTES, START + np.arange(n) * np.timedelta64(TEN_MINUTES, "s"),
                          np.ones(n), values, values * 800, values * 250)
    forecast = forecast_demand(demand_of(series), 3600, metrics=("requests",)).get("all", "requests")
    assert forecast.model == "autoregression", forecast.note
    assert "better than smoothing by 2+ standard errors" in forecast.note
    # The next hour starts at minute 0, in the job's window: the forecast sees it coming.
    median = forecast.at(0.5)
    assert median[0] > median[2] + 400
