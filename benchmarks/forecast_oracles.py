"""Clairvoyant forecasts of ServeGen m-large: how much of issue 4's targets the series allows.

Issue 4's targets on ServeGen m-large (requests, the sum of its 162 clients) are ratios:
10-minute windows one hour ahead, WAPE <= 0.8x persistence (15.8%); hourly windows day-ahead
from the start of days 8-14, WAPE <= 0.8x plain Prophet (28%). This script scores forecasts
that are handed part of the future, which no model has, to show what reaching each target
would take on this series. Same protocols as `forecast_backtest.py` and
`forecast_short_probes.py` (10-minute origins every window from day 8, the last 6 dropped;
day-ahead origins at 00:00 of days 8-14, 0-based 7-13, hourly = the six 10-minute windows).

One hour ahead (6 windows):
  * persistence: the last window, flat (the reference);
  * next window known: the actual value of the first forecast window, held flat for the hour
    (perfect one-step clairvoyance, then persistence);
  * hour's median known: the median of the six actual windows, flat (knows the level, not the shape);
  * clients' on/off known: each client's last non-zero rate where it is active in the forecast
    window, 0 where it is not (knows which clients switch, not how much they send).
Day ahead (24 hourly windows):
  * seasonal-naive: the same hour yesterday (the issue: 45.4%);
  * first 3 hours known: their mean, flat for the day;
  * day's median known: flat;
  * yesterday's shape at the day's true mean.

Usage: python benchmarks/forecast_oracles.py
Reads ../shared (allowed for benchmarks); prints numbers only (about 2 s).
"""

from __future__ import annotations

import time

import numpy as np
from forecast_short_probes import DAY, FIRST_ORIGIN, HORIZON, client_matrix, wape

ISSUE_PERSISTENCE_WAPE = 0.198   # the issue's numbers (re-measured by forecast_backtest.py)
ISSUE_PROPHET_WAPE = 0.351
HOURS = 24


def last_nonzero(matrix: np.ndarray) -> np.ndarray:
    """Per client and window, the client's latest non-zero value at or before it (0 before its first)."""
    seen = np.where(matrix > 0, np.arange(matrix.shape[1])[None, :], -1)
    latest = np.maximum.accumulate(seen, axis=1)
    values = np.take_along_axis(matrix, np.maximum(latest, 0), axis=1)
    return np.where(latest >= 0, values, 0.0)


def one_hour_ahead(matrix: np.ndarray) -> None:
    total = matrix.sum(axis=0)
    rate = last_nonzero(matrix)
    base = wape(total, lambda o: np.full(HORIZON, total[o - 1]))
    cases = {
        "persistence": base,
        "next window known": wape(total, lambda o: np.full(HORIZON, total[o])),
        "hour's median known": wape(total, lambda o: np.full(HORIZON, np.median(total[o:o + HORIZON]))),
        "clients' on/off known": wape(total, lambda o: ((matrix[:, o:o + HORIZON] > 0)
                                                         * rate[:, o - 1:o]).sum(axis=0)),
    }
    print(f"10-minute windows, one hour ahead (target: <= 0.8x persistence = {0.8 * base:.1%}):")
    for name, value in cases.items():
        print(f"  {name:<24} WAPE {value:6.1%}  {value / base:.3f}x persistence")
    print(f"  (the issue's persistence: {ISSUE_PERSISTENCE_WAPE:.1%})")


def day_ahead(matrix: np.ndarray) -> None:
    total = matrix.sum(axis=0)
    hourly = total[:len(total) // HORIZON * HORIZON].reshape(-1, HORIZON).sum(axis=1)

    def score(forecast) -> float:
        days = range(FIRST_ORIGIN // DAY, len(hourly) // HOURS)
        actual = np.concatenate([hourly[d * HOURS:(d + 1) * HOURS] for d in days])
        predicted = np.concatenate([forecast(hourly[d * HOURS:(d + 1) * HOURS], hourly[(d - 1) * HOURS:d * HOURS])
                                    for d in days])
        return float(np.abs(actual - predicted).sum() / actual.sum())

    cases = {
        "seasonal-naive": score(lambda today, yesterday: yesterday),
        "first 3 hours known": score(lambda today, _: np.full(HOURS, today[:3].mean())),
        "day's median known": score(lambda today, _: np.full(HOURS, np.median(today))),
        "yesterday's shape, true mean": score(lambda today, yesterday: yesterday / yesterday.mean() * today.mean()),
    }
    target = 0.8 * ISSUE_PROPHET_WAPE
    print(f"hourly windows, day ahead from days 8-14 (target: <= 0.8x the issue's plain Prophet = {target:.1%}):")
    for name, value in cases.items():
        print(f"  {name:<30} WAPE {value:6.1%}  {value / ISSUE_PROPHET_WAPE:.3f}x Prophet")
    daily = hourly[:len(hourly) // HOURS * HOURS].reshape(-1, HOURS).sum(axis=1)
    print("  day-over-day change of the daily total, days 2-14: "
          + " ".join(f"{ratio:.2f}" for ratio in daily[1:] / daily[:-1]))


def main() -> None:
    began = time.perf_counter()
    matrix = client_matrix()
    print(f"m-large: {matrix.shape[0]} clients, {matrix.shape[1]} ten-minute windows")
    one_hour_ahead(matrix)
    day_ahead(matrix)
    print(f"({time.perf_counter() - began:.1f} s)")


if __name__ == "__main__":
    main()
