"""`preserve forecast`: quantiles of future demand per series and metric (forecast.csv),
or with `--backtest` the same forecasts made from past origins and scored (backtest.csv)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from preserve_cli.cli.common import JSON_OPTION, handles_input_errors, print_json, stdout
from preserve_cli.demand.schema import read_demand
from preserve_cli.durations import format_duration, parse_duration
from preserve_cli.errors import InputError
from preserve_cli.forecast import forecast_demand, model_names
from preserve_cli.forecast.backtest import DEFAULT_ORIGINS, backtest_demand, parse_models, write_backtest
from preserve_cli.forecast.backtest_report import backtest_summary
from preserve_cli.forecast.holidays import HolidayCalendar, parse_holidays
from preserve_cli.forecast.plan_check import GREEDY, check_plans
from preserve_cli.forecast.registry import DEFAULT_MODEL
from preserve_cli.forecast.schema import write_forecast
from preserve_cli.forecast.summary import forecast_summary
from preserve_cli.timeutil import parse_iso

FORECAST_QUANTILES = "0.5,0.9"
BACKTEST_QUANTILES = "0.5,0.9,0.99"
PLANNERS = (GREEDY, "fleet")


def _parse_quantiles(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def register(app: typer.Typer) -> None:
    @app.command("forecast")
    @handles_input_errors
    def forecast(
        demand_csv: Path = typer.Argument(..., help="demand.csv (from `preserve demand`).", show_default=False),
        output: Path = typer.Option(..., "-o", "--output", help="forecast.csv, or backtest.csv with --backtest "
                                                                "(written atomically).", show_default=False),
        horizon: str = typer.Option("7d", "--horizon", help="How far ahead, a multiple of the demand window "
                                                            "(e.g. 1h, 1d, 7d)."),
        model: str | None = typer.Option(None, "--model",
                                         help=f"One of {', '.join(model_names())} [default: {DEFAULT_MODEL}]. "
                                              "With --backtest a comma-separated list, or all [default: all]."),
        quantiles: str | None = typer.Option(None, "--quantiles",
                                             help="Comma-separated levels in (0, 1) (0.5 is always included) "
                                                  f"[default: {FORECAST_QUANTILES}; with --backtest "
                                                  f"{BACKTEST_QUANTILES}]."),
        start: str | None = typer.Option(None, "--start",
                                         help="First forecast window (UTC, on the demand grid); only history "
                                              "before it is used [default: the window after each series' last]."),
        backtest: bool = typer.Option(False, "--backtest", help="Forecast the past from rolling origins with each "
                                                                "model and score it against what happened."),
        origins: int = typer.Option(DEFAULT_ORIGINS, "--origins", help="With --backtest: how many origins."),
        every: str | None = typer.Option(None, "--every", help="With --backtest: spacing of the origins "
                                                               "[default: the horizon]."),
        fleet: Path | None = typer.Option(None, "--fleet", help="With --backtest: fleet.yaml the plans are made "
                                                                "with [default: the bundled example fleet]."),
        planner: str = typer.Option(GREEDY, "--planner", help="With --backtest: greedy (cheapest-first, fast) or "
                                                              "fleet (the fleet's own planner)."),
        holidays: str | None = typer.Option(None, "--holidays",
                                            help="Days off to forecast as such: country codes (US, US-CA,GB) or "
                                                 "a CSV with a date column [default: none]."),
        timezone: str = typer.Option("UTC", "--timezone", help="IANA zone the holidays' dates are counted in."),
        json_output: bool = JSON_OPTION,
    ) -> None:
        """Forecast requests, prefill and decode tokens per window and series (forecast.csv).

        The default model, auto, uses the ensemble of Prophet (calendar) and recent-level
        (where the series is now) for horizons of a day or more, exponential smoothing of
        the latest windows below a day, unless another model beat it clearly in a backtest
        over the last week. Quantiles other than p50 are calibrated on that backtest's
        errors, per lead: the band widens with the lead, and days 2-7 of a week-long
        horizon get their own errors, not day 1's.
        A history too short for a model falls back to seasonal-naive-day, then flat, and
        the table, the notes and the `model` column say so.

        With --holidays, one day-off effect is measured on the holidays in the history
        (windows whose local date in --timezone is a holiday), taken out before any
        model learns and put back on the holidays ahead; the notes give the effect.

        With --backtest, every model (and auto) forecasts from --origins past origins; the
        table gives WAPE, MAPE and quantile coverage per model and metric, and the GPU-hours
        and missed windows of the plans each model's forecasts lead to.
        """
        horizon_s = parse_duration(horizon, field="--horizon")
        calendar = parse_holidays(holidays, timezone)
        if backtest:
            if start is not None:
                raise InputError("--start does not go with --backtest", field="--start",
                                 fix="drop --start; the backtest picks its origins from --origins and --every")
            _backtest(demand_csv, output, horizon_s, model, quantiles or BACKTEST_QUANTILES, origins, every, fleet,
                      planner, calendar, json_output)
            return
        origin = parse_iso(start, field="--start") if start is not None else None
        demand = read_demand(demand_csv)
        chosen = model or DEFAULT_MODEL
        result = forecast_demand(demand, horizon_s, quantiles=_parse_quantiles(quantiles or FORECAST_QUANTILES),
                                 model=chosen, start=origin, holidays=calendar, progress=True,
                                 source=str(demand_csv))
        write_forecast(result, output)
        summary = forecast_summary(demand, result, horizon_s=horizon_s, model=chosen, start=origin,
                                   source=demand_csv, output=output)
        if json_output:
            print_json(summary)
        else:
            stdout.print(_summary_table(summary))


def _backtest(demand_csv: Path, output: Path, horizon_s: int, model: str | None, quantiles: str, origins: int,
              every: str | None, fleet: Path | None, planner: str, holidays: HolidayCalendar | None,
              json_output: bool) -> None:
    if planner not in PLANNERS:
        raise InputError(f"unknown planner {planner!r}", field="--planner", fix=f"use one of {', '.join(PLANNERS)}")
    every_s = parse_duration(every, field="--every") if every is not None else None
    models = parse_models(model)
    demand = read_demand(demand_csv)
    result = backtest_demand(demand, horizon_s, origins=origins, every_s=every_s, models=models,
                             quantiles=_parse_quantiles(quantiles), holidays=holidays, progress=True,
                             source=str(demand_csv))
    chosen_planner = GREEDY if planner == GREEDY else None
    plans = check_plans(result, fleet, planner=chosen_planner)
    write_backtest(result, str(output))
    summary = backtest_summary(result, plans, planner=chosen_planner, source=demand_csv, output=output)
    if json_output:
        print_json(summary)
    else:
        stdout.print(_scores_table(summary))
        stdout.print(_plans_table(summary))


def _table(title: str, labels: tuple[str, ...], rows: list[tuple[str, ...]], left: int, caption: str = "") -> Table:
    table = Table(title=title, title_justify="left", caption=caption or None, caption_justify="left")
    for i, label in enumerate(labels):
        # Never truncate a name or a number: each column is as wide as its widest cell.
        width = max([len(label), *(len(r[i]) for r in rows)])
        table.add_column(label, justify="left" if i < left else "right", no_wrap=True, min_width=width)
    for r in rows:
        table.add_row(*r)
    return table


def _percent(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.1%}"


def _scores_table(summary: dict[str, Any]) -> Table:
    upper = [q for q in summary["quantiles"] if q != "p50"]
    rows = []
    for row in summary["scores"]:
        used = ", ".join(f"{name} {count}" for name, count in row["models_used"].items())
        rows.append((row["model"], row["metric"], f"{row['windows']:,}", _percent(row["wape"]), _percent(row["mape"]),
                     *(_percent(row["coverage"].get(q)) for q in upper),
                     "-" if row["p90_over_p50"] is None else f"{row['p90_over_p50']:.2f}",
                     used if row["model"] == "auto" or len(row["models_used"]) > 1 else ""))
    labels = ("model", "metric", "windows", "WAPE", "MAPE", *(f"{q} cover" for q in upper), "p90/p50", "used")
    title = (f"backtest -> {summary['output']} ({len(summary['origins'])} origins every "
             f"{format_duration(summary['every_s'])}, {format_duration(summary['horizon_s'])} ahead, "
             f"{format_duration(summary['window_s'])} windows)")
    notes = "\n".join(f"note: {n}" for n in summary["notes"])
    table = _table(title, labels, rows, left=2, caption=notes)
    table.columns[-1].justify = "left"
    return table


def _plans_table(summary: dict[str, Any]) -> Table:
    plan = summary["plan"]
    if plan["skipped"]:
        return _table(f"plans not judged: {plan['skipped']}", ("model",), [], left=1)
    rows = [(p["model"], f"{p['gpu_hours']:,.0f}", f"{p['missed_windows']:,} / {p['windows']:,}",
             _percent(p["miss_share"]), f"{p['infeasible_origins']} / {p['origins']}") for p in plan["models"]]
    labels = ("model", "GPU-hours", "windows short", "share short", "infeasible origins")
    title = (f"plans from each model's p{plan['quantile'] * 100:g} ({plan['planner']} planner, {plan['fleet']}): "
             "GPU-hours, and windows whose actual demand exceeded the planned capacity")
    return _table(title, labels, rows, left=1)


def _summary_table(summary: dict[str, Any]) -> Table:
    top = summary["quantiles"][-1]
    notes = "\n".join(f"note: {n}" for n in summary["notes"])
    rows = []
    for row in summary["series"]:
        # A fallback is the one thing the reader must not miss: flag it in the row, explain it in the notes.
        fell_back = row["model"] != summary["model_requested"] and summary["model_requested"] != "auto"
        rows.append((row["series"], row["metric"], row["model"] + (" (fallback)" if fell_back else ""),
                     f"{row['history_windows']:,}", f"{row['missing_windows']:,}", f"{row['horizon_windows']:,}",
                     _percent(row["backtest_wape"]), f"{row[f'peak_{top}']:,.0f}"))
    labels = ("series", "metric", "model", "history", "missing", "horizon", "backtest WAPE", f"peak {top}")
    title = (f"forecast -> {summary['output']} ({format_duration(summary['horizon_s'])} of "
             f"{format_duration(summary['window_s'])} windows, model {summary['model_requested']})")
    return _table(title, labels, rows, left=3, caption=notes)
