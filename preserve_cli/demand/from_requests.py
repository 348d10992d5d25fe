"""Demand from request logs: requests, prefill and decode tokens per series and window.

`sources` are requests Parquet files (from `preserve ingest`) or raw logs, which are
read through the ingest SQL on the fly: one DuckDB pass, no Parquet written. The
aggregation is one GROUP BY in DuckDB; Python only lays the (small) result on a grid.

Grid: regular windows aligned to multiples of `window_s` since 1970-01-01 UTC (hourly
windows start on the hour, daily ones at 00:00 UTC), from the window holding the first
request to the window holding the last. Values are what was observed, so the sum of
prefill_tokens over all windows is exactly the input tokens of the log.

* coverage: the log only observes [first request, last request]; the first and last
  window get the observed fraction of their length, the others 1;
* a window inside that span with no request from ANY series is, by default, a gap
  (missing, coverage 0): a silent collector looks exactly like that, and missing is not
  zero demand. `empty_windows="zero"` counts it as 0 instead;
* a window where other series have requests but this one has none is 0 for this series.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from preserve_cli.demand.schema import Demand, DemandSeries
from preserve_cli.errors import InputError
from preserve_cli.ingest import IngestOptions, RequestRows, duckdb_connection
from preserve_cli.ingest.api import iso_us
from preserve_cli.ingest.formats.base import LATENCY_ROLES
from preserve_cli.ingest.paths import resolve_paths
from preserve_cli.ingest.peek import is_parquet
from preserve_cli.ingest.plan import plan_ingest
from preserve_cli.ingest.sql import ident, literal
from preserve_cli.ingest.warehouse import EMPTY_WINDOW_POLICIES, MAX_WINDOW_S, MIN_WINDOW_S, SINGLE_SERIES, UNLABELLED

DEFAULT_SERIES_COLUMN = "model"
# More windows than this means a timestamp far away from the others (a typo'd year), not a log.
MAX_WINDOWS = 1_000_000
_US = 1_000_000
# Buckets are floor((us + SHIFT) / window) - SHIFT / window: integer division in DuckDB truncates
# toward zero, and the shift (a whole number of any window, beyond year 1) keeps it non-negative.
_SHIFT_S = 86_400 * 800_000
# Columns of requests rows that are not labels to split series by.
_NOT_LABELS = ("ts", "input_tokens", "output_tokens", "filename", *LATENCY_ROLES)
_VALID = "ts IS NOT NULL AND input_tokens >= 0 AND output_tokens >= 0"
_REQUIRED = {"ts": ("TIMESTAMP WITH TIME ZONE", "TIMESTAMP"), "input_tokens": None, "output_tokens": None}


def demand_from_requests(sources: str | Path | Iterable[str | Path], window_s: int, *,
                         series_by: str | Sequence[str] | None = None, empty_windows: str = "gap",
                         ingest_options: IngestOptions | Mapping[str, Any] | None = None) -> Demand:
    if isinstance(window_s, bool) or not isinstance(window_s, numbers.Integral) \
            or not MIN_WINDOW_S <= window_s <= MAX_WINDOW_S:
        raise InputError(f"window {window_s!r} s is outside {MIN_WINDOW_S}..{MAX_WINDOW_S} s", field="window",
                         fix="use a window between 10 minutes and 1 day, e.g. 3600")
    if empty_windows not in EMPTY_WINDOW_POLICIES:
        raise InputError(f"unknown policy {empty_windows!r}", field="empty_windows",
                         fix="use 'gap' (a window with no requests at all is missing) or 'zero'")
    window_s = int(window_s)
    paths = resolve_paths(sources)
    # Parquet in preserve's requests layout is aggregated as it is; any other Parquet is a log export.
    parquet = [path for path in paths if is_parquet(path) and _is_requests_parquet(path)]
    logs = [path for path in paths if path not in parquet]
    options = IngestOptions.coerce(ingest_options)
    notes: list[str] = []
    with duckdb_connection() as con:
        # Order does not matter to a GROUP BY; letting DuckDB ignore it saves memory and time.
        con.execute("SET preserve_insertion_order = false")
        parquet_sql, parquet_columns = _parquet_source(con, parquet) if parquet else (None, [])
        unproven = [path for path in parquet if not _rows_proven_usable(path)]
        rows = RequestRows(con, plan_ingest(logs, options)) if logs else None
        columns = sorted(set(parquet_columns) | set(rows.columns if rows else []))
        keys = _series_columns(series_by, columns)

        def aggregate(log_sql: str | None) -> list[tuple]:
            union = " UNION ALL BY NAME ".join(f"SELECT * FROM ({part})" for part in (parquet_sql, log_sql) if part)
            groups = _aggregate(con, union, keys, window_s, check_rows=bool(unproven))
            if any(group[1] is None for group in groups):
                _check_parquet_rows(con, unproven)  # log rows are never unusable: RequestRows sees to it
            return groups

        groups = rows.run(aggregate) if rows else aggregate(None)
        if rows and rows.skipped:
            notes.append("skipped bad rows: " + ", ".join(
                f"{reason} {stat.count:,} (first {stat.first})" for reason, stat in sorted(rows.skipped.items())))
        if rows and rows.plan.empty_files:
            notes.append(f"ignored {len(rows.plan.empty_files)} log file(s) with a header and no requests: "
                         + ", ".join(map(str, rows.plan.empty_files)))
        if rows and rows.plan.epoch_iso:
            notes.append(f"request times are {rows.plan.format.time.describe()}, counted from {rows.plan.epoch_iso}")
    if not groups:
        raise InputError("no requests in the sources", file=paths[0], fix="pass logs that hold requests")
    return _grid(groups, window_s, empty_windows, notes)


def _parquet_source(con: duckdb.DuckDBPyConnection, paths: list[Path]) -> tuple[str, list[str]]:
    names: set[str] = set()
    for path in paths:
        described = con.sql(f"DESCRIBE SELECT * FROM read_parquet({literal(str(path))})").fetchall()
        schema = {row[0]: row[1] for row in described}
        for column, types in _REQUIRED.items():
            if column not in schema:
                raise InputError(f"requests Parquet has no column {column!r} (columns: {', '.join(schema)})",
                                 file=path, fix="write it with `preserve ingest`")
            if types and schema[column] not in types:
                raise InputError(f"column {column!r} is {schema[column]}, expected {' or '.join(types)}",
                                 file=path, fix="write it with `preserve ingest`")
        names.update(schema)
    files = ", ".join(literal(str(path)) for path in paths)
    return f"SELECT * FROM read_parquet([{files}], union_by_name = true)", sorted(names)


def _is_requests_parquet(path: Path) -> bool:
    try:
        names = set(pq.read_schema(path).names)
    except (pa.ArrowException, OSError):
        return False  # the ingest path reports what is wrong with it
    # Any of the canonical names: meant as requests Parquet (a missing one is then named).
    return bool(set(_REQUIRED) & names)


def _rows_proven_usable(path: Path) -> bool:
    """Whether the row-group statistics of a requests Parquet show every row usable (`_VALID`):
    no NULL time, integer token counts with no NULL and a minimum >= 0. `preserve ingest`
    writes these statistics; then the per-row check can be left out of the aggregation
    (0.04 of its 0.14 CPU s on 10M rows, docs/benchmarks.md "Ingest"). A file without them
    (another writer, statistics turned off) is checked row by row as before."""
    try:
        metadata = pq.ParquetFile(path).metadata
    except (pa.ArrowException, OSError):
        return False
    for group in range(metadata.num_row_groups):
        chunks = {chunk.path_in_schema: chunk for chunk in map(metadata.row_group(group).column,
                                                                range(metadata.num_columns))}
        for name in _REQUIRED:
            chunk = chunks.get(name)
            stats = chunk.statistics if chunk is not None else None
            if stats is None or not stats.has_null_count or stats.null_count != 0:
                return False
            if name != "ts" and (chunk.physical_type not in ("INT32", "INT64") or not stats.has_min_max
                                 or stats.min < 0):
                return False
    return True


def _check_parquet_rows(con: duckdb.DuckDBPyConnection, paths: list[Path]) -> None:
    """Name the first unusable row of a requests Parquet (it did not come from `preserve ingest`)."""
    for path in paths:
        bad = con.sql(f"SELECT file_row_number FROM read_parquet({literal(str(path))}, file_row_number = true) "
                      f"WHERE NOT ({_VALID}) OR ({_VALID}) IS NULL ORDER BY 1 LIMIT 1").fetchall()
        if bad:
            raise InputError(f"row {bad[0][0] + 1} has no time or a missing or negative token count", file=path,
                             fix="rewrite the file with `preserve ingest` (it checks every row)")


def _series_columns(series_by: str | Sequence[str] | None, columns: list[str]) -> list[str]:
    if series_by is None:
        return [DEFAULT_SERIES_COLUMN] if DEFAULT_SERIES_COLUMN in columns else []
    wanted = [series_by] if isinstance(series_by, str) else list(series_by)
    wanted = [name.strip() for item in wanted for name in item.split(",") if name.strip()]
    labels = [name for name in columns if name not in _NOT_LABELS]
    missing = [name for name in wanted if name not in labels]
    if missing:
        raise InputError(f"no column {', '.join(map(repr, missing))} to split series by; label columns: "
                         f"{', '.join(labels) or 'none'}", field="series_by",
                         fix="pick one of the label columns, or leave it out for one series")
    return wanted


def _aggregate(con: duckdb.DuckDBPyConnection, rows_sql: str, keys: list[str], window_s: int, *,
               check_rows: bool) -> list[tuple]:
    """(series, bucket, requests, prefill, decode, first_us, last_us) per series and window.

    With `check_rows` (Parquet sources, which may come from elsewhere), unusable rows are
    gathered in a group whose bucket is NULL; log rows never are (RequestRows fails first).
    """
    window_us = window_s * _US
    shift = _SHIFT_S // window_s
    bucket = f"(us + {shift * window_us}) // {window_us} - {shift}"
    if check_rows:
        bucket = f"CASE WHEN {_VALID} THEN {bucket} END"
    parts = [f"coalesce(NULLIF(trim(CAST({ident(k)} AS VARCHAR)), ''), {literal(UNLABELLED)})" for k in keys]
    series = f"concat_ws('/', {', '.join(parts)}) AS series, " if parts else ""
    grouped = (f"SELECT {series}{bucket} AS bucket, count(*), sum(input_tokens), sum(output_tokens), min(us), max(us) "
               f"FROM (SELECT *, epoch_us(ts) AS us FROM ({rows_sql})) GROUP BY ALL")
    # One series: no per-row key to hash; the name is added to the (few) groups instead.
    return con.sql(grouped if parts else f"SELECT {literal(SINGLE_SERIES)}, * FROM ({grouped})").fetchall()


def _grid(groups: list[tuple], window_s: int, empty_windows: str, notes: list[str]) -> Demand:
    series = np.array([g[0] for g in groups])
    buckets = np.array([g[1] for g in groups], dtype=np.int64)
    values = {name: np.array([g[i] for g in groups], dtype=np.float64)
              for i, name in ((2, "requests"), (3, "prefill_tokens"), (4, "decode_tokens"))}
    first_us, last_us = min(g[5] for g in groups), max(g[6] for g in groups)
    first, count = int(buckets.min()), int(buckets.max() - buckets.min()) + 1
    if count > MAX_WINDOWS:
        raise InputError(f"requests span {iso_us(first_us)} .. {iso_us(last_us)}: {count:,} windows of {window_s} s",
                         field="ts", fix="look for a request with a wrong year, or use a coarser window")
    index = buckets - first
    active = np.zeros(count, dtype=bool)
    active[index] = True
    starts_s = (first + np.arange(count)) * window_s
    # Observed part of each window: [first request, last request] ∩ window; at least one
    # second, so that a window with requests is never written as coverage 0 (= missing).
    observed = np.minimum(starts_s + window_s, last_us / _US) - np.maximum(starts_s, first_us / _US)
    coverage = np.clip(observed, 1.0, window_s) / window_s
    gaps = ~active
    result: dict[str, DemandSeries] = {}
    for key in sorted(set(series.tolist())):
        mine = series == key
        arrays = {}
        for name, column in values.items():
            grid = np.zeros(count)
            grid[index[mine]] = column[mine]
            arrays[name] = np.where(gaps, np.nan, grid) if empty_windows == "gap" else grid
        series_coverage = np.where(gaps, 0.0, coverage) if empty_windows == "gap" else coverage
        result[key] = DemandSeries(key=key, window_s=window_s, starts=starts_s.astype("datetime64[s]"),
                                   coverage=series_coverage, **arrays)
    notes.extend(_grid_notes(gaps, coverage, starts_s, first_us, last_us, empty_windows))
    return Demand(window_s=window_s, series=result, notes=notes)


def _grid_notes(gaps: np.ndarray, coverage: np.ndarray, starts_s: np.ndarray, first_us: int, last_us: int,
                empty_windows: str) -> list[str]:
    notes = [f"log spans {iso_us(first_us)} .. {iso_us(last_us)}: first window observed "
             f"{coverage[0]:.1%}, last window {coverage[-1]:.1%} (coverage < 1 = partly observed)"]
    gap_count = int(gaps.sum())
    if gap_count:
        first_gap = iso_us(int(starts_s[np.argmax(gaps)]) * _US)
        treated = ("left as gaps (missing, coverage 0), not zero demand" if empty_windows == "gap"
                   else "counted as zero demand (empty_windows='zero')")
        notes.append(f"{gap_count} of {len(gaps)} window(s) had no request from any series (first at {first_gap}; "
                     f"a collection outage?): {treated}")
    else:
        notes.append(f"0 gap windows: every one of the {len(gaps)} window(s) has requests")
    return notes
