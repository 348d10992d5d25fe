"""`preserve ingest`: request logs -> requests.parquet (canonical, sorted, atomic)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from preserve_cli.cli.common import JSON_OPTION, handles_input_errors, key_value_table, print_json, stderr, stdout
from preserve_cli.ingest import IngestSummary, ingest_logs
from preserve_cli.ingest.formats.generic import MAP_SYNTAX
from preserve_cli.ingest.paths import resolve_paths
from preserve_cli.ingest.writer import Progress as ProgressCallback

# Inputs above this take DuckDB more than about a second to read: show a progress line.
PROGRESS_ABOVE_BYTES = 32 << 20


def register(app: typer.Typer) -> None:
    @app.command("ingest")
    @handles_input_errors
    def ingest(
        paths: list[str] = typer.Argument(..., metavar="PATHS", show_default=False,
                                          help="Log files, folders (every file inside) or glob patterns; "
                                          "CSV, JSONL or Parquet, plain, gzip or zstd."),
        output: Path = typer.Option(..., "-o", "--output", help="requests.parquet to write (atomically).",
                                    show_default=False),
        log_format: str | None = typer.Option(None, "--format",
                                              help="Force a format (azure, burstgpt, kong, litellm, litellm_spend, mooncake, openai, "
                                                   "openai_responses, requests, vidur; docs/ingest.md); default: detected."),
        mapping: str | None = typer.Option(None, "--map", help=f"Read any CSV/JSONL/Parquet: {MAP_SYNTAX}."),
        time_unit: str | None = typer.Option(None, "--time-unit",
                                             help="With --map: the time column is a number of s|ms|us|ns."),
        epoch: str | None = typer.Option(None, "--epoch",
                                         help="Numeric times count from this UTC instant "
                                              "[default: 1970-01-01T00:00:00Z, i.e. Unix time]."),
        on_error: str = typer.Option("fail", "--on-error",
                                     help="fail: stop at the first bad row; skip: drop bad rows, "
                                          "count them by reason."),
        json_output: bool = JSON_OPTION,
    ) -> None:
        """Read request logs into canonical requests Parquet (ts UTC, input_tokens, output_tokens, labels)."""
        with _progress(paths) as progress:
            summary = ingest_logs(paths, output, format=log_format, mapping=mapping, time_unit=time_unit,
                                  epoch=epoch, on_error=on_error, progress=progress)
        if json_output:
            print_json(summary.to_dict())
        else:
            stdout.print(key_value_table(f"ingest -> {summary.output}", _rows(summary)))


@contextlib.contextmanager
def _progress(paths: list[str]) -> Iterator[ProgressCallback | None]:
    size = sum(path.stat().st_size for path in resolve_paths(paths))
    if size < PROGRESS_ABOVE_BYTES or not stderr.is_terminal:  # nothing to animate in a pipe or a log
        yield None
        return
    with Progress(SpinnerColumn(), TextColumn("reading logs"), TextColumn("{task.completed:,} rows"),
                  TimeElapsedColumn(), console=stderr, transient=True) as bar:
        task = bar.add_task("ingest", total=None)
        yield lambda rows: bar.update(task, completed=rows)


def _rows(summary: IngestSummary) -> list[tuple[str, object]]:
    rows: list[tuple[str, object]] = [
        ("format", f"{summary.format} (times: {summary.time})"),
        ("files", len(summary.files) if len(summary.files) > 3 else ", ".join(summary.files)),
        ("requests", summary.rows),
        ("input tokens", summary.input_tokens),
        ("output tokens", summary.output_tokens),
        ("span", f"{summary.first_ts} .. {summary.last_ts} ({_span(summary.span_s)})"),
    ]
    if summary.epoch and "trace start" in summary.time:  # Unix times need no word about their epoch
        rows.append(("epoch", f"{summary.epoch} (relative times are added to it; --epoch to change)"))
    rows.append(("unsorted input", "yes: rows sorted by time on write" if summary.unsorted_input else "no"))
    rows.append(("skipped rows", summary.skipped_rows))
    rows += [(f"  {reason}", f"{stat.count:,} (first at {stat.first})")
             for reason, stat in sorted(summary.skipped.items())]
    if summary.empty_files:
        rows.append(("empty files", ", ".join(summary.empty_files)))
    rows.append(("columns", ", ".join(summary.columns)))
    return rows


def _span(seconds: float) -> str:
    whole = int(round(seconds))
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{value}{unit}" for value, unit in ((days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")) if value]
    return " ".join(parts) or "0s"
