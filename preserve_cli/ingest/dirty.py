"""The slow, line-exact path for a file that has bad lines or rows (Parquet: row-exact).

Python reads the file record by record (`records.py`, real line numbers), and DuckDB
judges each batch with the very same expressions as the fast path (`sql.py`), adding
why a row is unusable. `on_error="fail"` stops at the first bad row with an
`InputError` naming file:line, the column, the value and the fix; `"skip"` keeps the
good rows in a temporary table and counts the bad ones by reason, with the first
file:line of each.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from preserve_cli.errors import InputError
from preserve_cli.ingest import sql
from preserve_cli.ingest.plan import FilePlan
from preserve_cli.ingest.records import Record, csv_records, jsonl_records

BATCH_RECORDS = 100_000
LINE, MALFORMED = "__line", "__malformed"
SKIP_HINT = "or --on-error skip drops and counts such rows"


@dataclass
class SkipStat:
    count: int
    first: str  # "file:line" of the first such row

    def to_dict(self) -> dict[str, object]:
        return {"count": self.count, "first": self.first}


def merge_skipped(total: dict[str, SkipStat], more: dict[str, SkipStat]) -> None:
    """Add `more` (a later file) into `total`; the first occurrence stays the earliest."""
    for reason, stat in more.items():
        if reason in total:
            total[reason].count += stat.count
        else:
            total[reason] = SkipStat(stat.count, stat.first)


def _records(plan: FilePlan) -> Iterator[Record]:
    peek = plan.peek
    if peek.container == "csv":
        positions = [peek.columns.index(source) for source in plan.mapping.values()]
        return csv_records(peek.path, peek.compression, peek.delimiter, len(peek.columns), positions)
    return jsonl_records(peek.path, peek.compression, [peek.path_of(source) for source in plan.mapping.values()])


def _batches(plan: FilePlan) -> Iterator[pa.Table]:
    roles = list(plan.mapping)
    lines: list[int] = []
    problems: list[str | None] = []
    values: list[list[str | None]] = [[] for _ in roles]
    empty: list[None] = [None] * len(roles)
    for line, problem, fields in _records(plan):
        lines.append(line)
        problems.append(problem)
        for column, value in zip(values, fields or empty):
            column.append(value)
        if len(lines) >= BATCH_RECORDS:
            yield _table(roles, lines, problems, values)
            lines, problems, values = [], [], [[] for _ in roles]
    if lines:
        yield _table(roles, lines, problems, values)


def _table(roles: list[str], lines: list[int], problems: list[str | None], values: list[list[str | None]]) -> pa.Table:
    columns = {LINE: pa.array(lines, pa.int64()), MALFORMED: pa.array(problems, pa.string())}
    columns.update({sql.raw(role): pa.array(column, pa.string()) for role, column in zip(roles, values)})
    return pa.table(columns)


def _classified_sql(plan: FilePlan, source: str) -> str:
    return sql.canonical_select(plan.spec, f"SELECT * FROM {source}", passthrough=[LINE, MALFORMED],
                                computed=sql.reason_columns(plan.spec, plan.mapping, MALFORMED))


def _parquet_rows_sql(plan: FilePlan) -> str:
    """A Parquet file's raw columns with 1-based row numbers as LINE: DuckDB reads it all
    (a Parquet file has no malformed lines, only unusable values)."""
    peek = plan.peek
    reader = sql.native_reader_sql(str(peek.path), container="parquet", compression="none", columns=peek.columns,
                                   delimiter="", mapping=plan.mapping, paths=peek.paths, line_column=LINE)
    return f"(SELECT *, NULL::VARCHAR AS {MALFORMED} FROM ({reader}))"


def scan_dirty_file(con: duckdb.DuckDBPyConnection, plan: FilePlan, *, on_error: str,
                    table: str) -> dict[str, SkipStat]:
    """Read `plan`'s file line by line; raise at the first bad row or keep the good ones in `table`.

    `table` gets the canonical columns of the good rows plus their line numbers (LINE).
    """
    keep = ", ".join([*sql.output_columns(plan.spec), LINE])
    chunk = f"__chunk_{table}"
    columns = "".join(f", {column} {sql.column_type(column)}" for column in sql.output_columns(plan.spec))
    con.execute(f"CREATE TEMP TABLE {table} ({columns[2:]}, {LINE} BIGINT, reason VARCHAR)")

    def judge(classified: str) -> None:
        if on_error == "fail":
            bad = con.sql(f"SELECT {LINE}, reason, reason_column, reason_value FROM ({classified}) "
                          f"WHERE reason IS NOT NULL ORDER BY {LINE} LIMIT 1").fetchall()
            if bad:
                raise _row_error(plan, *bad[0])
        con.execute(f"INSERT INTO {table} SELECT {keep}, reason FROM ({classified})")

    if plan.peek.container == "parquet":
        judge(_classified_sql(plan, _parquet_rows_sql(plan)))
    else:
        try:
            for batch in _batches(plan):
                con.register(chunk, batch)
                judge(_classified_sql(plan, chunk))
        finally:
            con.unregister(chunk)
    rows = con.sql(f"SELECT reason, count(*), min({LINE}) FROM {table} WHERE reason IS NOT NULL "
                   "GROUP BY reason ORDER BY reason").fetchall()
    return {reason: SkipStat(int(count), f"{plan.peek.path}:{first}") for reason, count, first in rows}


def good_rows_sql(plan: FilePlan, table: str) -> str:
    columns = ", ".join(sql.output_columns(plan.spec))
    return f"SELECT {columns} FROM {table} WHERE reason IS NULL ORDER BY {LINE}"


def _row_error(plan: FilePlan, line: int, reason: str, column: str | None, value: str | None) -> InputError:
    shown = "empty" if value is None or not value.strip() else repr(value)
    problem = {
        sql.REASON_MALFORMED: f"malformed line: {value}",
        sql.REASON_BAD_TIMESTAMP: f"cannot read the time {shown}",
        sql.REASON_MISSING: "no token count",
        sql.REASON_NON_NUMERIC: f"token count {shown} is not a number",
        sql.REASON_NEGATIVE: f"token count {shown} is negative",
        sql.REASON_FRACTIONAL: f"token count {shown} is not a whole number",
        sql.REASON_TOO_LARGE: f"token count {shown} is too large",
        sql.REASON_BAD_LATENCY: f"latency {shown} is not a usable duration or time",
    }[reason]
    if reason == sql.REASON_BAD_TIMESTAMP and plan.spec.time.is_numeric:
        problem = f"time {shown} is not a usable number of {plan.spec.time.unit}"
    return InputError(f"{problem} [{reason}]", file=plan.peek.path, line=int(line), field=column,
                      fix=f"{sql.REASON_FIX[reason]}; {SKIP_HINT}")
