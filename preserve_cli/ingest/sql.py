"""DuckDB SQL that turns raw log text into canonical request rows.

Every source — a CSV or JSONL file read by DuckDB, or batches of lines read by
Python when a file has bad lines — is first brought to the same shape: one VARCHAR
column `raw_<role>` per mapped role. The expressions below then parse those columns.
A value that cannot be used becomes NULL, so "is this row valid?" is "are ts,
input_tokens and output_tokens all non-NULL?"; `reason_columns` says why a row is
not (used only on the slow path that reports file:line).

Parsing rules (the same for every format):
* tokens: a number that is a whole, non-negative count (`12` and `12.0` are fine;
  `-3`, `12.5`, `abc` and empty are not);
* wall-clock time: anything DuckDB reads as a TIMESTAMPTZ with the session zone UTC —
  ISO 8601 with any number of fractional digits, `T` or space, optional offset or `Z`;
* numeric time: a finite number of units added to the epoch;
* latency (optional): a finite, non-negative duration (`ttft_ms`, `e2e_ms` columns, scaled
  to ms), or a second time (first token / end) not before the request's time. Absent
  or empty is fine (NULL); anything else unusable makes the row bad (`bad_latency`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from preserve_cli.ingest.formats.base import (
    LABEL_ROLES, LATENCY_ROLES, OUTPUT_COLUMN, REQUIRED_ROLES, TIME_POINT_ROLES, TIME_UNITS_US, TimeSemantics,
)

# A token count is stored exactly only below 2**53 (it passes through a DOUBLE).
MAX_TOKENS = 2**53
# The TIMESTAMP range every Parquet reader handles: 0001-01-01 .. 9999-12-31 (µs since 1970).
MIN_TS_US = -62_135_596_800_000_000
MAX_TS_US = 253_402_300_799_999_999

# Message of the error the fast path raises at an unusable value (see fail_on_unusable).
UNUSABLE_ROW = "preserve: unusable value in a request row"

REASON_MALFORMED = "malformed_line"
REASON_BAD_TIMESTAMP = "bad_timestamp"
REASON_MISSING = "missing_tokens"
REASON_NON_NUMERIC = "non_numeric_tokens"
REASON_NEGATIVE = "negative_tokens"
REASON_FRACTIONAL = "fractional_tokens"
REASON_TOO_LARGE = "too_many_tokens"
REASON_BAD_LATENCY = "bad_latency"

# What a user should do about each reason (the first part of every error's fix).
REASON_FIX = {
    REASON_MALFORMED: "repair or remove the line",
    REASON_BAD_TIMESTAMP: "write times like 2024-05-10 13:00:00[.fffffff][+00:00] (UTC unless an offset is "
                          "given), or numbers with --time-unit",
    REASON_MISSING: "every request needs its input and output token counts",
    REASON_NON_NUMERIC: "token counts are whole numbers like 512",
    REASON_NEGATIVE: "token counts cannot be negative",
    REASON_FRACTIONAL: "token counts are whole numbers like 512",
    REASON_TOO_LARGE: f"token counts must be below {MAX_TOKENS:,}",
    REASON_BAD_LATENCY: "latencies are non-negative numbers (or times not before the request's), "
                        "or empty when unknown",
}


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def raw(role: str) -> str:
    return f"raw_{role}"


@dataclass(frozen=True)
class ParseSpec:
    """What the canonical expressions need to know about one source."""

    roles: Sequence[str]            # mapped roles, required ones first
    time: TimeSemantics
    epoch_us: int = 0               # added to numeric times
    # Byte length of the first record's time when it is a plain `YYYY-MM-DD hh:mm:ss[.f]`
    # string; strings of that length take DuckDB's fast TIMESTAMP parser (`_wallclock_sql`).
    naive_ts_length: int | None = None
    latency_ms_per_unit: float = 1.0  # scale of the `ttft_ms` / `e2e_ms` source columns

    @property
    def labels(self) -> list[str]:
        return [role for role in LABEL_ROLES if role in self.roles]

    @property
    def latencies(self) -> list[str]:
        """Latency output columns this source fills (from a duration or a second time)."""
        fed = {*self.roles, *(TIME_POINT_ROLES[role] for role in self.roles if role in TIME_POINT_ROLES)}
        return [column for column in LATENCY_ROLES if column in fed]

    def latency_source(self, column: str) -> str:
        """The role that feeds latency `column`: the duration itself, else the time point."""
        if column in self.roles:
            return column
        return next(role for role, fed in TIME_POINT_ROLES.items() if fed == column and role in self.roles)


def _wallclock_sql(spec: ParseSpec, role: str = "ts") -> str:
    column = raw(role)
    # epoch_us() of +-infinity (DuckDB accepts 'infinity' as a time) is NULL: unusable.
    zoned = f"make_timestamptz(epoch_us(TRY_CAST({column} AS TIMESTAMPTZ)))"
    if spec.naive_ts_length is None or role != "ts":
        return zoned
    # DuckDB's TIMESTAMP parser is ~3x faster than the TIMESTAMPTZ one (which goes through
    # ICU even in UTC) but IGNORES a zone suffix. So only strings of exactly the byte length
    # of the first record's zone-less time take it (a zone adds characters: `Z`, `+00:00`,
    # `-0500`, ` UTC`); every other string takes the zone-aware parser. Both give the same
    # instant for a zone-less string. strlen() is free; every finer test measured (contains,
    # LIKE, a character at a position) cost 5-10% of the whole read. What slips through is
    # a zoned string exactly as long as the first time, e.g. `...:00.1-05:00` after
    # `...:00.1234567`: a file would have to mix zone styles AND precisions.
    naive = f"make_timestamptz(epoch_us(TRY_CAST({column} AS TIMESTAMP)))"
    return f"CASE WHEN strlen({column}) = {spec.naive_ts_length} THEN {naive} ELSE {zoned} END"


def parsed_columns(spec: ParseSpec) -> list[str]:
    """First projection: parse the raw text (p_* columns); raw columns pass through."""
    def time(role: str) -> str:
        return f"TRY_CAST({raw(role)} AS DOUBLE)" if spec.time.is_numeric else _wallclock_sql(spec, role)

    parsed = [f"{time('ts')} AS p_ts",
              f"TRY_CAST({raw('input')} AS DOUBLE) AS p_input",
              f"TRY_CAST({raw('output')} AS DOUBLE) AS p_output"]
    parsed += [f"{time(role)} AS p_{role}" for role in TIME_POINT_ROLES if role in spec.roles]
    parsed += [f"TRY_CAST({raw(role)} AS DOUBLE) AS p_{role}" for role in LATENCY_ROLES if role in spec.roles]
    return parsed + [raw(role) for role in spec.roles]


def _tokens_sql(parsed: str) -> str:
    # BETWEEN also rules out NaN and infinities (DuckDB sorts NaN above every number).
    return (f"CASE WHEN {parsed} BETWEEN 0 AND {MAX_TOKENS - 1} AND {parsed} = floor({parsed}) "
            f"THEN TRY_CAST({parsed} AS BIGINT) END")


def _ts_sql(spec: ParseSpec, parsed: str = "p_ts") -> str:
    if not spec.time.is_numeric:
        return parsed  # already NULL when unusable (see _wallclock_sql)
    per_unit = TIME_UNITS_US[spec.time.unit or "s"]
    offset = f"TRY_CAST(round({parsed} * {per_unit!r}) AS BIGINT)"
    low, high = MIN_TS_US - spec.epoch_us, MAX_TS_US - spec.epoch_us
    return (f"CASE WHEN isfinite({parsed}) AND {parsed} * {per_unit!r} BETWEEN {low} AND {high} "
            f"THEN make_timestamptz({spec.epoch_us} + {offset}) END")


def _absent(role: str) -> str:
    return f"({raw(role)} IS NULL OR trim({raw(role)}) = '')"


def latency_sql(spec: ParseSpec, column: str) -> str:
    """Latency `column` in ms: NULL when absent, NaN when present but unusable (a bad row)."""
    role = spec.latency_source(column)
    if role == column:
        value = f"(p_{role} * {spec.latency_ms_per_unit!r})"
        usable = f"isfinite(p_{role}) AND p_{role} >= 0"
    else:
        value = f"((epoch_us({_ts_sql(spec, f'p_{role}')}) - epoch_us({_ts_sql(spec)})) / 1000.0)"
        usable = f"{value} >= 0"
    return f"CASE WHEN {_absent(role)} THEN NULL WHEN {usable} THEN {value} ELSE 'NaN'::DOUBLE END"


def canonical_columns(spec: ParseSpec) -> list[str]:
    """Second projection: the canonical columns (NULL where a value is unusable)."""
    columns = [f"{_ts_sql(spec)} AS ts",
               f"{_tokens_sql('p_input')} AS {OUTPUT_COLUMN['input']}",
               f"{_tokens_sql('p_output')} AS {OUTPUT_COLUMN['output']}"]
    columns += [f"NULLIF(trim({raw(role)}), '') AS {OUTPUT_COLUMN[role]}" for role in spec.labels]
    columns += [f"{latency_sql(spec, column)} AS {column}" for column in spec.latencies]
    return columns


def column_type(name: str) -> str:
    """DuckDB type of a canonical output column."""
    return {"ts": "TIMESTAMPTZ", "input_tokens": "BIGINT", "output_tokens": "BIGINT"}.get(
        name, "DOUBLE" if name in LATENCY_ROLES else "VARCHAR")


def output_columns(spec: ParseSpec) -> list[str]:
    return ([OUTPUT_COLUMN[role] for role in REQUIRED_ROLES] + [OUTPUT_COLUMN[role] for role in spec.labels]
            + spec.latencies)


def canonical_select(spec: ParseSpec, source_sql: str, *, passthrough: Sequence[str] = (),
                     computed: Sequence[str] = ()) -> str:
    """SELECT the canonical columns of `source_sql`, then `passthrough` source columns and
    `computed` expressions over the parsed (p_*) and raw columns."""
    inner = ", ".join([*parsed_columns(spec), *passthrough])
    outer = ", ".join([*canonical_columns(spec), *passthrough, *computed])
    return f"SELECT {outer} FROM (SELECT {inner} FROM ({source_sql}))"


def unusable_sql(spec: ParseSpec) -> str:
    """True for a canonical row that cannot be used (NULL required value, NaN latency)."""
    checks = ["ts IS NULL", "input_tokens IS NULL", "output_tokens IS NULL"]
    checks += [f"isnan({column}) IS TRUE" for column in spec.latencies]
    return " OR ".join(checks)


def fail_on_unusable(spec: ParseSpec, rows_sql: str) -> str:
    """`rows_sql` that raises (InvalidInputException, UNUSABLE_ROW) at an unusable row (`unusable_sql`)."""
    return (f"SELECT * FROM ({rows_sql}) WHERE CASE WHEN {unusable_sql(spec)} THEN error({literal(UNUSABLE_ROW)}) "
            "ELSE true END")


def _token_checks(role: str) -> list[tuple[str, str]]:
    column, parsed = raw(role), f"p_{role}"
    return [
        (REASON_MISSING, f"{column} IS NULL OR trim({column}) = ''"),
        (REASON_NON_NUMERIC, f"{parsed} IS NULL OR NOT isfinite({parsed})"),
        (REASON_NEGATIVE, f"{parsed} < 0"),
        (REASON_FRACTIONAL, f"{parsed} <> floor({parsed})"),
        (REASON_TOO_LARGE, f"{parsed} >= {MAX_TOKENS}"),
    ]


def reason_columns(spec: ParseSpec, source_columns: Mapping[str, str], malformed: str) -> list[str]:
    """`reason`, `reason_column` and `reason_value` of a row (NULL when the row is valid).

    Checked in order: the line itself, then the time, then input and output tokens; the
    first failing check names the row's reason. `malformed` is a column holding a
    description of a line Python could not split into fields (NULL otherwise).
    """
    checks: list[tuple[str, str, str, str]] = [(REASON_MALFORMED, f"{malformed} IS NOT NULL", "NULL", malformed)]
    checks.append((REASON_BAD_TIMESTAMP, f"({_ts_sql(spec)}) IS NULL", literal(source_columns["ts"]), raw("ts")))
    for role in ("input", "output"):
        for reason, condition in _token_checks(role):
            checks.append((reason, condition, literal(source_columns[role]), raw(role)))
    for column in spec.latencies:
        role = spec.latency_source(column)
        checks.append((REASON_BAD_LATENCY, f"isnan({latency_sql(spec, column)}) IS TRUE",
                       literal(source_columns[role]), raw(role)))

    def case(pick: int) -> str:
        whens = " ".join(f"WHEN {check[1]} THEN {check[pick]}" for check in checks)
        return f"CASE {whens} END"

    reasons = " ".join(f"WHEN {condition} THEN {literal(reason)}" for reason, condition, _, _ in checks)
    return [f"CASE {reasons} END AS reason", f"{case(2)} AS reason_column", f"{case(3)} AS reason_value"]


def json_path(keys: Sequence[str]) -> str:
    """DuckDB JSON path of nested keys: ("a", "b-c") -> `$."a"."b-c"`."""
    return "$" + "".join('."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"' for key in keys)


# Nested JSON keys read under one top-level key, as a tree: None = a value (leaf), a dict = an
# object with those children, _CONFLICT = read both as a value and as an object.
_CONFLICT = "conflict"
_UNSEEN = "unseen"
KeyTree = dict | str | None


def _add_path(tree: KeyTree, rest: Sequence[str]) -> KeyTree:
    if tree == _CONFLICT:
        return tree
    if not rest:
        return None if tree in (_UNSEEN, None) else _CONFLICT
    if tree is None:
        return _CONFLICT
    node = {} if tree == _UNSEEN else tree
    assert isinstance(node, dict)
    return {**node, rest[0]: _add_path(node.get(rest[0], _UNSEEN), rest[1:])}


def _has_conflict(tree: KeyTree) -> bool:
    return tree == _CONFLICT or (isinstance(tree, dict) and any(map(_has_conflict, tree.values())))


def _json_type(tree: KeyTree) -> str:
    """read_json column type of a top-level key: VARCHAR for a value; for nested keys a STRUCT
    of VARCHAR leaves (read straight into typed fields: ~25% less CPU than JSON plus
    json_extract_string on a 1M-row OpenAI log; a record that does not fit the STRUCT fails
    the read and takes the line-exact path); JSON when a key is both a value and an object."""
    if tree is None:
        return "VARCHAR"
    if _has_conflict(tree):
        return "JSON"
    assert isinstance(tree, dict)
    return "STRUCT(" + ", ".join(f"{ident(name)} {_json_type(child)}" for name, child in tree.items()) + ")"


def native_reader_sql(path: str, *, container: str, compression: str, columns: Sequence[str], delimiter: str,
                      mapping: Mapping[str, str], paths: Mapping[str, Sequence[str]] | None = None,
                      line_column: str | None = None) -> str:
    """SELECT raw_<role> columns straight from a file with DuckDB's reader (the fast path).

    CSV: columns are read as VARCHAR (token columns as DOUBLE, below) and parsed by our SQL,
    so the rules are the same for every format; positional names avoid any quoting trouble
    with odd header names; strict mode makes any malformed line an error (which sends the
    file to the slow path). JSON: every key as VARCHAR, because read_json would turn `true`
    into 1 where our rules say "not a number"; a key holding nested ones is read as JSON and
    the nested values taken out as text. Parquet: every column cast to VARCHAR (its own type
    says nothing about whether a value is usable); `line_column` adds the 1-based row number
    (the slow path's "line" for Parquet).
    """
    paths = paths or {}
    if container == "parquet":
        def parquet_column(source: str) -> str:
            top, *rest = paths.get(source, (source,))
            expression = ident(top)
            for key in rest:
                expression = f"struct_extract({expression}, {literal(key)})"
            return f"CAST({expression} AS VARCHAR)"

        select = ", ".join(f"{parquet_column(source)} AS {raw(role)}" for role, source in mapping.items())
        if line_column:
            select = f"file_row_number + 1 AS {line_column}, " + select
        return f"SELECT {select} FROM read_parquet({literal(path)}, file_row_number = {str(bool(line_column)).lower()})"
    if container == "csv":
        # Token columns are parsed as DOUBLE by the reader itself (faster than a cast afterwards,
        # same conversion): a cell it cannot parse fails the read, which sends the file to the
        # slow path, where TRY_CAST to DOUBLE names the row.
        numeric = {source for role, source in mapping.items() if role in ("input", "output")} - \
                  {source for role, source in mapping.items() if role not in ("input", "output")}
        types = ", ".join(f"{literal(f'c{i}')}: {literal('DOUBLE' if name in numeric else 'VARCHAR')}"
                          for i, name in enumerate(columns))
        position = {name: i for i, name in enumerate(columns)}
        select = ", ".join(f"c{position[source]} AS {raw(role)}" for role, source in mapping.items())
        reader = (f"read_csv({literal(path)}, header=true, auto_detect=false, delim={literal(delimiter)}, "
                  f"quote='\"', escape='\"', columns={{{types}}}, compression={literal(compression)}, "
                  f"strict_mode=true, null_padding=false)")
        return f"SELECT {select} FROM {reader}"
    key_paths = {source: tuple(paths.get(source, (source,))) for source in mapping.values()}
    trees: dict[str, dict | None] = {}
    for key_path in key_paths.values():
        trees[key_path[0]] = _add_path(trees.get(key_path[0], _UNSEEN), key_path[1:])
    keys = ", ".join(f"{literal(top)}: {literal(_json_type(tree))}" for top, tree in trees.items())

    def json_column(source: str) -> str:
        top, *rest = key_paths[source]
        if trees[top] is None:
            return ident(top)
        if _json_type(trees[top]) == "JSON":
            return f"json_extract_string({ident(top)}, {literal(json_path(rest))})"
        expression = ident(top)
        for key in rest:
            expression = f"struct_extract({expression}, {literal(key)})"
        return expression

    select = ", ".join(f"{json_column(source)} AS {raw(role)}" for role, source in mapping.items())
    reader = (f"read_json({literal(path)}, format='newline_delimited', columns={{{keys}}}, "
              f"compression={literal(compression)})")
    return f"SELECT {select} FROM {reader}"
