"""`preserve demand --sql`: the demand aggregation as plain SQL a warehouse runs over its own table.

The query reads a table of canonical request rows (`ts` a UTC timestamp, `input_tokens`,
`output_tokens`, label columns; what `preserve ingest` writes, or any view of the
warehouse's own logs in that shape) and returns demand.csv's columns and rows: export
the result as CSV with a header and every `preserve` stage (`forecast`, `plan`) takes it.

It computes what `demand_from_requests` computes, with the same rules, so both give the
same file (tests/demand/test_demand_sql.py runs the DuckDB dialect to check it):

* windows aligned to multiples of `window_s` since 1970-01-01 UTC;
* per series and window: count(*), sum(input_tokens), sum(output_tokens);
* every series gets a row for every window in which ANY series has requests (0 when it
  has none); a window with no request at all is left out (`gap`: read back as missing,
  not zero) or given zeros (`zero`);
* coverage: the part of the window between the first and the last request (at least
  one second), as a fraction of the window;
* a row with no time or a missing or negative token count stops the query with an error
  (each dialect's own raise function): never silently dropped.

Dialects differ only in a few functions (epoch microseconds, integer division, time
formatting, raising an error, generating a range); each is one entry of `DIALECTS`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from preserve_cli.errors import InputError

# The demand grid's rules, shared by demand_from_requests (which computes the same thing in
# DuckDB here) and by this SQL. Windows: from ServeGen's 10-minute summaries (the finest window
# any source has) to the planner's coarsest, a day.
MIN_WINDOW_S, MAX_WINDOW_S = 600, 86_400
SINGLE_SERIES, UNLABELLED = "all", "unknown"
EMPTY_WINDOW_POLICIES = ("gap", "zero")
_US = 1_000_000
# Seconds from 0001-01-01 to 1970-01-01: shifting times by at least this much keeps every
# integer division non-negative, where truncating and flooring agree in every dialect.
_YEAR_ONE_S = 62_135_596_800
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$-]*$")
UNUSABLE_MESSAGE = "preserve: a request row has no ts or a missing or negative token count"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class Dialect:
    name: str
    quote: Callable[[str], str]            # an identifier
    string_type: str
    double_type: str
    epoch_us: Callable[[str], str]         # TIMESTAMP -> microseconds since 1970 (BIGINT)
    div: Callable[[str, str], str]         # integer division of non-negative BIGINTs
    iso_seconds: Callable[[str], str]      # seconds since 1970 -> 'YYYY-MM-DDTHH:MM:SSZ'
    raise_error: Callable[[str], str]      # an expression that stops the query with a message
    window_range: Callable[[str, str], str]  # FROM-clause item: one row `w` per integer first..last
    preamble: str = ""                     # statements to run first


def _double_quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _backticked(name: str) -> str:
    return "`" + name.replace("`", "") + "`"


DIALECTS: dict[str, Dialect] = {
    # duckdb.org/docs/sql/functions/timestamp (epoch_us, make_timestamp), .../utility (error)
    "duckdb": Dialect(
        name="duckdb", quote=_double_quoted, string_type="VARCHAR", double_type="DOUBLE",
        epoch_us=lambda ts: f"epoch_us(CAST({ts} AS TIMESTAMPTZ))", div=lambda a, b: f"(({a}) // ({b}))",
        iso_seconds=lambda s: f"strftime(make_timestamp(({s}) * {_US}), '%Y-%m-%dT%H:%M:%SZ')",
        raise_error=lambda message: f"error({_quote(message)})",
        window_range=lambda first, last: f"(SELECT unnest(range({first}, {last} + 1)) AS w)"),
    # spark.apache.org/docs/latest/api/sql (unix_micros, div, timestamp_seconds, raise_error, sequence)
    "spark": Dialect(
        name="spark", quote=_backticked, string_type="STRING", double_type="DOUBLE",
        epoch_us=lambda ts: f"unix_micros({ts})", div=lambda a, b: f"(({a}) div ({b}))",
        iso_seconds=lambda s: f"date_format(timestamp_seconds({s}), \"yyyy-MM-dd'T'HH:mm:ss'Z'\")",
        raise_error=lambda message: f"raise_error({_quote(message)})",
        window_range=lambda first, last: f"(SELECT explode(sequence({first}, {last})) AS w)",
        # date_format writes the session's zone: make it UTC.
        preamble="SET spark.sql.session.timeZone = UTC;\n"),
    # cloud.google.com/bigquery/docs/reference/standard-sql (UNIX_MICROS, DIV, FORMAT_TIMESTAMP, ERROR,
    # GENERATE_ARRAY)
    "bigquery": Dialect(
        name="bigquery", quote=_backticked, string_type="STRING", double_type="FLOAT64",
        epoch_us=lambda ts: f"UNIX_MICROS({ts})", div=lambda a, b: f"DIV(({a}), ({b}))",
        iso_seconds=lambda s: f"FORMAT_TIMESTAMP('%Y-%m-%dT%H:%M:%SZ', TIMESTAMP_SECONDS({s}), 'UTC')",
        raise_error=lambda message: f"ERROR({_quote(message)})",
        window_range=lambda first, last: f"UNNEST(GENERATE_ARRAY({first}, {last})) AS w"),
    # trino.io/docs/current/functions (to_unixtime, from_unixtime, format_datetime, fail, sequence).
    # to_unixtime is a DOUBLE of seconds: exact to the microsecond until year 2255 (53-bit mantissa).
    "trino": Dialect(
        name="trino", quote=_double_quoted, string_type="VARCHAR", double_type="DOUBLE",
        epoch_us=lambda ts: f"CAST(round(to_unixtime({ts}) * {_US}) AS BIGINT)", div=lambda a, b: f"(({a}) / ({b}))",
        iso_seconds=lambda s: f"format_datetime(from_unixtime({s}, 'UTC'), 'yyyy-MM-dd''T''HH:mm:ss''Z''')",
        raise_error=lambda message: f"fail({_quote(message)})",
        window_range=lambda first, last: f"UNNEST(sequence({first}, {last})) AS t(w)"),
}


def _table_name(table: str, dialect: Dialect) -> str:
    parts = table.split(".")
    if not table or not all(_IDENTIFIER.match(part) for part in parts):
        raise InputError(f"table name {table!r} is not a (dotted) SQL identifier", field="--table",
                         fix="name the table like requests, dataset.requests or project.dataset.requests")
    return ".".join(dialect.quote(part) for part in parts)


def _series_sql(series_by: Sequence[str], dialect: Dialect) -> str:
    if not series_by:
        return _quote(SINGLE_SERIES)
    parts = [f"COALESCE(NULLIF(TRIM(CAST({dialect.quote(name)} AS {dialect.string_type})), ''), "
             f"{_quote(UNLABELLED)})" for name in series_by]
    joined: list[str] = []
    for part in parts:
        joined += [part, "'/'"]
    return f"CONCAT({', '.join(joined[:-1])})" if len(parts) > 1 else parts[0]


def demand_sql(table: str, window_s: int, *, dialect: str = "duckdb", series_by: str | Sequence[str] | None = None,
               empty_windows: str = "gap") -> str:
    """The SQL that turns `table`'s request rows into demand.csv rows (see the module docstring)."""
    if dialect not in DIALECTS:
        raise InputError(f"unknown SQL dialect {dialect!r}", field="--dialect", fix=f"use one of {', '.join(DIALECTS)}")
    if isinstance(window_s, bool) or not isinstance(window_s, int) or not MIN_WINDOW_S <= window_s <= MAX_WINDOW_S:
        raise InputError(f"window {window_s!r} s is outside {MIN_WINDOW_S}..{MAX_WINDOW_S} s", field="--window",
                         fix="use a window between 10m and 1d")
    if empty_windows not in EMPTY_WINDOW_POLICIES:
        raise InputError(f"unknown policy {empty_windows!r}", field="--empty-windows",
                         fix="use 'gap' (a window with no requests at all is missing) or 'zero'")
    d = DIALECTS[dialect]
    names = [series_by] if isinstance(series_by, str) else list(series_by or [])
    keys = [name.strip() for item in names for name in item.split(",") if name.strip()]
    bad = [name for name in keys if not _IDENTIFIER.match(name)]
    if bad:
        raise InputError(f"column name {bad[0]!r} is not a SQL identifier", field="--series-by",
                         fix="name label columns with letters, digits and _")
    window_us = window_s * _US
    shift_windows = -(-_YEAR_ONE_S // window_s)
    bucket = f"{d.div(f'us + {shift_windows * window_us}', str(window_us))} - {shift_windows}"
    unusable = ("ts IS NULL OR input_tokens IS NULL OR output_tokens IS NULL "
                "OR input_tokens < 0 OR output_tokens < 0")
    window_start = f"windows.w * {window_s}"
    first_s, last_s = (f"CAST(span.{end}_us AS {d.double_type}) / {_US}" for end in ("first", "last"))
    observed = f"LEAST({window_start} + {window_s}, {last_s}) - GREATEST({window_start}, {first_s})"
    coverage = f"LEAST(GREATEST({observed}, 1.0), {window_s}) / {window_s}"
    windows = ("SELECT DISTINCT w FROM cells" if empty_windows == "gap" else
               f"SELECT w FROM span_windows, {d.window_range('span_windows.first_w', 'span_windows.last_w')}")
    return f"""{d.preamble}-- preserve demand: requests, prefill and decode tokens per series and {window_s} s window
-- from {table} (columns ts, input_tokens, output_tokens{''.join(', ' + k for k in keys)}); dialect {d.name}.
-- Export the result as CSV with a header: it is a demand.csv (docs/formats.md, docs/warehouse.md).
WITH requests AS (
  SELECT {_series_sql(keys, d)} AS series, {d.epoch_us('ts')} AS us, input_tokens, output_tokens
  FROM {_table_name(table, d)}
  WHERE CASE WHEN {unusable} THEN {d.raise_error(UNUSABLE_MESSAGE)} ELSE TRUE END
),
cells AS (
  SELECT series, {bucket} AS w, COUNT(*) AS requests, SUM(input_tokens) AS prefill_tokens,
         SUM(output_tokens) AS decode_tokens
  FROM requests
  GROUP BY 1, 2
),
span AS (SELECT MIN(us) AS first_us, MAX(us) AS last_us FROM requests),
span_windows AS (SELECT MIN(w) AS first_w, MAX(w) AS last_w FROM cells),
windows AS ({windows}),
series_keys AS (SELECT DISTINCT series FROM cells)
SELECT series_keys.series AS series,
       {d.iso_seconds(window_start)} AS window_start,
       {window_s} AS window_s,
       {coverage} AS coverage,
       COALESCE(cells.requests, 0) AS requests,
       COALESCE(cells.prefill_tokens, 0) AS prefill_tokens,
       COALESCE(cells.decode_tokens, 0) AS decode_tokens
FROM series_keys
CROSS JOIN windows
CROSS JOIN span
LEFT JOIN cells ON cells.series = series_keys.series AND cells.w = windows.w
ORDER BY 1, 2
"""
