"""Ensemble: the geometric mean of a calendar model and a recent-level model.

Prophet knows the time of day and week but holds its level for the whole horizon;
recent-level knows where the series is now and nothing of the calendar. Their
errors differ, and averaging forecasts with different errors is the oldest reliable
gain in forecasting (Bates & Granger, "The Combination of Forecasts", 1969;
the M4 competition's lesson that combinations beat single methods, Makridakis et al.,
IJF 2020). The mean is taken in log1p space, like every model's errors.

Both count equally. Weighting recent-level more at short leads (by its own decay,
rho**lead) helped one hour ahead on 10-minute windows (21.3% WAPE on m-large requests
against 24.5%) but hurt a day ahead (mean WAPE of 5 series 56% against 54%); at
short horizons `auto` uses a recent model anyway when the backtest shows it better.

Measured (rolling day-ahead origins, days 8-14, WAPE requests / prefill / decode):
ServeGen m-large hourly 33.5 / 41.9 / 62.0% against Prophet's 33.2 / 42.6 / 60.2% and
recent-level's 34.3 / 43.4 / 71.7%; on the four client groups of m-large (clients by
id mod 4, benchmarks/forecast_backtest.py --groups) it was the best of ensemble,
Prophet, seasonal-naive-day and flat, or within 0.1 point of it, on 11 of the 12
series-metrics (the twelfth: 73.8% against Prophet's 68.5%).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from preserve_cli.forecast.base import ForecastModel
from preserve_cli.forecast.history import History
from preserve_cli.forecast.prophet_model import ProphetModel
from preserve_cli.forecast.recent import RecentLevel


def geometric_mean(medians: list[np.ndarray]) -> np.ndarray:
    """expm1 of the mean log1p: the combination of the members' medians."""
    return np.maximum(np.expm1(np.mean([np.log1p(np.maximum(m, 0.0)) for m in medians], axis=0)), 0.0)


class Ensemble(ForecastModel):
    name = "ensemble"
    summary = "geometric mean of prophet and recent-level (calendar + where the series is now)"
    members: ClassVar[tuple[type[ForecastModel], ...]] = (ProphetModel, RecentLevel)

    def __init__(self, fitted: list[ForecastModel] | None = None) -> None:
        self._members = fitted

    @classmethod
    def unfit_reason(cls, history: History) -> str | None:
        for member in cls.members:
            reason = member.unfit_reason(history)
            if reason is not None:
                return f"{member.name} {reason}"
        return None

    def fit(self, history: History) -> None:
        fitted = []
        for member in self.members:
            model = member()
            model.fit(history)
            fitted.append(model)
        self._members = fitted

    def _fitted(self) -> list[ForecastModel]:
        if self._members is None:
            raise RuntimeError("ensemble: fit() before point()")
        return self._members

    def point(self, starts: np.ndarray) -> np.ndarray:
        return geometric_mean([m.point(starts) for m in self._fitted()])

    def point_after(self, history: History, starts: np.ndarray) -> np.ndarray:
        return geometric_mean([m.point_after(history, starts) for m in self._fitted()])

    @property
    def detail(self) -> str:
        return "; ".join(f"{m.name}: {m.detail}" for m in self._fitted() if m.detail)
