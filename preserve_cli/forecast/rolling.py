"""Rolling-origin forecasts of one series metric: the backtest inside every forecast.

Before forecasting from an origin t, each model forecasts the K stretches ("folds")
of F windows that end at t, F = min(horizon, a day), each from the history before
it. Those forecasts give the model's backtest WAPE (what `auto` ranks by) and its
errors log1p(actual) - log1p(p50) with their leads (what the p90/p99 band is
calibrated on, see `calibration.py`). For horizons over a day the forecast from each
day-long fold's origin runs on to the horizon where actuals exist, so the band of
days 2-7 comes from errors 2-7 days ahead, not from day 1's. The folds cover the last week before t, and at least 168 windows
(p99 needs 99 errors) when that is fewer than 7 folds: 7 day-ahead folds on hourly
windows, 28 one-hour folds on 10-minute windows (the last 28 hours: at short
horizons the best model changes within days: picking the lowest backtest WAPE over a
week of one-hour folds gave 20.5% WAPE on m-large requests, over 28 hours 19.3%).

Fits are the cost. A fold of a day or more is forecast from a model fit at its own
origin. Shorter folds use the model
fit at the last UTC midnight before them, forecasting from the newer windows without
learning from them (`ForecastModel.point_after`), the nightly refit of an hourly
re-planning loop; so K one-hour folds cost about K/24 fits. The forecast from t
itself always uses a model fit on everything before t.

With a holiday calendar each prepared history has its holidays' effect measured and
divided out (`holidays.py`); every forecast made from it, fold or final, gets the
effect back on its holiday windows, so the folds' errors (the band, `auto`'s ranking)
are those of the forecasts the user gets.

Everything is cached by position in the series, so a backtest over many origins of
the same series fits each (model, cut) once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from preserve_cli.forecast.base import ForecastModel
from preserve_cli.forecast.dirty import Cleaning, burst_clipped, dropout_mask
from preserve_cli.forecast.ensemble import Ensemble, geometric_mean
from preserve_cli.forecast.history import DAY_S, History, log_errors, wape
from preserve_cli.forecast.holidays import (DayOffEffect, HolidayCalendar, day_off_effect, with_day_off,
                                            without_day_off)

CALIBRATION_SPAN_S = 7 * DAY_S
MIN_FOLDS = 7
MIN_RESIDUALS = 168


def fold_length(horizon_windows: int, window_s: int) -> int:
    return max(1, min(horizon_windows, math.ceil(DAY_S / window_s)))


def fold_count(fold_windows: int, window_s: int) -> int:
    span = max(1, CALIBRATION_SPAN_S // (fold_windows * window_s))
    return min(span, max(MIN_FOLDS, math.ceil(MIN_RESIDUALS / fold_windows)))


@dataclass(frozen=True)
class Prepared:
    """The history before a cut, as the models see it."""

    raw: History       # gaps and collection drop-outs missing; what forecasts are scored against
    clean: History     # and bursts clipped, holidays' effect divided out: what models learn from
    cleaning: Cleaning
    day_off: DayOffEffect | None = None   # with a calendar: multiplied back into holiday windows ahead


@dataclass(frozen=True)
class Folds:
    """One model's forecasts of the folds before an origin.

    Each fold is ranked on its first `length` windows; for a horizon longer than a day
    the forecast from a fold origin runs on up to the horizon (or to the origin, where
    the actuals end), and those later windows give the errors at the longer leads that
    the band of days 2-7 is calibrated on (`calibration.py`)."""

    origins: tuple[int, ...]                 # fold origins it could forecast (oldest first)
    actual: dict[int, np.ndarray]            # per fold origin, from the fold origin on
    predicted: dict[int, np.ndarray]
    length: int = 0                          # windows per fold that are ranked (0: all)

    def ranked(self, origin: int) -> tuple[np.ndarray, np.ndarray]:
        """Actual and predicted of the ranked windows of the fold at `origin`."""
        end = self.length or None
        return self.actual[origin][:end], self.predicted[origin][:end]

    def errors_with_leads(self) -> tuple[np.ndarray, np.ndarray]:
        """log1p errors of every window with an actual, and their leads (1 = first window)."""
        errors, leads = [np.empty(0)], [np.empty(0, dtype=np.int64)]
        for o in self.origins:
            actual, predicted = self.actual[o], self.predicted[o]
            known = ~np.isnan(actual) & ~np.isnan(predicted)
            errors.append(log_errors(actual, predicted))
            leads.append(np.flatnonzero(known) + 1)
        return np.concatenate(errors), np.concatenate(leads)

    def wape(self, origins: tuple[int, ...] | None = None) -> float:
        chosen = self.origins if origins is None else origins
        pairs = [self.ranked(o) for o in chosen]
        return wape(np.concatenate([a for a, _ in pairs]), np.concatenate([p for _, p in pairs]))


@dataclass
class SeriesRolling:
    """One metric of one series on its grid; positions index `starts`."""

    starts: np.ndarray
    values: np.ndarray          # full-window estimates, NaN = missing
    requests: np.ndarray        # full-window request estimates (for telling drop-outs from idleness)
    window_s: int
    holidays: HolidayCalendar | None = None   # days off (`holidays.py`): their effect is taken out and put back
    _calendar: tuple[np.ndarray, np.ndarray] | None = None   # holiday flags and local dates of the series
    _prepared: dict[int, Prepared] = field(default_factory=dict)
    _fits: dict[tuple[str, int], ForecastModel | None] = field(default_factory=dict)
    _folds: dict[tuple[str, int, int], np.ndarray | None] = field(default_factory=dict)

    def prepared(self, cut: int) -> Prepared:
        """Windows [0, cut), cleaned with what was known at the cut."""
        if cut not in self._prepared:
            values = self.values[:cut].copy()
            dropouts = dropout_mask(self.requests[:cut], self.window_s)
            values[dropouts] = np.nan
            clipped, bursts = burst_clipped(values, self.window_s)
            starts = self.starts[:cut]
            effect = None
            if self.holidays is not None:
                flags, local_dates = (column[:cut] for column in self.series_calendar())
                if flags.any():
                    effect = day_off_effect(clipped, flags, local_dates, self.window_s)
                if effect is not None:
                    clipped = without_day_off(clipped, flags, effect)
            self._prepared[cut] = Prepared(History(starts, values, self.window_s),
                                           History(starts, clipped, self.window_s),
                                           Cleaning(int(dropouts.sum()), bursts), effect)
        return self._prepared[cut]

    def with_day_off(self, median: np.ndarray, starts: np.ndarray, origin: int) -> np.ndarray:
        """A forecast from `origin` made on the holiday-free history, with the holidays among `starts`
        put back as days off (unchanged without a calendar or a measured effect)."""
        effect = self.prepared(origin).day_off
        if effect is None:
            return median
        return with_day_off(median, self.holiday_flags(starts), effect)

    def series_calendar(self) -> tuple[np.ndarray, np.ndarray]:
        """Holiday flags and local dates of every window of the series, computed once: a backtest
        prepares thousands of cuts and forecasts thousands of stretches of the same series."""
        if self._calendar is None:
            self._calendar = (self.holidays.flags(self.starts), self.holidays.local_dates(self.starts))
        return self._calendar

    def holiday_flags(self, starts: np.ndarray) -> np.ndarray:
        """The calendar's flags of `starts` (from `series_calendar` where they lie inside the series)."""
        first = int((starts[0] - self.starts[0]) // np.timedelta64(self.window_s, "s")) if len(starts) else 0
        if 0 <= first and first + len(starts) <= len(self.starts) and np.array_equal(
                self.starts[first:first + len(starts)], starts):
            return self.series_calendar()[0][first:first + len(starts)]
        return self.holidays.flags(starts)

    def day_off_note(self, origin: int) -> str:
        if self.holidays is None:
            return ""
        effect = self.prepared(origin).day_off
        if effect is None:
            return (f"holidays {self.holidays.describe()}: no holiday with an ordinary week beside it in the "
                    "history, no effect applied")
        return effect.describe(self.holidays)

    def can_fit(self, cls: type[ForecastModel], cut: int) -> bool:
        """Whether `cls` can be fit on the history before `cut` (without fitting it)."""
        if (cls.name, cut) in self._fits:
            return self._fits[(cls.name, cut)] is not None
        history = self.prepared(cut).clean
        return history.n_observed > 0 and cls.unfit_reason(history) is None

    def fitted(self, cls: type[ForecastModel], cut: int) -> ForecastModel | None:
        """`cls` fit on the clean history before `cut` (None when it cannot be)."""
        key = (cls.name, cut)
        if key not in self._fits:
            history = self.prepared(cut).clean
            model = None
            if issubclass(cls, Ensemble):
                # Built from the members' cached fits: a backtest of every model fits each once.
                members = [self.fitted(member, cut) for member in cls.members]
                model = cls(members) if all(m is not None for m in members) else None
            elif history.n_observed and cls.unfit_reason(history) is None:
                model = cls()
                model.fit(history)
            self._fits[key] = model
        return self._fits[key]

    def fit_cut(self, origin: int, fold_windows: int) -> int:
        """Where the model forecasting a fold from `origin` was fit (see the module notes)."""
        if fold_windows * self.window_s >= DAY_S:
            return origin
        per_day = max(1, DAY_S // self.window_s)
        since_epoch = int(self.starts[origin].astype("datetime64[s]").astype(np.int64)) // self.window_s
        return origin - since_epoch % per_day

    def fold_forecast(self, cls: type[ForecastModel], origin: int, fold_windows: int) -> np.ndarray | None:
        key = (cls.name, origin, fold_windows)
        if key not in self._folds:
            cut = self.fit_cut(origin, fold_windows)
            model = self.fitted(cls, cut)
            starts = self.starts[origin:origin + fold_windows]
            if isinstance(model, Ensemble):   # its members' fold forecasts have their days off already
                result = geometric_mean([self.fold_forecast(member, origin, fold_windows) for member in cls.members])
            elif model is None:
                result = None
            elif cut == origin:
                result = self.with_day_off(model.point(starts), starts, origin)
            else:
                result = self.with_day_off(model.point_after(self.prepared(origin).clean, starts), starts, origin)
            self._folds[key] = None if result is None else np.maximum(result, 0.0)
        return self._folds[key]

    def fold_origins(self, origin: int, horizon_windows: int) -> list[int]:
        length = fold_length(horizon_windows, self.window_s)
        count = fold_count(length, self.window_s)
        return [origin - k * length for k in range(count, 0, -1) if origin - k * length > 0]

    def folds(self, cls: type[ForecastModel], origin: int, horizon_windows: int) -> Folds:
        """`cls`'s forecasts of the folds before `origin` that it could make and that have actuals."""
        length = fold_length(horizon_windows, self.window_s)
        raw = self.prepared(origin).raw.values
        kept, actual, predicted = [], {}, {}
        for o in self.fold_origins(origin, horizon_windows):
            if np.all(np.isnan(raw[o:o + length])) or self.fold_forecast(cls, o, length) is None:
                continue
            # Past the fold, up to the horizon while actuals exist (only for horizons over a day:
            # shorter folds are fit the night before and cover the horizon already).
            reach = min(horizon_windows, origin - o) if length * self.window_s >= DAY_S else length
            kept.append(o)
            actual[o], predicted[o] = raw[o:o + reach], self.fold_forecast(cls, o, reach)
        return Folds(tuple(kept), actual, predicted, length)
