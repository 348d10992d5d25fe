"""Backtest: forecast the past from rolling origins, with each model, and score it.

From each origin the forecast is exactly what `forecast_demand(..., start=origin)`
would have produced (same model choice, band and cleaning; only the history before
the origin is used); it is compared with what then happened. Origins are spaced by
`every_s` (default: the horizon, so forecasts do not overlap) and the last one ends
its horizon at the end of the data.

Scores per model and metric (pooled over series and origins):
* WAPE = sum |actual - p50| / sum actual, the headline (robust on near-empty windows);
* MAPE = mean |actual - p50| / actual over windows with actual > 0;
* coverage of each upper quantile: the share of windows with actual <= p_q;
* width: mean p90 / p50, how much the band costs.
Windows with no actual (missing, or a collection drop-out) are written with an empty
`actual` and not scored.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from preserve_cli.demand.schema import Demand
from preserve_cli.durations import format_duration
from preserve_cli.errors import InputError
from preserve_cli.fileio import write_text_atomic
from preserve_cli.forecast.dirty import dropout_mask
from preserve_cli.forecast.holidays import HolidayCalendar
from preserve_cli.forecast.registry import AUTO, MODELS, check_model_name
from preserve_cli.forecast.run import check_horizon, forecast_from, normalize_quantiles, progress_bar, series_rolling
from preserve_cli.forecast.schema import FORECAST_METRICS, SeriesForecast, quantile_column
from preserve_cli.timeutil import to_iso

MEDIAN = 0.5
DEFAULT_ORIGINS = 7


@dataclass(frozen=True)
class Scored:
    """One model's forecast of one series metric from one origin, and what happened."""

    model: str               # what was asked for (a model name or `auto`)
    origin: np.datetime64
    forecast: SeriesForecast
    actual: np.ndarray       # NaN = not observed (not scored)


@dataclass
class Backtest:
    window_s: int
    horizon_s: int
    every_s: int
    origins: list[np.datetime64]
    models: list[str]
    levels: tuple[float, ...]
    results: list[Scored] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def of(self, model: str, metric: str | None = None, key: str | None = None) -> list[Scored]:
        return [r for r in self.results if r.model == model and (metric is None or r.forecast.metric == metric)
                and (key is None or r.forecast.key == key)]


def all_models() -> list[str]:
    return [*MODELS, AUTO]


def parse_models(text: str | Sequence[str] | None) -> list[str]:
    """`None` or "all": every model and auto; else a comma-separated list of names."""
    if text is None:
        return all_models()
    names = [part.strip() for part in (text.split(",") if isinstance(text, str) else text) if part.strip()]
    if not names or names == ["all"]:
        return all_models()
    for name in names:
        check_model_name(name)
    return list(dict.fromkeys(names))


def backtest_origins(demand: Demand, horizon_windows: int, every_windows: int, count: int,
                     source: str | None) -> list[np.datetime64]:
    """`count` origins spaced `every_windows` apart, the last one a horizon before the end."""
    step = np.timedelta64(demand.window_s, "s")
    first = min(s.starts[0] for s in demand.series.values())
    end = max(s.starts[-1] for s in demand.series.values()) + step
    last = end - horizon_windows * step
    origins = [last - k * every_windows * step for k in range(count - 1, -1, -1)]
    usable = [o for o in origins if o > first]
    if not usable:
        span = format_duration(int((end - first) / np.timedelta64(1, "s")))
        raise InputError(f"the demand covers {span}: no room for a backtest origin with a "
                         f"{format_duration(horizon_windows * demand.window_s)} horizon", file=source,
                         field="horizon", fix="use a shorter --horizon or a longer demand file")
    return usable


def scored_actual(values: np.ndarray, requests: np.ndarray, window_s: int) -> np.ndarray:
    """What is scored: the full-window estimates, drop-outs to 0 made missing."""
    scored = values.copy()
    scored[dropout_mask(requests, window_s)] = np.nan
    return scored


