"""`ingest_logs`: request logs -> requests.parquet, with a summary of what was read."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from preserve_cli.errors import InputError
from preserve_cli.fileio import atomic_path
from preserve_cli.ingest.dirty import SkipStat
from preserve_cli.ingest.plan import IngestOptions, plan_ingest
from preserve_cli.ingest.rows import RequestRows, duckdb_connection
from preserve_cli.ingest.writer import Progress, write_requests

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def iso_us(us: int) -> str:
    """Microseconds since 1970 -> `2023-11-16T18:17:03.979960Z` (no fraction when whole)."""
    return (_EPOCH + timedelta(microseconds=us)).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class IngestSummary:
    format: str
    files: list[str]
    output: str
    columns: list[str]
    rows: int
    input_tokens: int
    output_tokens: int
    first_ts: str
    last_ts: str
    span_s: float
    unsorted_input: bool
    time: str                      # how timestamps were read
    epoch: str | None              # the epoch numeric times were added to (None: wall-clock)
    skipped: dict[str, SkipStat] = field(default_factory=dict)
    empty_files: list[str] = field(default_factory=list)

    @property
    def skipped_rows(self) -> int:
        return sum(stat.count for stat in self.skipped.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format, "files": self.files, "output": self.output, "columns": self.columns,
            "rows": self.rows, "input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
            "first_ts": self.first_ts, "last_ts": self.last_ts, "span_s": self.span_s,
            "unsorted_input": self.unsorted_input, "time": self.time, "epoch": self.epoch,
            "skipped_rows": self.skipped_rows,
            "skipped": {reason: stat.to_dict() for reason, stat in sorted(self.skipped.items())},
            "empty_files": self.empty_files,
        }


def ingest_logs(paths: str | Path | Iterable[str | Path], output: str | Path, *, format: str | None = None,
                mapping: str | Mapping[str, str] | None = None, time_unit: str | None = None,
                epoch: str | None = None, on_error: str = "fail", progress: Progress | None = None) -> IngestSummary:
    """Read request logs (files, folders, globs) and write canonical requests Parquet atomically.

    `format` forces a registered format (default: detected from each file's header or
    first record); `mapping` (`ts=COL,input=COL,output=COL[,model=COL,...]`) reads any
    CSV/JSONL; `time_unit` says numeric times count s/ms/us/ns, `epoch` what they count
    from (default 1970-01-01T00:00:00Z). `on_error="fail"` raises InputError at the first
    bad row (file:line, column, fix); `"skip"` drops bad rows and counts them by reason.
    `progress(rows_written)` is called as batches are written.
    """
    options = IngestOptions(format=format, mapping=mapping, time_unit=time_unit, epoch=epoch, on_error=on_error)
    plan = plan_ingest(paths, options)
    output = Path(output)
    with duckdb_connection() as con, atomic_path(output) as tmp:
        rows = RequestRows(con, plan)
        stats = write_requests(rows, tmp, progress)
        if stats.rows == 0 or stats.first_us is None or stats.last_us is None:
            raise InputError(f"no usable request left: all {sum(s.count for s in rows.skipped.values()):,} rows "
                             "were skipped", file=plan.paths[0], fix="check the format and columns (--format, --map)")
    return IngestSummary(
        format=plan.format.name, files=[str(p) for p in plan.paths], output=str(output), columns=rows.columns,
        rows=stats.rows, input_tokens=stats.input_tokens, output_tokens=stats.output_tokens,
        first_ts=iso_us(stats.first_us), last_ts=iso_us(stats.last_us),
        span_s=(stats.last_us - stats.first_us) / 1e6, unsorted_input=stats.unsorted,
        time=plan.format.time.describe(), epoch=plan.epoch_iso, skipped=dict(rows.skipped),
        empty_files=[str(p) for p in plan.empty_files],
    )
