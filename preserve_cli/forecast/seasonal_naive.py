"""Seasonal naive: each future window repeats the latest observed window at the same
time of day (or of week). The classic benchmark every forecaster must beat
(Hyndman & Athanasopoulos, "Forecasting: Principles and Practice", 3rd ed., §5.2).

A missing window is skipped, not read as zero: the value comes from the latest period
in which that slot was observed.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from preserve_cli.durations import format_duration
from preserve_cli.forecast.base import ForecastModel
from preserve_cli.forecast.history import DAY_S, WEEK_S, History, slots, windows_per


class SeasonalNaive(ForecastModel):
    period_s: ClassVar[int]

    def __init__(self) -> None:
        self._history: History | None = None
        self._latest: dict[int, float] = {}

    @classmethod
    def unfit_reason(cls, history: History) -> str | None:
        per_period = windows_per(cls.period_s, history.window_s)
        if per_period is None:
            return f"the {format_duration(history.window_s)} window does not divide {format_duration(cls.period_s)}"
        seen = np.unique(slots(history.starts[history.observed], history.window_s, cls.period_s))
        if seen.size < per_period:
            return (f"needs every window of a {format_duration(cls.period_s)} observed at least once; "
                    f"{per_period - seen.size} of {per_period} never were")
        return None

    def fit(self, history: History) -> None:
        self._history = history
        observed = history.observed
        slot = slots(history.starts[observed], history.window_s, self.period_s)
        # Later windows overwrite earlier ones: the dict keeps the latest observation per slot.
        self._latest = dict(zip(slot.tolist(), history.values[observed].tolist(), strict=True))

    def point(self, starts: np.ndarray) -> np.ndarray:
        wanted = slots(starts, self._fitted().window_s, self.period_s)
        return np.array([self._latest[s] for s in wanted.tolist()], dtype=float)

    def _fitted(self) -> History:
        if self._history is None:
            raise RuntimeError(f"{self.name}: fit() before point()")
        return self._history


class SeasonalNaiveDay(SeasonalNaive):
    name = "seasonal-naive-day"
    summary = "the same window one day earlier, repeated"
    period_s = DAY_S


class SeasonalNaiveWeek(SeasonalNaive):
    name = "seasonal-naive-week"
    summary = "the same window one week earlier, repeated"
    period_s = WEEK_S
