"""Probes of the 10-minute, one-hour-ahead target (issue 4): can anything beat persistence by 20%?

Issue 4 asks for WAPE <= 0.8x persistence on ServeGen m-large, 10-minute windows, one hour
(6 windows) ahead, an origin every 10 minutes over days 8-14. `forecast_backtest.py --only 10m`
scores preserve's registered models (auto: 0.99x). This script measures ideas that are not
models in preserve, to see whether one of them would be worth building:

  * the structure of the series: autocorrelation of 10-minute log changes at lags of
    10 min .. 1 week (a positive value at lag 6 = 1 hour hints at hourly jobs);
  * deseasonalised persistence: the last window divided by its slot factor (slot = position
    in a period of 1 h or 6 h, factors = mean log-deviation over the last K periods),
    multiplied by the target slot's factor;
  * an autoregression of the 10-minute log changes on their own lags (least squares on all
    history before the origin, iterated six steps);
  * per-client model choice: each of the 162 clients gets, at each origin, whichever of
    persistence / mean of the last 3 windows / same slot yesterday / same slot last week /
    same slot last hour had the smallest error on its own last W origins whose targets are
    already known; the clients' forecasts are summed.

Usage: python benchmarks/forecast_short_probes.py
Reads ../shared (allowed for benchmarks); prints numbers only.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from preserve_cli.demand.servegen import _read_trace

REPO = Path(__file__).resolve().parents[1]
SERVEGEN = REPO / ".." / "shared" / "data" / "traces" / "servegen" / "language" / "m-large"
DAY = 144            # 10-minute windows per day
HORIZON = 6          # one hour ahead
FIRST_ORIGIN = 7 * DAY


def client_matrix() -> np.ndarray:
    """Requests per client (rows) and 10-minute window (columns), as `preserve demand` sums them."""
    files = sorted(SERVEGEN.glob("chunk-*-trace.csv"))
    starts_rates = [_read_trace(path) for path in files]
    windows = max(int(starts[-1]) for starts, _ in starts_rates) + 1
    matrix = np.zeros((len(files), windows))
    for row, (starts, requests) in enumerate(starts_rates):
        matrix[row, starts] = requests
    return matrix


def wape(total: np.ndarray, forecast) -> float:
    origins = range(FIRST_ORIGIN, len(total) - HORIZON)
    error = sum(np.abs(total[o:o + HORIZON] - forecast(o)).sum() for o in origins)
    return error / sum(total[o:o + HORIZON].sum() for o in origins)


def deseasonalised(total: np.ndarray, period: int, periods: int):
    logs = np.log(np.maximum(total, 1.0))

    def forecast(origin: int) -> np.ndarray:
        start = origin - period * periods
        block = logs[start:origin].reshape(periods, period)
        factors = (block - block.mean(axis=1, keepdims=True)).mean(axis=0)
        slot = lambda t: (t - start) % period
        level = logs[origin - 1] - factors[slot(origin - 1)]
        return np.exp(level + factors[[slot(origin + h) for h in range(HORIZON)]])
    return forecast


def log_change_autoregression(total: np.ndarray, lags: list[int]):
    logs = np.log(np.maximum(total, 1.0))
    changes = np.diff(logs)          # changes[t] = logs[t + 1] - logs[t]

    def forecast(origin: int) -> np.ndarray:
        rows = np.arange(max(lags), origin - 1)      # changes known at the origin
        features = np.stack([changes[rows - lag] for lag in lags], axis=1)
        weights = np.linalg.lstsq(features, changes[rows], rcond=None)[0]
        history = list(changes[:origin - 1])
        level, path = logs[origin - 1], []
        for _ in range(HORIZON):
            step = float(np.array([history[-lag] for lag in lags]) @ weights)
            history.append(step)
            level += step
            path.append(level)
        return np.exp(np.array(path))
    return forecast


def client_candidates(matrix: np.ndarray, origin: int) -> np.ndarray:
    """(candidate, client, lead) forecasts from each client's own history."""
    last = np.repeat(matrix[:, origin - 1:origin], HORIZON, axis=1)
    mean3 = np.repeat(matrix[:, origin - 3:origin].mean(axis=1, keepdims=True), HORIZON, axis=1)
    yesterday = matrix[:, origin - DAY:origin - DAY + HORIZON]
    week_ago = matrix[:, origin - 7 * DAY:origin - 7 * DAY + HORIZON] if origin >= 7 * DAY else yesterday
    last_hour = matrix[:, [origin - HORIZON + (h % HORIZON) for h in range(HORIZON)]]
    return np.stack([last, mean3, yesterday, week_ago, last_hour])


