"""The forecast library on synthetic demand: accuracy, band, fallbacks, missing windows, errors."""

from __future__ import annotations

import numpy as np
import pytest
from forecast_synthetic import HOUR, demand_of, partially_observed, synthetic_series, tiled, with_values

from preserve_cli.errors import InputError
from preserve_cli.forecast import MODELS, forecast_demand
from preserve_cli.forecast.base import band_note, quantile_band
from preserve_cli.forecast.history import wape

DAY = 24


@pytest.fixture(scope="module")
def fifteen_days():
    """14 days of history (Mon..Sun twice) and a 15th day (a Monday) to score against."""
    return synthetic_series(hours=15 * DAY, noise=0.2, seed=1)


def day15(series, model):
    result = forecast_demand(demand_of(series), 86_400, model=model, start=series.starts[14 * DAY],
                             metrics=("requests",))
    return result.get("all", "requests")


def test_prophet_beats_seasonal_naive_day_on_the_held_out_day(fifteen_days):
    actual = fifteen_days.requests[14 * DAY:]
    prophet = wape(actual, day15(fifteen_days, "prophet").at(0.5))
    naive = wape(actual, day15(fifteen_days, "seasonal-naive-day").at(0.5))
    # The 15th day is a Monday: repeating Sunday misses the weekday level, Prophet's weekly
    # term does not. Measured: prophet 16%, seasonal-naive-day 43% (noise floor ~16%).
    assert prophet < naive
    assert prophet < 0.25


def test_p90_is_above_p50_and_covers_most_held_out_windows():
    series = synthetic_series(hours=16 * DAY, noise=0.3, seed=4)
    result = forecast_demand(demand_of(series), 2 * 86_400, start=series.starts[14 * DAY])
    covered = []
    for s in result.series:
        assert np.all(s.at(0.9) >= s.at(0.5))
        assert np.any(s.at(0.9) > s.at(0.5))
        covered.append(series.metric(s.metric)[14 * DAY:] <= s.at(0.9))
    coverage = float(np.mean(np.concatenate(covered)))
    # Measured 0.85 (seed 4); 0.58-0.94 over seeds 1-7: the low one forecasts a Monday from a
    # Sunday with 14 days of history, before any backtest fold has seen a weekly pattern.
    assert 0.7 <= coverage <= 1.0, coverage


@pytest.mark.parametrize("model", [*MODELS, "auto"])
def test_any_quantile_levels_are_ordered_and_non_negative(model):
    series = synthetic_series(hours=9 * DAY, noise=0.3, seed=2)
    result = forecast_demand(demand_of(series), 86_400, model=model, quantiles=(0.99, 0.05, 0.95),
                             metrics=("decode_tokens",))
    s = result.get("all", "decode_tokens")
    assert list(s.quantiles) == [0.05, 0.5, 0.95, 0.99]      # p50 always there, levels sorted
    stacked = np.vstack(list(s.quantiles.values()))
    assert np.all(stacked >= 0)
    assert np.all(np.diff(stacked, axis=0) >= 0)
    assert len(s.starts) == DAY and s.starts[0] == series.starts[-1] + np.timedelta64(HOUR, "s")


@pytest.mark.parametrize(("hours", "expected"), [(30, "seasonal-naive-day"), (10, "flat")])
def test_short_history_falls_back_and_says_so(hours, expected):
    series = synthetic_series(hours=hours, noise=0.1, seed=3)
    result = forecast_demand(demand_of(series), 86_400, model="prophet", metrics=("prefill_tokens",))
    s = result.get("all", "prefill_tokens")
    assert s.model == expected
    assert "prophet not used" in s.note and f"fell back to {expected}" in s.note
    assert "past errors to estimate the p90 band" in s.note          # a day of history cannot calibrate p90
    assert any(f"fell back to {expected}" in note for note in result.notes)


def test_fallback_forecast_is_real_seasonal_naive():
    series = synthetic_series(hours=30, noise=0.1, seed=3)
    s = forecast_demand(demand_of(series), 86_400, model="prophet", metrics=("requests",)).get("all", "requests")
    # Windows 30..53 are hours 6..23 and 0..5 of the next day: the latest value at that hour.
    expected = np.concatenate([series.requests[6:24], series.requests[24:30]])
    np.testing.assert_array_equal(s.at(0.5), expected)


def _mean_p50(series, metric="requests"):
    result = forecast_demand(demand_of(series), 86_400, start=series.starts[14 * DAY], metrics=(metric,))
    return result.get("all", metric).at(0.5)


def test_missing_windows_are_not_read_as_zero(fifteen_days):
    gap = slice(12 * DAY + 8, 12 * DAY + 14)                  # 6 hours of day 13, mid-day
    baseline = _mean_p50(fifteen_days)
    with_gap = _mean_p50(with_values(fifteen_days, gap, np.nan, 0.0))
    # Measured: the gap moves the mean forecast by 0.7%.
    assert abs(with_gap.mean() / baseline.mean() - 1) < 0.05
    # Zeros in ~1000 requests/hour traffic are a collection drop-out: the same as the gap.
    zero_filled = _mean_p50(with_values(fifteen_days, gap, 0.0, 1.0))
    np.testing.assert_array_equal(zero_filled, with_gap)


