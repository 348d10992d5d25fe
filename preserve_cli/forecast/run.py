"""Forecast every series and metric of a demand file: the forecast stage's library API."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from preserve_cli.demand.schema import Demand, DemandSeries
from preserve_cli.durations import format_duration
from preserve_cli.errors import InputError
from preserve_cli.forecast.base import band_note
from preserve_cli.forecast.calibration import lead_band
from preserve_cli.forecast.holidays import HolidayCalendar
from preserve_cli.forecast.registry import DEFAULT_MODEL, check_model_name
from preserve_cli.forecast.rolling import SeriesRolling
from preserve_cli.forecast.schema import FORECAST_METRICS, Forecast, SeriesForecast, column_quantile, quantile_column
from preserve_cli.forecast.selection import choose
from preserve_cli.timeutil import parse_iso, to_iso

MEDIAN = 0.5


def normalize_quantiles(quantiles: Sequence[float]) -> tuple[float, ...]:
    """Sorted, unique, each in (0, 1), and always with the median (forecast.csv needs p50)."""
    levels = {MEDIAN}
    for q in quantiles:
        try:
            value = float(q)
        except (TypeError, ValueError):
            raise InputError(f"quantile {q!r} is not a number", field="quantiles",
                             fix="write levels between 0 and 1, e.g. 0.5,0.9,0.99") from None
        if not 0 < value < 1 or math.isnan(value):
            raise InputError(f"quantile {q!r} is not strictly between 0 and 1", field="quantiles",
                             fix="write levels between 0 and 1, e.g. 0.5,0.9,0.99")
        # The column name keeps 4 decimals of the percentage (p99.95); more would be lost on writing.
        written = column_quantile(quantile_column(value))
        if written is None or abs(written - value) > 1e-12:
            raise InputError(f"quantile {q!r} has more digits than a column name keeps", field="quantiles",
                             fix="use at most 6 decimals, e.g. 0.995")
        levels.add(value)
    return tuple(sorted(levels))


def check_horizon(horizon_s: int, window_s: int, source: str | None) -> int:
    if isinstance(horizon_s, bool) or not isinstance(horizon_s, (int, np.integer)) or horizon_s <= 0:
        raise InputError(f"horizon {horizon_s!r} is not a positive number of seconds", field="horizon",
                         fix="write it like 1d or 7d")
    if horizon_s % window_s:
        raise InputError(f"horizon {format_duration(int(horizon_s))} is not a multiple of the "
                         f"{format_duration(window_s)} window of the demand", file=source, field="horizon",
                         fix=f"use a multiple of {format_duration(window_s)}, e.g. "
                             f"{format_duration(max(1, horizon_s // window_s) * window_s)}")
    return int(horizon_s // window_s)


def series_rolling(series: DemandSeries, metric: str, holidays: HolidayCalendar | None = None) -> SeriesRolling:
    """The rolling-origin view of one metric of a series (full-window estimates)."""
    return SeriesRolling(series.starts, series.full_window_estimate(metric),
                         series.full_window_estimate("requests"), series.window_s, holidays)


def origin_index(series: DemandSeries, start: np.datetime64 | None, source: str | None) -> int:
    """How many windows of the series lie before `start` (all of them when None)."""
    if start is None:
        return len(series)
    offset = int((start - series.starts[0]) / np.timedelta64(1, "s"))
    if offset % series.window_s:
        raise InputError(f"start {to_iso(start)} is not on the {format_duration(series.window_s)} grid of "
                         f"series {series.key!r} (first window {to_iso(series.starts[0])})", file=source,
                         field="start",
                         fix="pick a window start of the demand file, or one a whole number of windows later")
    return int(np.clip(offset // series.window_s, 0, len(series)))


@contextmanager
def progress_bar(total: int, enabled: bool) -> Iterator[Progress | None]:
    console = Console(stderr=True)
    # Off a terminal (CI logs, pipes) a transient bar would leave only a stray blank line.
    if not enabled or total < 2 or not console.is_terminal:
        yield None
        return
    progress = Progress(TextColumn("forecast {task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=console, transient=True)
    with progress:
        yield progress


def forecast_demand(
    demand: Demand,
    horizon_s: int,
    *,
    quantiles: Sequence[float] = (0.5, 0.9),
    model: str = DEFAULT_MODEL,
    metrics: Sequence[str] = FORECAST_METRICS,
    start: np.datetime64 | str | None = None,
    holidays: HolidayCalendar | None = None,
    progress: bool = False,
    source: str | None = None,
) -> Forecast:
    """Forecast `horizon_s` of demand per series and metric.

    History values are full-window estimates (observed / coverage), missing windows are
    left out of every fit. The forecast of a series starts at the window after its last
    window, or at `start` (on the series' grid; only history before it is used, which
    makes backtests one call). With `holidays` (`holidays.parse_holidays`) holiday
    windows are forecast as days off, at the effect measured on the history's holidays. `model` is a registered name or `auto`; when a history
    is too short for it the fallback is stated in the series' note, its `model` and
    `Forecast.notes`. `progress` shows a Rich bar on stderr (on a terminal); `source`
    names the demand file in error messages.
    """
    window_s = demand.window_s
    windows = check_horizon(horizon_s, window_s, source)
    levels = normalize_quantiles(quantiles)
    check_model_name(model)
    for metric in metrics:
        if metric not in FORECAST_METRICS:
            raise InputError(f"unknown metric {metric!r}", field="metrics",
                             fix=f"use any of {', '.join(FORECAST_METRICS)}")
    if start is None:
        origin = None
    else:
        origin = parse_iso(start, field="start") if isinstance(start, str) else np.datetime64(start, "s")
    tasks = [(key, metric) for key in demand.keys() for metric in metrics]
    result: list[SeriesForecast] = []
    notes: list[str] = []
    with progress_bar(len(tasks), progress) as bar:
        task_id = bar.add_task("", total=len(tasks)) if bar else None
        for key, metric in tasks:
            if bar:
                bar.update(task_id, description=f"{key} {metric}")
            series = demand.series[key]
            position = origin_index(series, origin, source)
            rolling = series_rolling(series, metric, holidays)
            if rolling.prepared(position).clean.n_observed == 0:
                where = f" before {to_iso(origin)}" if origin is not None else ""
                notes.append(f"{key}/{metric}: not forecast: no observed window{where}")
            else:
                step = np.timedelta64(window_s, "s")
                first = series.starts[-1] + step if origin is None else origin
                starts = first + step * np.arange(windows)
                result.append(forecast_from(rolling, position, starts, levels, model, key=key, metric=metric))
                if result[-1].note:
                    notes.append(f"{key}/{metric}: {result[-1].note}")
            if bar:
                bar.advance(task_id)
    if not result:
        where = f" before {to_iso(origin)}" if origin is not None else ""
        raise InputError(f"nothing to forecast: no series has an observed window{where}", file=source,
                         fix="pass a demand file with values" + (", and a --start after them" if where else ""))
    return Forecast(window_s=window_s, series=result, notes=notes)


def forecast_from(rolling: SeriesRolling, origin: int, starts: np.ndarray, levels: tuple[float, ...],
                  requested: str, *, key: str, metric: str) -> SeriesForecast:
    """The forecast of `starts` from the history before position `origin` (which has an
    observed window): the model chosen, its median, and the band from its backtest."""
    choice = choose(rolling, origin, requested, horizon_windows=len(starts))
    median = rolling.with_day_off(np.maximum(choice.model.point(starts), 0.0), starts, origin)
    errors, error_leads = choice.folds.errors_with_leads()
    # Lead of each forecast window: windows after the origin (the first one is lead 1).
    leads = 1 + (starts - rolling.starts[0]) // np.timedelta64(rolling.window_s, "s") - origin
    cleaning = "; ".join(filter(None, (rolling.prepared(origin).cleaning.describe(), rolling.day_off_note(origin))))
    return SeriesForecast(
        key=key, metric=metric, model=choice.model.name, window_s=rolling.window_s,
        starts=starts.astype("datetime64[s]"),
        quantiles=lead_band(median, leads.astype(np.int64), errors, error_leads, levels),
        note="; ".join(filter(None, (choice.note, choice.model.detail, cleaning, band_note(errors.size, levels)))),
        backtest_wape=choice.folds.wape() if choice.folds.origins else None,
    )