def per_client_choice(matrix: np.ndarray, window: int) -> float:
    total = matrix.sum(axis=0)
    first = FIRST_ORIGIN - window - HORIZON
    candidates = {o: client_candidates(matrix, o) for o in range(first, len(total) - HORIZON)}
    errors = {o: np.abs(c - matrix[None, :, o:o + HORIZON]).sum(axis=2) for o, c in candidates.items()}
    clients = np.arange(matrix.shape[0])

    def forecast(origin: int) -> np.ndarray:
        known = range(origin - HORIZON - window + 1, origin - HORIZON + 1)   # targets already observed
        best = sum(errors[o] for o in known).argmin(axis=0)
        return candidates[origin][best, clients].sum(axis=0)
    return wape(total, forecast)


def main() -> None:
    began = time.perf_counter()
    matrix = client_matrix()
    total = matrix.sum(axis=0)
    changes = np.diff(np.log(total))
    print(f"m-large: {matrix.shape[0]} clients, {matrix.shape[1]} ten-minute windows")
    print("autocorrelation of 10-minute log changes by lag (windows):")
    for lag in (1, 2, 3, 6, 12, 36, DAY, 7 * DAY):
        print(f"  lag {lag:>4}: {np.corrcoef(changes[lag:], changes[:-lag])[0, 1]:+.3f}")
    base = wape(total, lambda o: np.full(HORIZON, total[o - 1]))
    print(f"persistence WAPE {base:.4f} (the issue: 19.8%)")
    origins = range(FIRST_ORIGIN, len(total) - HORIZON)
    errors = np.array([np.abs(total[o:o + HORIZON] - total[o - 1]) for o in origins])
    actuals = np.array([total[o:o + HORIZON] for o in origins])
    by_lead = errors.sum(axis=0) / actuals.sum(axis=0)
    print("  by lead 1-6: " + " ".join(f"{value:.3f}" for value in by_lead))
    one_step = np.sort(errors[:, 0])[::-1]
    print(f"  share of the lead-1 error in its largest 5% of windows: {one_step[:len(one_step) // 20].sum() / one_step.sum():.3f}")
    print("deseasonalised persistence (period windows, K periods): WAPE, ratio to persistence")
    for period, periods in ((6, 8), (6, 24), (6, 48), (36, 8), (36, 24)):
        score = wape(total, deseasonalised(total, period, periods))
        print(f"  period {period:>2} x {periods:>2}: {score:.4f}  {score / base:.3f}x")
    print("autoregression of log changes on lags: WAPE, ratio to persistence")
    for lags in ([1, 2], [1, 2, 3, 6, 12], list(range(1, 13)) + [36, DAY]):
        score = wape(total, log_change_autoregression(total, lags))
        print(f"  lags {','.join(map(str, lags))}: {score:.4f}  {score / base:.3f}x")
    print("per-client model choice over the last W origins: WAPE, ratio to persistence")
    for window in (36, 72, 144):
        score = per_client_choice(matrix, window)
        print(f"  W = {window:>3}: {score:.4f}  {score / base:.3f}x")
    print(f"({time.perf_counter() - began:.1f} s)")


if __name__ == "__main__":
    main()
