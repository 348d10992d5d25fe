"""Forecasting the bundled real demand (ServeGen m-large, 14 days hourly).

Day 14 of this trace is a jump: 2.3x the request level of day 13, after four falling days.
No model forecasts it: fit on days 1-13, every registered model is off by more than 50% on
requests that day. One day is a poor yardstick, so the accuracy assertions use the rolling
day-ahead origins over days 8-14 (fit on everything before the day, forecast that day), the
issue's protocol: auto (the ensemble on every day here) measured 33.5 / 41.9 / 62.0% WAPE on
requests / prefill / decode, against seasonal-naive-day's 45.3 / 51.3 / 70.4% and Prophet's
34.1 / 42.6 / 61.2%; p90 covered 82 / 86 / 71% of the windows (days 8-13: 88-100% on
requests, day 14: 4%).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from preserve_cli.demand.schema import read_demand
from preserve_cli.forecast import forecast_demand
from preserve_cli.forecast.backtest import backtest_demand, scores
from preserve_cli.forecast.history import wape
from preserve_cli.forecast.plan_check import check_plans

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "servegen-m-large-hourly.csv"
DAY = 24


@pytest.fixture(scope="module")
def demand():
    return read_demand(EXAMPLE)


@pytest.fixture(scope="module")
def day_ahead(demand):
    """The issue's protocol, timed: 7 day-ahead origins (days 8-14), auto and a baseline."""
    began = time.perf_counter()
    result = backtest_demand(demand, 86_400, origins=7, models=["auto", "seasonal-naive-day"])
    return result, time.perf_counter() - began


def test_day_14_from_days_1_to_13_does_not_run_away(demand):
    s = demand.series["m-large"]
    result = forecast_demand(demand, 86_400, start=s.starts[13 * DAY])
    for f in result.series:
        actual = s.full_window_estimate(f.metric)[13 * DAY:]
        # Recorded in the module docstring; the bound only catches a broken fit (runaway trend, zeros).
        assert wape(actual, f.at(0.5)) < 0.9, f.metric


def test_auto_beats_seasonal_naive_over_a_week_of_day_ahead_origins(day_ahead):
    result, _ = day_ahead
    by = {(s.model, s.metric): s for s in scores(result)}
    for metric in ("requests", "prefill_tokens", "decode_tokens"):
        assert by[("auto", metric)].wape < by[("seasonal-naive-day", metric)].wape, metric
    assert by[("auto", "requests")].wape < 0.36                       # measured 33.5%
    # The p90 band: calibrated on the week before each origin. Day 14's jump is outside any
    # band the past supports; the other days are covered. Measured 81.5% on requests.
    assert 0.78 <= by[("auto", "requests")].coverage[0.9] <= 0.95
    assert by[("auto", "requests")].width < 2.0                       # p90/p50, measured 1.46


def test_the_plans_of_auto_cost_fewer_gpu_hours_than_seasonal_naive(day_ahead):
    result, _ = day_ahead
    plans = {p.model: p for p in check_plans(result).scores}
    # Measured (windows sized for their own prefill/decode mix): auto 3,406 GPU-hours short in 30 of
    # 168 windows, seasonal-naive-day 5,415 short in 26, nearly all of them on day 14's jump. Auto
    # buys a third fewer GPU-hours for a few more short windows; it must not trade more than that.
    assert plans["auto"].gpu_hours < 0.75 * plans["seasonal-naive-day"].gpu_hours
    assert plans["auto"].miss_share <= plans["seasonal-naive-day"].miss_share + 0.03
    assert plans["auto"].infeasible_origins == 0


@pytest.mark.parametrize("day", [7, 10])
def test_a_week_ahead_stays_at_the_level_of_the_last_day(demand, day):
    """No model extrapolates a trend: a week ahead stays within 0.5-2x of the last day's mean."""
    s = demand.series["m-large"]
    result = forecast_demand(demand, 7 * 86_400, start=s.starts[day * DAY])
    for f in result.series:
        level = np.nanmean(s.full_window_estimate(f.metric)[(day - 1) * DAY:day * DAY])
        assert 0.5 < f.at(0.5).mean() / level < 2.0, f.metric


def test_auto_backtest_is_fast(day_ahead):
    _, seconds = day_ahead
    # Two models, 7 origins, 3 metrics. The full 8-model backtest is timed in benchmarks/.
    assert seconds < 30
