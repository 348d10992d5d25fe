"""From PATHS and options to a plan: which files, which format, and how to read each.

Everything that can be wrong before reading the bulk of the data is caught here, with
one-line errors: no file matched, empty or header-only file, unknown format, missing
columns, options that do not apply (an epoch for wall-clock times, a time unit for a
known format), numbers where date-times are expected and vice versa.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from preserve_cli.errors import InputError
from preserve_cli.ingest import sql
from preserve_cli.ingest.formats.base import LABEL_ROLES, LATENCY_ROLES, LATENCY_UNITS_MS, ROLES, LogFormat
from preserve_cli.ingest.formats.generic import GENERIC_NAME, MAP_SYNTAX, generic_format, parse_mapping
from preserve_cli.ingest.formats.registry import detect_format, get_format
from preserve_cli.ingest.paths import resolve_paths
from preserve_cli.ingest.peek import FilePeek, peek
from preserve_cli.timeutil import parse_iso, to_iso

ON_ERROR_POLICIES = ("fail", "skip")
DEFAULT_EPOCH = "1970-01-01T00:00:00Z"
_NAIVE_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?$")
_NUMBER = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")
_DATE_LIKE = re.compile(r"^\s*\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class IngestOptions:
    """How to read request logs (the flags of `preserve ingest`)."""

    format: str | None = None
    mapping: str | Mapping[str, str] | None = None
    time_unit: str | None = None
    epoch: str | None = None
    on_error: str = "fail"

    @classmethod
    def coerce(cls, value: IngestOptions | Mapping[str, object] | None) -> IngestOptions:
        if value is None:
            return cls()
        if isinstance(value, IngestOptions):
            return value
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(value) - known)
        if unknown:
            raise InputError(f"unknown ingest option(s) {', '.join(unknown)}", field="ingest_options",
                             fix=f"use {', '.join(sorted(known))}")
        return cls(**value)  # type: ignore[arg-type]


@dataclass(frozen=True)
class FilePlan:
    peek: FilePeek
    mapping: dict[str, str]   # role -> source column
    spec: sql.ParseSpec

    @property
    def path(self) -> Path:
        return self.peek.path

    def native_sql(self, *, guarded: bool = True) -> str:
        """Canonical rows of this file through DuckDB's own reader.

        Guarded (the default), the query fails on the first unusable value, so whatever a
        consumer computes from it is never silently missing a row; unguarded, such values
        are NULL (used to probe whether a file is clean)."""
        source = sql.native_reader_sql(str(self.peek.path), container=self.peek.container,
                                       compression=self.peek.compression, columns=self.peek.columns,
                                       delimiter=self.peek.delimiter, mapping=self.mapping, paths=self.peek.paths)
        rows = sql.canonical_select(self.spec, source)
        return sql.fail_on_unusable(self.spec, rows) if guarded else rows


@dataclass(frozen=True)
class IngestPlan:
    format: LogFormat
    paths: list[Path]                 # every input file, in the order read
    files: list[FilePlan]             # files with at least one record
    empty_files: list[Path] = field(default_factory=list)  # header-only files (skip mode)
    labels: list[str] = field(default_factory=list)        # label columns present in any file
    latencies: list[str] = field(default_factory=list)     # latency columns (ttft_ms, e2e_ms) any file fills
    epoch_us: int | None = None       # numeric times only
    on_error: str = "fail"

    @property
    def epoch_iso(self) -> str | None:
        """The epoch numeric times were added to (None for wall-clock logs)."""
        if self.epoch_us is None:
            return None
        return to_iso(np.datetime64(self.epoch_us // 1_000_000, "s"))


def plan_ingest(paths: str | Path | Iterable[str | Path], options: IngestOptions) -> IngestPlan:
    if options.on_error not in ON_ERROR_POLICIES:
        raise InputError(f"unknown policy {options.on_error!r}", field="--on-error",
                         fix="use 'fail' (stop at the first bad row) or 'skip' (drop and count bad rows)")
    if options.format and options.mapping:
        raise InputError("--format and --map both given", field="--map",
                         fix="use --map alone for a generic log, or --format alone for a known one")
    if options.time_unit and not options.mapping:
        raise InputError("--time-unit applies to a generic log read with --map", field="--time-unit",
                         fix=f"drop --time-unit (known formats fix their time unit), or use --map {MAP_SYNTAX}")
    mapping = parse_mapping(options.mapping) if options.mapping else None
    if options.format == GENERIC_NAME and mapping is None:
        raise InputError("the generic format needs --map", field="--format", fix=f"pass --map {MAP_SYNTAX}")
    peeks = [peek(path) for path in resolve_paths(paths)]
    fmt = _choose_format(peeks[0], options, mapping)
    epoch_us = _epoch_us(fmt, options.epoch)
    files: list[FilePlan] = []
    empty: list[Path] = []
    for one in peeks:
        file_format = fmt if (options.format or mapping) else detect_format(
            one.container, one.columns, file=str(one.path), line=one.columns_line)
        if file_format != fmt:
            raise InputError(f"this file is a {file_format.name} log but {peeks[0].path} is a {fmt.name} log",
                             file=one.path, fix="ingest one log format per run")
        _check_columns(one, fmt)
        if one.first_record is None:
            if options.on_error == "fail":
                raise InputError("no requests: the file has a header and nothing else", file=one.path,
                                 line=one.columns_line + 1,
                                 fix="remove the file, or pass --on-error skip to ignore empty files")
            empty.append(one.path)
            continue
        files.append(_file_plan(one, fmt, epoch_us))
    if not files:
        raise InputError("no requests in any file (header only)", file=empty[0], fix="pass logs that hold requests")
    labels = [role for role in LABEL_ROLES if any(role in f.mapping for f in files)]
    latencies = [column for column in LATENCY_ROLES if any(column in f.spec.latencies for f in files)]
    return IngestPlan(format=fmt, paths=[one.path for one in peeks], files=files, empty_files=empty, labels=labels,
                      latencies=latencies, epoch_us=epoch_us, on_error=options.on_error)


def _choose_format(first: FilePeek, options: IngestOptions, mapping: dict[str, str] | None) -> LogFormat:
    if mapping is not None:
        return generic_format(mapping, first.container, options.time_unit)
    if options.format:
        return get_format(options.format)
    return detect_format(first.container, first.columns, file=str(first.path), line=first.columns_line)


def _epoch_us(fmt: LogFormat, epoch: str | None) -> int | None:
    if not fmt.time.is_numeric:
        if epoch is not None:
            raise InputError(f"--epoch applies to numeric times; {fmt.name} logs carry wall-clock timestamps",
                             field="--epoch", fix="drop --epoch")
        return None
    if epoch is not None and not fmt.time.relative and fmt.name != GENERIC_NAME:
        raise InputError(f"--epoch applies to times counted from a trace start; {fmt.name} logs carry Unix times",
                         field="--epoch", fix="drop --epoch")
    seconds = parse_iso(epoch if epoch is not None else DEFAULT_EPOCH, field="--epoch")
    return int(seconds.astype("int64")) * 1_000_000


def _check_columns(one: FilePeek, fmt: LogFormat) -> None:
    if not fmt.reads(one.container):
        raise InputError(f"this is a {one.container.upper()} file but format {fmt.name} reads "
                         f"{fmt.container.upper()}", file=one.path, fix="pass files of one kind per run")
    missing = fmt.missing_columns(one.container, one.columns)
    if missing:
        kind = "column(s)" if one.container == "csv" else "key(s)"
        raise InputError(f"missing {kind} {', '.join(missing)}; found {', '.join(one.columns) or 'none'} "
                         f"({fmt.expects()})", file=one.path, line=one.columns_line,
                         fix=f"name the columns with --map {MAP_SYNTAX}")


def _file_plan(one: FilePeek, fmt: LogFormat, epoch_us: int | None) -> FilePlan:
    mapping = fmt.mapping_for(one.columns)
    mapping = {role: mapping[role] for role in ROLES if role in mapping}
    first_ts = (one.first_record or {}).get(mapping["ts"])
    _check_time_kind(one, fmt, mapping["ts"], first_ts)
    # Parquet times arrive as DuckDB's text of a typed value: always the zone-aware parser.
    naive = len(first_ts) if first_ts and one.container != "parquet" and _NAIVE_TIMESTAMP.match(first_ts) else None
    spec = sql.ParseSpec(roles=list(mapping), time=fmt.time, epoch_us=epoch_us or 0, naive_ts_length=naive,
                         latency_ms_per_unit=LATENCY_UNITS_MS[fmt.latency_unit])
    return FilePlan(peek=one, mapping=mapping, spec=spec)


def _check_time_kind(one: FilePeek, fmt: LogFormat, column: str, value: str | None) -> None:
    """A whole column of the wrong kind is a configuration mistake, not bad rows to skip."""
    if value is None:
        return
    if not fmt.time.is_numeric and _NUMBER.match(value):
        raise InputError(f"time column holds numbers ({value.strip()!r}), not date-times", file=one.path,
                         line=one.first_line, field=column,
                         fix="say what they count with --map ... --time-unit s|ms|us|ns "
                             "(and --epoch ISO if they count from the trace start)")
    if fmt.time.is_numeric and _DATE_LIKE.match(value):
        hint = "drop --time-unit" if fmt.name == GENERIC_NAME else "use --map without --time-unit"
        raise InputError(f"time column holds date-times ({value.strip()!r}), not numbers of {fmt.time.unit}",
                         file=one.path, line=one.first_line, field=column, fix=hint)
