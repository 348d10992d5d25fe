"""The interface every forecast model implements, and the quantile band they share.

A model is fit on a `History` (NaN = missing window) and gives a point forecast, the
median, for any future windows. The other quantiles come from the model's errors in
a rolling-origin backtest on the recent history (`rolling.py`), as log1p ratios
actual/forecast, so every model gets a deterministic band without sampling. Pooled over
all leads (`quantile_band`, used when the errors cannot be told apart by lead):

    q > 0.5:  p_q = expm1(log1p(p50) + max(0, Q_q(errors)))
    q < 0.5:  p_q = expm1(log1p(p50) + min(0, Q_q(errors)))

Q_q is the split-conformal quantile: the ceil((n+1)q)-th smallest of n errors, which
covers a new error with probability >= q when errors are exchangeable (Vovk et al.,
"Algorithmic Learning in a Random World", 2005; Lei et al., JASA 2018). With too few
errors for the level, the largest error is used and the band is narrower than asked:
the forecast says so in its note (`band_note`). Forecasts use the lead-dependent form
of the same quantile (`calibration.py`): the band widens with the lead.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from preserve_cli.forecast.history import History


class ForecastModel(ABC):
    """Fit on a history, then predict the median of future windows."""

    name: ClassVar[str]
    summary: ClassVar[str]   # one line for --help and the docs

    @classmethod
    @abstractmethod
    def unfit_reason(cls, history: History) -> str | None:
        """Why this model cannot be fit on `history` (None when it can)."""

    @abstractmethod
    def fit(self, history: History) -> None:
        """Learn from `history`; the windows that follow it are what gets predicted."""

    @abstractmethod
    def point(self, starts: np.ndarray) -> np.ndarray:
        """The median forecast (>= 0) for windows starting at `starts` (after the history)."""

    def point_after(self, history: History, starts: np.ndarray) -> np.ndarray:
        """The median for `starts`, which follow `history`: a longer history than the fit
        one (same series), whose newer windows may be used as inputs but not learnt from.
        The backtest uses it to forecast from many origins with one fit a day. Models
        that are cheap to fit simply refit; learnt models override it."""
        fresh = type(self)()
        fresh.fit(history)
        return fresh.point(starts)

    @property
    def detail(self) -> str:
        """What the fit decided that a user may want to know (empty when nothing)."""
        return ""


def conformal_offset(errors: np.ndarray, q: float) -> float:
    """The split-conformal q-quantile of the errors (0 for the median)."""
    n = errors.size
    if n == 0 or q == 0.5:
        return 0.0
    ordered = np.sort(errors)
    if q > 0.5:
        rank = min(math.ceil((n + 1) * q), n)          # 1-based rank from the bottom
        return max(float(ordered[rank - 1]), 0.0)
    rank = max(math.floor((n + 1) * q), 1)
    return min(float(ordered[rank - 1]), 0.0)


def quantile_band(median: np.ndarray, errors: np.ndarray, quantiles: Sequence[float]) -> dict[float, np.ndarray]:
    """Quantiles around `median`, non-decreasing in q and >= 0."""
    errors = errors[np.isfinite(errors)]
    base = np.log1p(np.maximum(median, 0.0))
    band: dict[float, np.ndarray] = {}
    previous = None
    for q in sorted(quantiles):
        values = np.maximum(np.expm1(base + conformal_offset(errors, q)), 0.0)
        if q == 0.5:
            values = np.maximum(median, 0.0)  # exactly the model's median, no round trip through log
        if previous is not None:
            values = np.maximum(values, previous)
        band[q] = values
        previous = values
    return band


def band_note(n_errors: int, quantiles: Sequence[float]) -> str:
    """Say when there were too few errors to estimate the outermost quantile."""
    outer = max((max(q, 1 - q) for q in quantiles), default=0.5)
    if outer == 0.5:
        return ""
    needed = math.ceil(outer / (1 - outer))   # (n + 1) * q <= n  <=>  n >= q / (1 - q)
    if n_errors >= needed:
        return ""
    return (f"only {n_errors} past errors to estimate the p{outer * 100:g} band (needs {needed}): "
            "the band is likely too narrow")
