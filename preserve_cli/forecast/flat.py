"""Flat: every future window gets the mean of the last day of observed windows (or of
all observed windows when there is less than a day). The model of last resort for a
history too short to show any daily pattern.
"""

from __future__ import annotations

import math

import numpy as np

from preserve_cli.forecast.base import ForecastModel
from preserve_cli.forecast.history import DAY_S, History


class Flat(ForecastModel):
    name = "flat"
    summary = "the mean of the last day of observed windows"

    def __init__(self) -> None:
        self._history: History | None = None
        self._level = math.nan

    @classmethod
    def unfit_reason(cls, history: History) -> str | None:
        return None if history.n_observed > 0 else "no observed window"

    @staticmethod
    def _window_count(history: History) -> int:
        return max(1, math.ceil(DAY_S / history.window_s))

    def fit(self, history: History) -> None:
        self._history = history
        recent = history.observed_values()[-self._window_count(history):]
        self._level = float(recent.mean())

    def point(self, starts: np.ndarray) -> np.ndarray:
        if self._history is None:
            raise RuntimeError("flat: fit() before point()")
        return np.full(len(starts), self._level)
