"""The history a forecast model learns from: one metric of one series on a regular grid.

Missing windows stay NaN here. Every model must treat NaN as "not observed" and never
as zero demand: a collection gap read as zero would pull every forecast down.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DAY_S = 86_400
WEEK_S = 7 * DAY_S


@dataclass(frozen=True)
class History:
    starts: np.ndarray   # datetime64[s] UTC, strictly increasing by window_s
    values: np.ndarray   # float64 per window (full-window estimate); NaN = missing window
    window_s: int

    def __post_init__(self) -> None:
        if len(self.starts) != len(self.values):
            raise ValueError("starts and values differ in length")

    def __len__(self) -> int:
        return len(self.starts)

    @property
    def observed(self) -> np.ndarray:
        return ~np.isnan(self.values)

    @property
    def n_observed(self) -> int:
        return int(self.observed.sum())

    @property
    def observed_s(self) -> int:
        """Seconds of demand actually observed (missing windows do not count)."""
        return self.n_observed * self.window_s

    @property
    def span_s(self) -> int:
        """From the first to the end of the last observed window (gaps inside count)."""
        idx = np.flatnonzero(self.observed)
        if idx.size == 0:
            return 0
        return int((self.starts[idx[-1]] - self.starts[idx[0]]) / np.timedelta64(1, "s")) + self.window_s

    def observed_values(self) -> np.ndarray:
        return self.values[self.observed]

    def split(self, index: int, end: int | None = None) -> Split:
        """Windows [0, index) to fit on, windows [index, end) to score the forecast on."""
        test = slice(index, end)
        return Split(History(self.starts[:index], self.values[:index], self.window_s),
                     self.starts[test], self.values[test])

    def next_starts(self, count: int) -> np.ndarray:
        """The `count` windows that follow the last window of the history."""
        step = np.timedelta64(self.window_s, "s")
        return self.starts[-1] + step * np.arange(1, count + 1)


@dataclass(frozen=True)
class Split:
    """A backtest split: fit on `train`, forecast `test_starts`, compare with `actual`."""

    train: History
    test_starts: np.ndarray
    actual: np.ndarray   # NaN = missing window (not scored)


def slots(starts: np.ndarray, window_s: int, period_s: int) -> np.ndarray:
    """Position of each window inside a period (hour of day, hour of week ...).

    Counted from the Unix epoch, a Thursday 00:00 UTC: any fixed origin works because
    only equality of slots matters.
    """
    seconds = starts.astype("datetime64[s]").astype(np.int64)
    return (seconds // window_s) % (period_s // window_s)


def windows_per(period_s: int, window_s: int) -> int | None:
    """How many windows a period holds, or None when the window does not divide it."""
    if window_s > period_s or period_s % window_s:
        return None
    return period_s // window_s


def log_errors(actual: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Errors as log1p ratios, on windows where both are known.

    Ratios rather than differences because the noise of request traffic grows with
    its level: a band built from ratios is wide at the peak and narrow at night.
    """
    known = ~np.isnan(actual) & ~np.isnan(predicted)
    return np.log1p(actual[known]) - np.log1p(np.maximum(predicted[known], 0.0))


def forward_filled(values: np.ndarray) -> np.ndarray:
    """Each position holds the latest observed value at or before it (NaN before the first)."""
    index = np.where(~np.isnan(values), np.arange(values.size), -1)
    latest = np.maximum.accumulate(index) if values.size else index
    return np.where(latest >= 0, values[np.maximum(latest, 0)], np.nan)


def trailing_mean(values: np.ndarray, span: int) -> np.ndarray:
    """out[i] = mean of the observed values among values[i - span + 1 .. i] (NaN when none)."""
    known = ~np.isnan(values)
    sums = np.concatenate([[0.0], np.cumsum(np.where(known, values, 0.0))])
    counts = np.concatenate([[0], np.cumsum(known)])
    end = np.arange(1, values.size + 1)
    begin = np.maximum(end - span, 0)
    n = counts[end] - counts[begin]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (sums[end] - sums[begin]) / np.maximum(n, 1), np.nan)


def wape(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Weighted absolute percentage error, sum|err| / sum actual, over known windows."""
    known = ~np.isnan(actual) & ~np.isnan(predicted)
    total = float(np.abs(actual[known]).sum())
    if total == 0:
        return 0.0 if float(np.abs(predicted[known]).sum()) == 0 else float("inf")
    return float(np.abs(actual[known] - predicted[known]).sum()) / total