def test_partially_observed_last_window_is_scaled_to_a_full_window():
    full = synthetic_series(hours=14 * DAY, noise=0.2, seed=1)
    half = partially_observed(full, slice(-1, None), 0.5)   # e.g. the log ended mid-window
    assert half.requests[-1] == full.requests[-1] / 2
    # recent-level starts from the last window itself: read unscaled it would start at half.
    # (auto took 4-10 s here for the same check; its models all read the same scaled history.)
    a, b = (forecast_demand(demand_of(s), 86_400, model="recent-level", metrics=("requests",))
            .get("all", "requests") for s in (full, half))
    np.testing.assert_allclose(a.at(0.5), b.at(0.5), rtol=1e-6)
    np.testing.assert_allclose(a.at(0.9), b.at(0.9), rtol=1e-6)


def test_seasonal_naive_skips_a_missing_window_instead_of_repeating_zero():
    series = synthetic_series(hours=3 * DAY, noise=0.1, seed=5)
    gappy = with_values(series, slice(2 * DAY + 10, 2 * DAY + 12), np.nan, 0.0)
    s = forecast_demand(demand_of(gappy), 86_400, model="seasonal-naive-day",
                        metrics=("requests",)).get("all", "requests")
    np.testing.assert_array_equal(s.at(0.5)[10:12], series.requests[DAY + 10:DAY + 12])


def test_auto_picks_the_best_backtested_model_and_explains():
    # One noisy week repeated exactly: the week-ago value is a perfect forecast.
    week = synthetic_series(hours=7 * DAY, noise=0.3, seed=6)
    series = tiled(week, 3)
    s = forecast_demand(demand_of(series), 86_400, model="auto", metrics=("requests",)).get("all", "requests")
    assert s.model == "seasonal-naive-week"
    assert "auto: picked seasonal-naive-week, better than ensemble by 2+ standard errors" in s.note
    assert "seasonal-naive-week 0.0%" in s.note
    np.testing.assert_array_equal(s.at(0.5), week.requests[:DAY])


def test_same_input_gives_identical_numbers(fifteen_days):
    first = day15(fifteen_days, "prophet")
    second = day15(fifteen_days, "prophet")
    for q in first.quantiles:
        np.testing.assert_array_equal(first.at(q), second.at(q))


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"horizon_s": 5400}, "horizon"),
    ({"horizon_s": 0}, "horizon"),
    ({"quantiles": (0.5, 1.0)}, "quantiles"),
    ({"quantiles": (0.5, "ninety")}, "quantiles"),
    ({"model": "arima"}, "model"),
    ({"start": np.datetime64("2024-05-07T10:30:00", "s")}, "start"),
    ({"metrics": ("kv_tokens",)}, "metrics"),
])
def test_bad_arguments_are_input_errors_with_a_fix(kwargs, field):
    series = synthetic_series(hours=3 * DAY)
    args = {"horizon_s": 86_400, **kwargs}
    with pytest.raises(InputError) as caught:
        forecast_demand(demand_of(series), args.pop("horizon_s"), **args)
    assert caught.value.field == field and caught.value.fix


def test_horizon_error_names_the_window_and_a_valid_horizon():
    series = synthetic_series(hours=3 * DAY)
    with pytest.raises(InputError, match=r"90m is not a multiple of the 1h window.*fix: use a multiple of 1h"):
        forecast_demand(demand_of(series), 5400, source="demand.csv")


def test_series_without_observed_history_is_skipped_and_reported():
    full = synthetic_series("a", hours=3 * DAY)
    empty = with_values(synthetic_series("b", hours=3 * DAY), slice(None), np.nan, 0.0)
    result = forecast_demand(demand_of(full, empty), 86_400, model="flat")
    assert result.keys() == ["a"]
    assert "b/requests: not forecast: no observed window" in result.notes
    with pytest.raises(InputError, match="nothing to forecast"):
        forecast_demand(demand_of(empty), 86_400)


def test_band_is_the_split_conformal_quantile_of_the_errors():
    errors = np.log1p(np.arange(1.0, 20.0)) - np.log1p(10.0)      # 19 log-ratio errors
    band = quantile_band(np.array([10.0, 0.0]), errors, (0.5, 0.9, 0.1))
    # q=0.9: the ceil(20 * 0.9) = 18th smallest error, i.e. actual 18 against a forecast of 10.
    np.testing.assert_allclose(band[0.9], [18.0, np.expm1(np.log1p(18.0) - np.log1p(10.0))])
    # q=0.1: the floor(20 * 0.1) = 2nd smallest, actual 2 against 10.
    np.testing.assert_allclose(band[0.1][0], 2.0)
    np.testing.assert_array_equal(band[0.5], [10.0, 0.0])
    assert band_note(errors.size, (0.5, 0.9)) == ""
    assert "only 19 past errors to estimate the p99 band (needs 99)" in band_note(errors.size, (0.5, 0.99))
