"""`preserve forecast`: quantiles of future demand per series and metric, written as forecast.csv."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from preserve_cli.cli.common import JSON_OPTION, handles_input_errors, print_json, stdout
from preserve_cli.demand.schema import read_demand
from preserve_cli.durations import format_duration, parse_duration
from preserve_cli.forecast import forecast_demand, model_names
from preserve_cli.forecast.registry import DEFAULT_MODEL
from preserve_cli.forecast.schema import write_forecast
from preserve_cli.forecast.summary import forecast_summary
from preserve_cli.timeutil import parse_iso


def _parse_quantiles(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def register(app: typer.Typer) -> None:
    @app.command("forecast")
    @handles_input_errors
    def forecast(
        demand_csv: Path = typer.Argument(..., help="demand.csv (from `preserve demand`).", show_default=False),
        output: Path = typer.Option(..., "-o", "--output", help="forecast.csv to write (atomically).",
                                    show_default=False),
        horizon: str = typer.Option("7d", "--horizon", help="How far ahead, a multiple of the demand window "
                                                            "(e.g. 1d, 7d)."),
        model: str = typer.Option(DEFAULT_MODEL, "--model",
                                  help=f"One of {', '.join(model_names())}. A history too short for the model "
                                       "falls back to seasonal-naive-day, then flat, and says so."),
        quantiles: str = typer.Option("0.5,0.9", "--quantiles",
                                      help="Comma-separated levels in (0, 1), e.g. 0.5,0.9,0.99 (0.5 is always "
                                           "included)."),
        start: str | None = typer.Option(None, "--start",
                                         help="First forecast window (UTC, on the demand grid); only history "
                                              "before it is used [default: the window after each series' last]."),
        json_output: bool = JSON_OPTION,
    ) -> None:
        """Forecast requests, prefill and decode tokens per window and series (forecast.csv).

        The default model is Prophet on the real timestamps: daily seasonality from 2 days of
        history, weekly from 14 days when it beats daily-only on a holdout. Quantiles other
        than p50 come from the model's own out-of-sample errors. A shorter history falls back
        to seasonal-naive-day, then flat, and the table, the notes and the `model` column say
        so. `--model auto` picks the model with the lowest backtest WAPE over the last days.
        """
        horizon_s = parse_duration(horizon, field="--horizon")
        origin = parse_iso(start, field="--start") if start is not None else None
        demand = read_demand(demand_csv)
        result = forecast_demand(demand, horizon_s, quantiles=_parse_quantiles(quantiles), model=model,
                                 start=origin, progress=True, source=str(demand_csv))
        write_forecast(result, output)
        summary = forecast_summary(demand, result, horizon_s=horizon_s, model=model, start=origin,
                                   source=demand_csv, output=output)
        if json_output:
            print_json(summary)
        else:
            stdout.print(_summary_table(summary))


def _summary_table(summary: dict[str, Any]) -> Table:
    top = summary["quantiles"][-1]
    notes = "\n".join(f"note: {n}" for n in summary["notes"])
    table = Table(title=f"forecast -> {summary['output']} ({format_duration(summary['horizon_s'])} of "
                        f"{format_duration(summary['window_s'])} windows, model {summary['model_requested']})",
                  title_justify="left", caption=notes or None, caption_justify="left")
    rows = []
    for row in summary["series"]:
        # A fallback is the one thing the reader must not miss: flag it in the row, explain it in the notes.
        fell_back = row["model"] != summary["model_requested"] and summary["model_requested"] != "auto"
        rows.append((row["series"], row["metric"], row["model"] + (" (fallback)" if fell_back else ""),
                     f"{row['history_windows']:,}", f"{row['missing_windows']:,}", f"{row['horizon_windows']:,}",
                     f"{row[f'peak_{top}']:,.0f}"))
    labels = ("series", "metric", "model", "history", "missing", "horizon", f"peak {top}")
    for i, label in enumerate(labels):
        # Never truncate a name or a number: each column is as wide as its widest cell.
        width = max([len(label), *(len(r[i]) for r in rows)])
        table.add_column(label, justify="left" if i < 3 else "right", no_wrap=True, min_width=width)
    for r in rows:
        table.add_row(*r)
    return table
