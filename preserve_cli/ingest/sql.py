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
* numeric time: a finite number of units added to the epoch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from preserve_cli.ingest.formats.base import LABEL_ROLES, OUTPUT_COLUMN, REQUIRED_ROLES, TIME_UNITS_US, TimeSemantics

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

    @property
    def labels(self) -> list[str]:
        return [role for role in LABEL_ROLES if role in self.roles]


def _wallclock_sql(spec: ParseSpec) -> str:
    column = raw("ts")
    # epoch_us() of +-infinity (DuckDB accepts 'infinity' as a time) is NULL: unusable.
    zoned = f"make_timestamptz(epoch_us(TRY_CAST({column} AS TIMESTAMPTZ)))"
    if spec.naive_ts_length is None:
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
    ts = f"TRY_CAST({raw('ts')} AS DOUBLE)" if spec.time.is_numeric else _wallclock_sql(spec)
    parsed = [f"{ts} AS p_ts",
              f"TRY_CAST({raw('input')} AS DOUBLE) AS p_input",
              f"TRY_CAST({raw('output')} AS DOUBLE) AS p_output"]
    return parsed + [raw(role) for role in spec.roles]


def _tokens_sql(parsed: str) -> str:
    # BETWEEN also rules out NaN and infinities (DuckDB sorts NaN above every number).
    return (f"CASE WHEN {parsed} BETWEEN 0 AND {MAX_TOKENS - 1} AND {parsed} = floor({parsed}) "
            f"THEN TRY_CAST({parsed} AS BIGINT) END")


def _ts_sql(spec: ParseSpec) -> str:
    if not spec.time.is_numeric:
        return "p_ts"  # already NULL when unusable (see _wallclock_sql)
    per_unit = TIME_UNITS_US[spec.time.unit or "s"]
    offset = f"TRY_CAST(round(p_ts * {per_unit!r}) AS BIGINT)"
    low, high = MIN_TS_US - spec.epoch_us, MAX_TS_US - spec.epoch_us
    return (f"CASE WHEN isfinite(p_ts) AND p_ts * {per_unit!r} BETWEEN {low} AND {high} "
            f"THEN make_timestamptz({spec.epoch_us} + {offset}) END")


def canonical_columns(spec: ParseSpec) -> list[str]:
    """Second projection: the canonical columns (NULL where a value is unusable)."""
    columns = [f"{_ts_sql(spec)} AS ts",
               f"{_tokens_sql('p_input')} AS {OUTPUT_COLUMN['input']}",
               f"{_tokens_sql('p_output')} AS {OUTPUT_COLUMN['output']}"]
    columns += [f"NULLIF(trim({raw(role)}), '') AS {OUTPUT_COLUMN[role]}" for role in spec.labels]
    return columns


def output_columns(spec: ParseSpec) -> list[str]:
    return [OUTPUT_COLUMN[role] for role in REQUIRED_ROLES] + [OUTPUT_COLUMN[role] for role in spec.labels]


def canonical_select(spec: ParseSpec, source_sql: str, *, passthrough: Sequence[str] = (),
                     computed: Sequence[str] = ()) -> str:
    """SELECT the canonical columns of `source_sql`, then `passthrough` source columns and
    `computed` expressions over the parsed (p_*) and raw columns."""
    inner = ", ".join([*parsed_columns(spec), *passthrough])
    outer = ", ".join([*canonical_columns(spec), *passthrough, *computed])
    return f"SELECT {outer} FROM (SELECT {inner} FROM ({source_sql}))"


def fail_on_unusable(rows_sql: str) -> str:
    """`rows_sql` that raises (InvalidInputException, UNUSABLE_ROW) at a row with a NULL canonical value."""
    unusable = "ts IS NULL OR input_tokens IS NULL OR output_tokens IS NULL"
    return f"SELECT * FROM ({rows_sql}) WHERE CASE WHEN {unusable} THEN error({literal(UNUSABLE_ROW)}) ELSE true END"


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

    def case(pick: int) -> str:
        whens = " ".join(f"WHEN {check[1]} THEN {check[pick]}" for check in checks)
        return f"CASE {whens} END"

    reasons = " ".join(f"WHEN {condition} THEN {literal(reason)}" for reason, condition, _, _ in checks)
    return [f"CASE {reasons} END AS reason", f"{case(2)} AS reason_column", f"{case(3)} AS reason_value"]


def native_reader_sql(path: str, *, container: str, compressed: bool, columns: Sequence[str], delimiter: str,
                      mapping: Mapping[str, str]) -> str:
    """SELECT raw_<role> columns straight from a file with DuckDB's reader (the fast path).

    CSV: columns are read as VARCHAR (token columns as DOUBLE, below) and parsed by our SQL,
    so the rules are the same for every format; positional names avoid any quoting trouble
    with odd header names; strict mode makes any malformed line an error (which sends the
    file to the slow path). JSON: every key as VARCHAR, because read_json would turn `true`
    into 1 where our rules say "not a number".
    """
    compression = literal("gzip" if compressed else "none")
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
                  f"quote='\"', escape='\"', columns={{{types}}}, compression={compression}, "
                  f"strict_mode=true, null_padding=false)")
        return f"SELECT {select} FROM {reader}"
    keys = ", ".join(f"{literal(source)}: 'VARCHAR'" for source in dict.fromkeys(mapping.values()))
    select = ", ".join(f"{ident(source)} AS {raw(role)}" for role, source in mapping.items())
    reader = (f"read_json({literal(path)}, format='newline_delimited', columns={{{keys}}}, "
              f"compression={compression})")
    return f"SELECT {select} FROM {reader}"
