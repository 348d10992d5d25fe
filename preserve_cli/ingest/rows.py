"""Canonical request rows of a set of log files, as DuckDB SQL — without writing anything.

`RequestRows.run(consume)` gives `consume` the SQL of the rows and lets it run its one
query (write Parquet, aggregate demand). The fast path is DuckDB reading every file
directly; that SQL fails on a malformed line or an unusable value (never yields a NULL),
so no consumer can silently lose a row. On such a failure the files with problems go
through the line-exact slow path (`dirty.py`): `on_error="fail"` raises an InputError
naming file:line, and `"skip"` replaces them with their good rows and counts the rest;
`consume` then runs again. A clean log therefore costs exactly one pass.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TypeVar

import duckdb

from preserve_cli.ingest import sql
from preserve_cli.ingest.dirty import SkipStat, good_rows_sql, merge_skipped, scan_dirty_file
from preserve_cli.ingest.formats.base import OUTPUT_COLUMN
from preserve_cli.ingest.plan import FilePlan, IngestOptions, IngestPlan, plan_ingest

T = TypeVar("T")

# Bounded memory whatever the log size: DuckDB spills to disk beyond this (its sorts and
# aggregations are out-of-core); 1 GB leaves most of a small machine to everything else.
MEMORY_LIMIT = "1GB"


class StreamedDataError(Exception):
    """One of DuckDB's data errors raised while its result was streamed as Arrow batches:
    it then arrives as an OSError carrying DuckDB's message (e.g. a bad line after the
    first batch of a big file, or in the second of several files)."""


# Beginnings of the messages of DuckDB's data errors (InvalidInput, Conversion, IO).
DATA_ERROR_PREFIXES = ("Invalid Input Error", "Conversion Error", "IO Error")
# DuckDB errors that mean "this file has something DuckDB's reader will not take".
DATA_ERRORS = (duckdb.InvalidInputException, duckdb.ConversionException, duckdb.IOException, StreamedDataError)


def configure_session(con: duckdb.DuckDBPyConnection) -> None:
    """The session settings every ingest query relies on."""
    # Zone-less timestamps are UTC (also what TIMESTAMPTZ values print as).
    con.execute("SET TimeZone = 'UTC'")
    # Never draw DuckDB's own progress bar: stdout may be carrying --json.
    con.execute("SET enable_progress_bar = false")


@contextlib.contextmanager
def duckdb_connection() -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB with bounded memory, a private spill folder and UTC as its zone."""
    spill = tempfile.mkdtemp(prefix="preserve-duckdb-")
    con = duckdb.connect(config={"memory_limit": MEMORY_LIMIT, "threads": _usable_cpus(),
                                 "temp_directory": spill})
    try:
        configure_session(con)
        yield con
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)


def _usable_cpus() -> int:
    """CPUs this process may run on (a container or taskset may allow fewer than the machine has)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class RequestRows:
    """The canonical rows (ts, input_tokens, output_tokens, labels) of an IngestPlan."""

    def __init__(self, con: duckdb.DuckDBPyConnection, plan: IngestPlan) -> None:
        self.con, self.plan = con, plan
        self.skipped: dict[str, SkipStat] = {}
        self._slow_tables: dict[int, str] = {}
        self._cleaned = False

    @property
    def columns(self) -> list[str]:
        return [OUTPUT_COLUMN[role] for role in ("ts", "input", "output", *self.plan.labels)] + self.plan.latencies

    def sql(self) -> str:
        """UNION ALL of every file's rows, in file order, with every label column."""
        parts = []
        for index, one in enumerate(self.plan.files):
            source = good_rows_sql(one, self._slow_tables[index]) if index in self._slow_tables else one.native_sql()
            present = set(sql.output_columns(one.spec))
            columns = [name if name in present else f"NULL::{sql.column_type(name)} AS {name}"
                       for name in self.columns]
            parts.append(f"SELECT {', '.join(columns)} FROM ({source})")
        return " UNION ALL ".join(parts)

    def run(self, consume: Callable[[str], T]) -> T:
        if not self._cleaned:
            try:
                return consume(self.sql())
            except DATA_ERRORS:
                pass  # cleaned below, outside the handler: errors raised there stand alone
            self.clean()
            try:
                return consume(self.sql())
            except DATA_ERRORS:
                # A file the probe passed still fails the fast read: trust no probe, read
                # every file line-exact (in file order, so fail mode names the first bad row).
                pass
            self.clean(probe=False)
        return consume(self.sql())

    def clean(self, *, probe: bool = True) -> None:
        """Send every file with a problem through the line-exact path (raises in fail mode).

        With several files, `probe` first asks DuckDB whether a file reads cleanly, so that
        clean files keep the fast path; `probe=False` sends every file the line-exact way."""
        probe = probe and len(self.plan.files) > 1
        for index, one in enumerate(self.plan.files):
            if index in self._slow_tables or (probe and self._reads_cleanly(one)):
                continue
            table = f"preserve_slow_{index}"
            merge_skipped(self.skipped, scan_dirty_file(self.con, one, on_error=self.plan.on_error, table=table))
            self._slow_tables[index] = table
        self._cleaned = True

    def _reads_cleanly(self, one: FilePlan) -> bool:
        """Whether the fast path's read of this one file would succeed.

        The probe must make DuckDB read every column the real query reads: DuckDB only
        decodes and checks the columns a query uses, so a probe of the time and token
        columns alone passes a line whose label (model, service) is not valid UTF-8,
        while the real read fails on it: that file would skip the line-exact path, and a
        later file's bad row would be reported as the first (or none at all)."""
        used = ", ".join(f"count({column})" for column in sql.output_columns(one.spec))
        try:
            rows = self.con.sql(f"SELECT count(*) FILTER ({sql.unusable_sql(one.spec)}), {used} "
                               f"FROM ({one.native_sql(guarded=False)})").fetchall()
        except DATA_ERRORS:
            return False
        return rows[0][0] == 0


def request_rows(con: duckdb.DuckDBPyConnection, paths: str | Path | Iterable[str | Path],
                 options: IngestOptions | Mapping[str, object] | None = None) -> RequestRows:
    """Canonical rows of raw log files, for a query of your own: `rows.run(lambda q: ...)`."""
    return RequestRows(con, plan_ingest(paths, IngestOptions.coerce(options)))
