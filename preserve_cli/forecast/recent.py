"""Models that forecast from the most recent windows: what a re-plan every hour with a
1-2 hour horizon needs.

* persistence: the last observed window, repeated (the issue's one-hour-ahead baseline).
* recent-level: the last observed window, decaying toward the level of the last day
  at the series' own rate. In log1p space, with L the mean of the last day and x the
  last observed window, the forecast `lead` windows after x is

      L + rho**lead * (x - L)

  i.e. an AR(1) of the deviations from the trailing level (Box & Jenkins, "Time Series
  Analysis", ch. 3). rho is the least-squares lag-1 coefficient of those deviations
  on the history itself, clipped to [0, 1): 0 gives the day's level at once (a noisy
  series), near 1 keeps the last window for hours (a smooth one). One window ahead it
  is close to persistence; a day ahead, the day's level.

`anchor()` is also the starting point the gradient-boosting model learns corrections to.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from preserve_cli.forecast.base import ForecastModel
from preserve_cli.forecast.history import DAY_S, History, forward_filled, trailing_mean

MIN_LEVEL_WINDOWS = 7   # with daily windows a "day" is one window: the level takes a week of them
MAX_RHO = 0.999         # rho = 1 would never return to the level


def level_windows(window_s: int) -> int:
    """How many windows the trailing level averages: one day, and at least 7 windows."""
    return max(math.ceil(DAY_S / window_s), MIN_LEVEL_WINDOWS)


@dataclass(frozen=True)
class RecentState:
    """Per position i of a series (log1p values), what was known before window i."""

    last: np.ndarray    # the latest observed log1p value before i
    level: np.ndarray   # mean of the observed log1p values of the level span before i

    @classmethod
    def of(cls, log_values: np.ndarray, window_s: int) -> RecentState:
        """Position i = values[:i] known, for i in 0..n (n + 1 entries)."""
        padded = np.concatenate([[np.nan], log_values])
        last = forward_filled(padded)
        level = trailing_mean(padded, level_windows(window_s))
        # Too few observations in the span (a long gap): the level is the last value seen.
        return cls(last=last, level=np.where(np.isnan(level), last, level))


def ar1_rate(log_values: np.ndarray, window_s: int) -> float:
    """Least-squares lag-1 coefficient of the deviations from the trailing level."""
    state = RecentState.of(log_values, window_s)
    i = np.arange(1, log_values.size)                # window i, with window i - 1 before it
    level = state.level[i]                           # the level known before window i
    now = log_values[i] - level
    before = log_values[i - 1] - level
    known = ~np.isnan(now) & ~np.isnan(before)
    denominator = float(np.sum(before[known] ** 2))
    if denominator == 0.0:
        return 0.0
    return float(np.clip(np.sum(now[known] * before[known]) / denominator, 0.0, MAX_RHO))


def leads_after(history: History, starts: np.ndarray) -> np.ndarray:
    """Windows from the last observed window of `history` to each of `starts` (>= 1)."""
    last_seen = history.starts[np.flatnonzero(history.observed)[-1]]
    return ((starts - last_seen) // np.timedelta64(history.window_s, "s")).astype(np.int64)


def anchor(history: History, starts: np.ndarray, rho: float) -> np.ndarray:
    """The recent-level forecast in log1p space (see the module notes)."""
    state = RecentState.of(np.log1p(history.values), history.window_s)
    last, level = state.last[-1], state.level[-1]
    return level + rho ** leads_after(history, starts).astype(float) * (last - level)


class Persistence(ForecastModel):
    name = "persistence"
    summary = "the last observed window, repeated"

    def __init__(self) -> None:
        self._last = math.nan

    @classmethod
    def unfit_reason(cls, history: History) -> str | None:
        return None if history.n_observed > 0 else "no observed window"

    def fit(self, history: History) -> None:
        self._last = float(history.observed_values()[-1])

    def point(self, starts: np.ndarray) -> np.ndarray:
        if math.isnan(self._last):
            raise RuntimeError("persistence: fit() before point()")
        return np.full(len(starts), self._last)


class RecentLevel(ForecastModel):
    name = "recent-level"
    summary = "the last window, decaying toward the last day's level at the series' own AR(1) rate"

    def __init__(self) -> None:
        self._history: History | None = None
        self._rho = 0.0

    @classmethod
    def unfit_reason(cls, history: History) -> str | None:
        # Two observed windows in a row give one pair to estimate rho from.
        pairs = history.observed[1:] & history.observed[:-1]
        return None if pairs.any() else "needs two consecutive observed windows"

    def fit(self, history: History) -> None:
        self._history = history
        self._rho = ar1_rate(np.log1p(history.values), history.window_s)

    @property
    def rho(self) -> float:
        return self._rho

    def point(self, starts: np.ndarray) -> np.ndarray:
        if self._history is None:
            raise RuntimeError("recent-level: fit() before point()")
        return self.point_after(self._history, starts)

    def point_after(self, history: History, starts: np.ndarray) -> np.ndarray:
        return np.maximum(np.expm1(anchor(history, starts, self._rho)), 0.0)

    @property
    def detail(self) -> str:
        return f"rho {self._rho:.2f}"
