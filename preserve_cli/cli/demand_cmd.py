"""`preserve demand`: token demand per series and window, written as demand.csv."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from preserve_cli.cli.common import JSON_OPTION, handles_input_errors, print_json, stdout
from preserve_cli.demand.schema import METRICS, write_demand
from preserve_cli.demand.sources import load_demand
from preserve_cli.durations import format_duration, parse_duration
from preserve_cli.errors import InputError
from preserve_cli.ingest.warehouse import DIALECTS, MAX_WINDOW_S, MIN_WINDOW_S, demand_sql


def register(app: typer.Typer) -> None:
    @app.command("demand")
    @handles_input_errors
    def demand(
        sources: list[Path] | None = typer.Argument(
            None, help="ServeGen folder(s) (chunk-N-trace.csv files), demand.csv file(s), or request logs / Parquet "
            "(files, folders, globs).", show_default=False),
        output: Path | None = typer.Option(None, "-o", "--output", help="demand.csv to write (atomically); "
                                           "required unless --sql.", show_default=False),
        window: str = typer.Option("1h", "--window", help="Window size, 10m to 1d (e.g. 10m, 1h, 6h, 1d)."),
        series_by: str | None = typer.Option(None, "--series-by",
                                             help="Request-log column to split series by (e.g. model)."),
        empty_windows: str = typer.Option("gap", "--empty-windows",
                                          help="gap: a window with no requests at all is missing; zero: it is 0."),
        epoch: str | None = typer.Option(None, "--epoch",
                                         help="UTC time of t=0 for ServeGen folders [default: 2025-01-06T00:00:00Z] "
                                         "and for request logs with relative times [default: 1970-01-01T00:00:00Z]."),
        log_format: str | None = typer.Option(None, "--format", help="Request logs: force a log format "
                                              "(as `preserve ingest --format`)."),
        mapping: str | None = typer.Option(None, "--map", help="Request logs: ts=COL,input=COL,output=COL[,model=COL,"
                                           "...] (as `preserve ingest --map`)."),
        time_unit: str | None = typer.Option(None, "--time-unit", help="Request logs: unit of numeric times "
                                             "(s, ms, us, ns)."),
        on_error: str = typer.Option("fail", "--on-error", help="Request logs: fail on a bad row (file:line, exit 2) "
                                     "or skip and count it."),
        sql: bool = typer.Option(False, "--sql", help="Print the aggregation as SQL over --table (run it in your "
                                 "warehouse; its CSV result is a demand.csv) instead of reading SOURCES."),
        table: str = typer.Option("requests", "--table", help="With --sql: the table of request rows (ts, "
                                  "input_tokens, output_tokens, labels), e.g. dataset.requests."),
        dialect: str = typer.Option("duckdb", "--dialect", help=f"With --sql: {'|'.join(DIALECTS)}."),
        json_output: bool = JSON_OPTION,
    ) -> None:
        """Aggregate a source into prefill/decode token demand per window (demand.csv), or print it as SQL (--sql)."""
        window_s = parse_duration(window, field="--window")
        if not MIN_WINDOW_S <= window_s <= MAX_WINDOW_S:
            raise InputError(f"window {format_duration(window_s)} is outside 10m..1d", field="--window",
                             fix="use a window between 10m and 1d, e.g. --window 1h")
        if sql:
            if sources:
                raise InputError("--sql prints a query over --table and reads no SOURCES", field="SOURCES",
                                 fix="drop the SOURCES, or drop --sql to aggregate them here")
            if output is not None:
                raise InputError("--sql prints the query on stdout and writes no demand.csv", field="--output",
                                 fix="drop -o and redirect stdout (> demand.sql); the warehouse's result is the "
                                     "demand.csv")
            query = demand_sql(table, window_s, dialect=dialect, series_by=series_by, empty_windows=empty_windows)
            if json_output:
                print_json({"dialect": dialect, "table": table, "window_s": window_s, "sql": query})
            else:
                sys.stdout.write(query)  # plain text, no Rich markup: it is meant to be piped into a client
            return
        if not sources:
            raise InputError("no source given", field="SOURCES",
                             fix="pass a ServeGen folder, a demand.csv or request logs (or --sql for a warehouse)")
        if output is None:
            raise InputError("no output file given", field="--output", fix="pass -o demand.csv")
        ingest_options = {"format": log_format, "mapping": mapping, "time_unit": time_unit, "on_error": on_error}
        result, summary = load_demand(sources, window_s, series_by=series_by, empty_windows=empty_windows,
                                      epoch=epoch, ingest_options=ingest_options)
        write_demand(result, output)
        summary["output"] = str(output)
        if json_output:
            print_json(summary)
        else:
            stdout.print(_summary_table(summary))


def _summary_table(summary: dict[str, Any]) -> Table:
    table = Table(title=f"demand -> {summary['output']} ({format_duration(summary['window_s'])} windows)",
                  title_justify="left", caption="\n".join(f"note: {n}" for n in summary["notes"]) or None,
                  caption_justify="left")
    columns = ("windows", "missing_windows", *METRICS)
    rows = summary["series"]
    total = {"series": "total", **{k: summary[k] for k in columns}}
    rows = rows + ([total] if len(rows) > 1 else [])
    table.add_column("series", min_width=min(24, max(len(row["series"]) for row in rows)))
    for name in columns:
        # Never truncate a number: the column is at least as wide as its widest value.
        width = max(len(_count(row[name])) for row in rows)
        label = "missing" if name == "missing_windows" else name.replace("_", " ")
        table.add_column(label, justify="right", no_wrap=True, min_width=width)
    for row in rows:
        table.add_row(row["series"], *(_count(row[k]) for k in columns))
    return table


def _count(value: int | float | None) -> str:
    return "unknown" if value is None else f"{value:,.0f}"