def backtest_demand(demand: Demand, horizon_s: int, *, origins: int = DEFAULT_ORIGINS, every_s: int | None = None,
                    models: Sequence[str] | None = None, quantiles: Sequence[float] = (0.5, 0.9, 0.99),
                    metrics: Sequence[str] = FORECAST_METRICS, holidays: HolidayCalendar | None = None,
                    progress: bool = False, source: str | None = None) -> Backtest:
    """Forecast every series and metric from `origins` past origins with each of `models`
    (`holidays` as in `forecast_demand`)."""
    window_s = demand.window_s
    horizon = check_horizon(horizon_s, window_s, source)
    every = horizon if every_s is None else _check_every(every_s, window_s, source)
    if isinstance(origins, bool) or not isinstance(origins, (int, np.integer)) or origins < 1:
        raise InputError(f"origins {origins!r} is not a positive whole number", field="origins",
                         fix="pass e.g. --origins 7")
    names = parse_models(models)
    levels = normalize_quantiles(quantiles)
    starts_of = backtest_origins(demand, horizon, every, int(origins), source)
    result = Backtest(window_s, int(horizon_s), every * window_s, starts_of, names, levels)
    tasks = [(key, metric) for key in demand.keys() for metric in metrics]
    step = np.timedelta64(window_s, "s")
    with progress_bar(len(tasks) * len(names), progress) as bar:
        task_id = bar.add_task("", total=len(tasks) * len(names)) if bar else None
        for key, metric in tasks:
            series = demand.series[key]
            rolling = series_rolling(series, metric, holidays)
            actual_all = scored_actual(rolling.values, rolling.requests, window_s)
            skipped = 0
            for name in names:
                if bar:
                    bar.update(task_id, description=f"backtest {key} {metric} {name}")
                for origin in starts_of:
                    position = int((origin - series.starts[0]) // step)
                    if position <= 0 or rolling.prepared(position).clean.n_observed == 0:
                        skipped += 1
                        continue
                    starts = origin + step * np.arange(horizon)
                    index = position + np.arange(horizon)
                    inside = index < len(series)
                    actual = np.full(horizon, np.nan)
                    actual[inside] = actual_all[index[inside]]
                    forecast = forecast_from(rolling, min(position, len(series)), starts, levels, name,
                                             key=key, metric=metric)
                    result.results.append(Scored(name, origin, forecast, actual))
                if bar:
                    bar.advance(task_id)
            if skipped:
                result.notes.append(f"{key}/{metric}: {skipped // len(names)} origin(s) skipped: "
                                    "no observed history before them")
    return result


def _check_every(every_s: int, window_s: int, source: str | None) -> int:
    if isinstance(every_s, bool) or not isinstance(every_s, (int, np.integer)) or every_s <= 0 or every_s % window_s:
        raise InputError(f"origin spacing {every_s!r}s is not a positive multiple of the "
                         f"{format_duration(window_s)} window", file=source, field="every",
                         fix=f"use a multiple of {format_duration(window_s)}, e.g. {format_duration(window_s)}")
    return int(every_s // window_s)


@dataclass(frozen=True)
class Score:
    model: str
    metric: str
    windows: int            # scored windows
    wape: float
    mape: float
    coverage: dict[float, float]   # upper quantile -> share of windows with actual <= it
    width: float            # mean p90 / p50 (NaN without p90)
    picked: dict[str, int]  # model actually used -> windows (differs from `model` for auto and fallbacks)


def score(items: list[Scored], model: str, metric: str, levels: tuple[float, ...]) -> Score | None:
    if not items:
        return None
    actual = np.concatenate([r.actual for r in items])
    quantiles = {q: np.concatenate([r.forecast.at(q) for r in items]) for q in levels}
    known = ~np.isnan(actual)
    if not known.any():
        return None
    a, p50 = actual[known], quantiles[MEDIAN][known]
    total = float(a.sum())
    error = np.abs(a - p50)
    positive = a > 0
    p90 = quantiles.get(0.9)
    with np.errstate(divide="ignore", invalid="ignore"):
        width = float(np.mean(np.where(p50 > 0, p90[known] / p50, np.nan))) if p90 is not None else math.nan
    picked: dict[str, int] = {}
    for r in items:
        picked[r.forecast.model] = picked.get(r.forecast.model, 0) + int((~np.isnan(r.actual)).sum())
    return Score(
        model=model, metric=metric, windows=int(known.sum()),
        wape=float(error.sum() / total) if total > 0 else math.nan,
        mape=float(np.mean(error[positive] / a[positive])) if positive.any() else math.nan,
        coverage={q: float(np.mean(a <= quantiles[q][known])) for q in levels if q > MEDIAN},
        width=width, picked=dict(sorted(picked.items())),
    )


def scores(backtest: Backtest, metrics: Sequence[str] = FORECAST_METRICS) -> list[Score]:
    """Per model and metric, pooled over series and origins (models in the order asked)."""
    out = []
    for model in backtest.models:
        for metric in metrics:
            s = score(backtest.of(model, metric), model, metric, backtest.levels)
            if s is not None:
                out.append(s)
    return out


def backtest_to_csv(backtest: Backtest) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["series", "metric", "model", "chosen", "origin", "window_start", "lead", "actual",
                     *map(quantile_column, backtest.levels)])
    order = {name: i for i, name in enumerate(backtest.models)}
    ordered = sorted(backtest.results, key=lambda r: (r.forecast.key, FORECAST_METRICS.index(r.forecast.metric),
                                                      order[r.model], r.origin))
    for r in ordered:
        f = r.forecast
        for i, start in enumerate(f.starts):
            actual = r.actual[i]
            writer.writerow([f.key, f.metric, r.model, f.model, to_iso(r.origin), to_iso(start), i + 1,
                             "" if math.isnan(actual) else f"{actual:.10g}",
                             *(f"{float(f.quantiles[q][i]):.6g}" for q in backtest.levels)])
    return buffer.getvalue()


def write_backtest(backtest: Backtest, path: str) -> None:
    write_text_atomic(path, backtest_to_csv(backtest))
