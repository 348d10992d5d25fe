"""What a report is drawn from: a plan, and whichever of demand history, forecast, backtest and
simulation results the user hands in. Each is read by its stage's own reader."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from preserve_cli.audit.schedule import PlannedSchedule, read_schedule
from preserve_cli.demand.schema import Demand
from preserve_cli.errors import InputError
from preserve_cli.fileio import read_input_text
from preserve_cli.forecast.schema import (
    Forecast,
    column_quantile,
    quantile_column,
    read_forecast,
)


@dataclass(frozen=True)
class BacktestScore:
    model: str
    metric: str
    windows: int
    wape: float | None                 # Σ|actual − p50| / Σ actual
    coverage: dict[str, float]         # upper quantile column -> share of windows with actual ≤ it


@dataclass
class ReportData:
    schedule: PlannedSchedule | None = None
    demand: Demand | None = None
    forecast: Forecast | None = None
    backtest: list[BacktestScore] | None = None
    simulate: dict | list | None = None
    sources: dict[str, str] = field(default_factory=dict)   # what each part was read from

    @property
    def window_s(self) -> int:
        for part in (self.schedule, self.forecast, self.demand):
            if part is not None:
                return part.window_s
        return 3600


def read_backtest_scores(path: str | Path) -> list[BacktestScore]:
    """backtest.csv (docs/formats.md) -> scores per model and metric, pooled over series and origins."""
    name = str(path)
    text = read_input_text(name, expected="a backtest.csv written by `preserve forecast --backtest`")
    rows = list(csv.DictReader(io.StringIO(text)))
    header = rows[0].keys() if rows else []
    for column in ("model", "metric", "actual", "p50"):
        if column not in header:
            raise InputError(f"missing column {column!r}", file=name, line=1,
                             fix="pass a backtest.csv written by `preserve forecast --backtest`")
    uppers = [c for c in header if (column_quantile(c) or 0) > 0.5]
    grouped: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        grouped.setdefault((row["model"], row["metric"]), []).append(row)
    scores = []
    for (model, metric), group in grouped.items():
        scored = [r for r in group if r["actual"] not in ("", None)]   # empty actual: window not scored
        try:
            actual = np.array([float(r["actual"]) for r in scored])
            p50 = np.array([float(r["p50"]) for r in scored])
            upper = {c: np.array([float(r[c]) for r in scored]) for c in uppers}
        except ValueError as exc:
            raise InputError(f"not a number: {exc}", file=name, fix="pass an unedited backtest.csv") from None
        total = float(actual.sum())
        scores.append(BacktestScore(
            model=model, metric=metric, windows=len(scored),
            wape=float(np.abs(actual - p50).sum() / total) if total > 0 else None,
            coverage={c: float((actual <= v).mean()) for c, v in upper.items()} if len(actual) else {}))
    return scores


def read_simulation(path: str | Path) -> dict | list:
    name = str(path)
    text = read_input_text(name, expected="the JSON of `preserve simulate --json`")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not JSON: {exc.msg}", file=name, line=exc.lineno,
                         fix="save the output of `preserve simulate ... --json` to a file") from None
    if not isinstance(document, (dict, list)):
        raise InputError("expected a JSON object or list", file=name, fix="pass the output of `preserve simulate --json`")
    return document


def load_report_data(plan: str | None = None, demand: list[str] | None = None, forecast: str | None = None,
                     backtest: str | None = None, simulate: str | None = None) -> ReportData:
    data = ReportData()
    if plan:
        data.schedule = read_schedule(plan)
        data.sources["plan"] = data.schedule.path
    if forecast:
        data.forecast = read_forecast(forecast)
        data.sources["forecast"] = str(forecast)
    if demand:
        from preserve_cli.demand.sources import load_demand

        data.demand, _ = load_demand(demand, data.window_s)
        data.sources["demand"] = ", ".join(map(str, demand))
    if backtest:
        data.backtest = read_backtest_scores(backtest)
        data.sources["backtest"] = str(backtest)
    if simulate:
        data.simulate = read_simulation(simulate)
        data.sources["simulation"] = str(simulate)
    if data.schedule is None and data.demand is None and data.forecast is None:
        raise InputError("nothing to draw", field="PLAN", fix="pass a plan folder or schedule.yaml, "
                         "and/or --demand / --forecast")
    return data


def quantile_band(forecast: Forecast) -> tuple[float, float]:
    """The widest band the forecast holds around p50 (lowest and highest quantile)."""
    levels = forecast.quantile_levels()
    return levels[0], levels[-1]


__all__ = ["BacktestScore", "ReportData", "load_report_data", "quantile_band", "quantile_column",
           "read_backtest_scores", "read_simulation"]
