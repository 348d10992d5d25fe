"""Forecasting the bundled real demand (ServeGen m-large, 14 days hourly).

Day 14 of this trace is a jump: 2.3x the request level of day 13, after four falling days.
Fit on days 1-13, no registered model forecasts day 14 well (measured WAPE, requests /
prefill / decode: prophet 62% / 72% / 83%, seasonal-naive-day 57% / 70% / 79%,
seasonal-naive-week 36% / 33% / 76%). One day is a poor yardstick, so the accuracy
assertions use the rolling origin over days 8-14 (fit on everything before the day,
forecast that day), where prophet measured 32% / 38% / 52% against seasonal-naive-day's
45% / 50% / 68%, and p90 covered 69% of the windows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from preserve_cli.demand.schema import read_demand
from preserve_cli.forecast import forecast_demand
from preserve_cli.forecast.history import wape
from preserve_cli.forecast.schema import FORECAST_METRICS

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "servegen-m-large-hourly.csv"
DAY = 24

pytestmark = pytest.mark.skipif(not EXAMPLE.exists(), reason="examples/servegen-m-large-hourly.csv not present")


@pytest.fixture(scope="module")
def series():
    demand = read_demand(EXAMPLE)
    return demand, demand.series["m-large"]


def _day_ahead(demand, series, model):
    """Per metric: (actual, p50, p90) over the rolling origins, days 8..14."""
    out = {metric: ([], [], []) for metric in FORECAST_METRICS}
    for day in range(7, 14):
        result = forecast_demand(demand, 86_400, model=model, start=series.starts[day * DAY])
        for s in result.series:
            actual, p50, p90 = out[s.metric]
            actual.append(series.full_window_estimate(s.metric)[day * DAY:(day + 1) * DAY])
            p50.append(s.at(0.5))
            p90.append(s.at(0.9))
    return {metric: tuple(np.concatenate(parts) for parts in triple) for metric, triple in out.items()}


def _mean_daily_wape(actual, predicted):
    return float(np.mean([wape(a, p) for a, p in zip(actual.reshape(-1, DAY), predicted.reshape(-1, DAY),
                                                      strict=True)]))


def test_day_14_from_days_1_to_13_does_not_run_away(series):
    demand, s = series
    result = forecast_demand(demand, 86_400, start=s.starts[13 * DAY])
    for f in result.series:
        actual = s.full_window_estimate(f.metric)[13 * DAY:]
        # Recorded in the module docstring; the bound only catches a broken fit (runaway trend, zeros).
        assert wape(actual, f.at(0.5)) < 0.9, f.metric


def test_prophet_beats_seasonal_naive_day_over_a_week_of_rolling_origins(series):
    demand, s = series
    prophet = _day_ahead(demand, s, "prophet")
    naive = _day_ahead(demand, s, "seasonal-naive-day")
    for metric in FORECAST_METRICS:
        actual, p50, _ = prophet[metric]
        assert _mean_daily_wape(actual, p50) < _mean_daily_wape(naive[metric][0], naive[metric][1]), metric
    assert _mean_daily_wape(*prophet["requests"][:2]) < 0.45       # seasonal-naive's level
    covered = np.concatenate([actual <= p90 for actual, _, p90 in prophet.values()])
    assert covered.mean() >= 0.6                                    # real regime shifts: measured 0.69


@pytest.mark.parametrize("day", [7, 8, 9, 10])
def test_a_week_ahead_stays_at_the_level_of_the_last_day(series, day):
    """The trend is held, not extrapolated: a week ahead stays within 0.5-2x of the last
    day's mean (measured 0.70-1.06 on days 8-11)."""
    demand, s = series
    result = forecast_demand(demand, 7 * 86_400, start=s.starts[day * DAY])
    for f in result.series:
        level = np.nanmean(s.full_window_estimate(f.metric)[(day - 1) * DAY:day * DAY])
        assert 0.5 < f.at(0.5).mean() / level < 2.0, f.metric


def test_auto_is_fast_on_the_example(series):
    import time

    demand, _ = series
    began = time.perf_counter()
    result = forecast_demand(demand, 7 * 86_400, model="auto")
    assert time.perf_counter() - began < 30
    assert all(f.note.startswith("auto: picked ") for f in result.series)
