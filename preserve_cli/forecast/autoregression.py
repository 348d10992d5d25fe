"""Autoregression of the log changes: short-horizon structure that persistence cannot see.

With x the log1p demand per window and c_t = x_t - x_(t-1) its change, the model is

    c_t = sum_k  w_k * c_(t - lag_k)

fit by least squares on the last four weeks (no intercept: a drift fit on a week would be
extrapolated for days), then iterated forward from the last observed window. The lags are
every window of the last two hours (at least the last 12 windows) plus 6 hours and 1 day
back, so both a bounce-back after a one-window burst (negative weight on lag 1-2) and jobs
that repeat every hour, six hours or day (positive weight there) are learnt when the series
has them, and weigh ~0 when it does not (Box & Jenkins, "Time Series Analysis", ch. 4:
an ARIMA(p, 1, 0) in log space with sparse lags).

Why: on ServeGen m-large at 10-minute windows the log changes are anti-correlated at lags
1-2 (-0.15, -0.17) and correlated at 1 h, 2 h, 6 h and a day (+0.19, +0.21, +0.14, +0.16)
(`benchmarks/forecast_short_probes.py`). One hour ahead, an origin every 10 minutes over
days 8-14, requests WAPE as a ratio to persistence (`benchmarks/forecast_backtest.py`,
docs/benchmarks.md): 0.97 on m-large, where smoothing, auto's short default, scores 0.98;
on two of its seven client groups auto now picks this model at some origins and goes from
0.92 to 0.90 and 0.87. So it is a model `auto` may pick where its backtest is clearly
better, not a new default.

Missing windows: a change that touches a NaN window is not a training row and counts as 0
when forecasting (no change is the neutral guess). Long horizons: past the longest lag (one
day for windows from 10 minutes to 2 hours) the level is held, since later changes would be forecasts
of forecasts, and the level always stays within the log range the training windows saw,
widened by 1 (a factor e) each way, so no fit can run off over a week-long horizon.
"""

from __future__ import annotations

import math

import numpy as np

from preserve_cli.forecast.base import ForecastModel
from preserve_cli.forecast.history import DAY_S, WEEK_S, History

RECENT_LAG_S = 2 * 3600          # every window of the last two hours ...
MIN_RECENT_LAGS = 12             # ... and at least the last 12 windows
SEASONAL_LAGS_S = (6 * 3600, DAY_S)
TRAIN_S = 4 * WEEK_S             # recent enough to track a changing series, long enough for ~20 weights
ROWS_PER_WEIGHT = 4              # fewer complete training rows than this per weight: not fit
# Ridge penalty, as a share of the mean feature energy: shrinks the weights toward 0 (= persistence)
# when the rows are few or the lags collinear, and costs nothing measurable on a month of
# 10-minute windows (m-large one hour ahead, refit daily: WAPE 0.976x persistence without it, 0.974x with).
RIDGE = 0.05
LEVEL_MARGIN = 1.0               # log units beyond the training range the forecast may reach


def lags_for(window_s: int) -> list[int]:
    recent = max(MIN_RECENT_LAGS, RECENT_LAG_S // window_s)
    seasonal = {period // window_s for period in SEASONAL_LAGS_S if period % window_s == 0}
    return sorted(set(range(1, recent + 1)) | {lag for lag in seasonal if lag >= 1})


def _changes(history: History) -> np.ndarray:
    """c[i] = x[i + 1] - x[i] in log1p space (NaN where either window is missing)."""
    return np.diff(np.log1p(history.values))


def _design(changes: np.ndarray, lags: list[int]) -> tuple[np.ndarray, np.ndarray]:
    rows = np.arange(max(lags), changes.size)
    features = np.stack([changes[rows - lag] for lag in lags], axis=1)
    target = changes[rows]
    complete = ~np.isnan(target) & ~np.isnan(features).any(axis=1)
    return features[complete], target[complete]


class LogChangeAutoregression(ForecastModel):
    name = "autoregression"
    summary = "autoregression of the log changes on the last windows and 6 h / 1 day back"

    def __init__(self) -> None:
        self._history: History | None = None
        self._lags: list[int] = []
        self._weights = np.zeros(0)
        self._bounds = (0.0, 0.0)

    @classmethod
    def unfit_reason(cls, history: History) -> str | None:
        lags = lags_for(history.window_s)
        recent = cls._training_span(history)
        _, target = _design(_changes(recent), lags) if len(recent) > max(lags) + 1 else (None, np.zeros(0))
        need = ROWS_PER_WEIGHT * len(lags)
        return None if target.size >= need else f"needs {need} complete windows of change, has {target.size}"

    @staticmethod
    def _training_span(history: History) -> History:
        keep = max(TRAIN_S // history.window_s, 2)
        return History(history.starts[-keep:], history.values[-keep:], history.window_s)

    def fit(self, history: History) -> None:
        recent = self._training_span(history)
        self._lags = lags_for(history.window_s)
        features, target = _design(_changes(recent), self._lags)
        gram = features.T @ features
        penalty = RIDGE * np.trace(gram) / len(self._lags)
        self._weights = np.linalg.solve(gram + penalty * np.eye(len(self._lags)), features.T @ target)
        observed = np.log1p(recent.observed_values())
        self._bounds = (max(float(observed.min()) - LEVEL_MARGIN, 0.0), float(observed.max()) + LEVEL_MARGIN)
        self._history = history

    def point(self, starts: np.ndarray) -> np.ndarray:
        if self._history is None:
            raise RuntimeError("autoregression: fit() before point()")
        return self.point_after(self._history, starts)

    def point_after(self, history: History, starts: np.ndarray) -> np.ndarray:
        """Iterate the fitted weights from the end of `history` (newer windows are inputs only)."""
        observed = np.flatnonzero(history.observed)
        last = int(observed[-1])
        steps = ((starts - history.starts[last]) / np.timedelta64(history.window_s, "s")).astype(np.int64)
        span = max(self._lags)
        past = np.nan_to_num(_changes(History(history.starts[:last + 1], history.values[:last + 1],
                                              history.window_s))[-span:])
        past = np.concatenate([np.zeros(span - past.size), past])
        lags = np.array(self._lags)
        path = np.empty(int(steps.max()) + 1)
        level = path[0] = math.log1p(history.values[last])
        buffer = list(past)
        low, high = self._bounds
        for step in range(1, path.size):
            # Past the longest lag the changes would feed on forecast changes only: the level is held.
            change = float(np.dot(self._weights, [buffer[-lag] for lag in lags])) if step <= span else 0.0
            new_level = min(max(level + change, low), high)
            buffer.append(new_level - level)
            level = path[step] = new_level
        return np.maximum(np.expm1(path[steps]), 0.0)

    @property
    def detail(self) -> str:
        if not self._lags:
            return ""
        largest = np.argsort(-np.abs(self._weights))[:2]
        return ", ".join(f"lag {self._lags[i]} {self._weights[i]:+.2f}" for i in sorted(largest))
