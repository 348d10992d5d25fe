"""The `LogFormat` contract every log format (built-in or plugin) fulfils.

A format says three things:

* what a file of it looks like: its container (`csv` or `jsonl`) and the source
  columns (CSV header names or JSON keys) it needs — detection is "the file has
  all of them";
* how each source column maps to a canonical request column (`ROLES`);
* what its timestamps mean (`TimeSemantics`): wall-clock strings in UTC, or
  numbers counted in some unit from an epoch (e.g. "ms since the trace started").

The DuckDB SQL that turns the raw text of those columns into canonical values is
built from this description by `preserve_cli.ingest.sql`, so that every format —
and the generic `--map` one — validates values the same way.

A third-party package adds a format by exposing a `LogFormat` object in the
`preserve.log_formats` entry-point group.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

# Canonical request columns a source column can feed. `ts`, `input` and `output`
# are required; labels become VARCHAR columns; latencies DOUBLE columns in ms.
REQUIRED_ROLES = ("ts", "input", "output")
LABEL_ROLES = ("model", "service", "region", "client")
# A latency is either a duration column (`ttft_ms`, `e2e_ms`, in the format's
# `latency_unit`) or a second time column (when the first token / the last byte
# came), from which the duration since `ts` is computed.
LATENCY_ROLES = ("ttft_ms", "e2e_ms")
TIME_POINT_ROLES = {"first_token_at": "ttft_ms", "end_at": "e2e_ms"}
ROLES = REQUIRED_ROLES + LABEL_ROLES + LATENCY_ROLES + tuple(TIME_POINT_ROLES)

# Output column name of each role in requests.parquet (time points end up as latencies).
OUTPUT_COLUMN = {"ts": "ts", "input": "input_tokens", "output": "output_tokens",
                 **{role: role for role in LABEL_ROLES}, **{role: role for role in LATENCY_ROLES},
                 **TIME_POINT_ROLES}
# Milliseconds per unit of a latency column.
LATENCY_UNITS_MS = {"ms": 1.0, "s": 1000.0}

# Microseconds per unit of a numeric timestamp.
TIME_UNITS_US = {"s": 1_000_000, "ms": 1_000, "us": 1, "ns": 0.001}

Container = Literal["csv", "jsonl", "parquet"]


@dataclass(frozen=True)
class TimeSemantics:
    """How to read a timestamp column.

    `wallclock`: date-time strings (ISO 8601 style, any precision); a string without
    a zone designator is UTC, one with an offset (`+00:00`, `-05:00`, `Z`) is converted.
    `numeric`: a number of `unit`s added to an epoch (1970-01-01T00:00:00Z unless the
    user passes --epoch), e.g. Mooncake's "ms since the trace started".
    """

    kind: Literal["wallclock", "numeric"]
    unit: str | None = None
    relative: bool = False  # numbers count from the start of the trace, not from 1970

    def __post_init__(self) -> None:
        if self.kind == "numeric" and self.unit not in TIME_UNITS_US:
            raise ValueError(f"numeric time needs a unit in {sorted(TIME_UNITS_US)}, got {self.unit!r}")
        if self.kind == "wallclock" and self.unit is not None:
            raise ValueError("wall-clock time has no unit")

    @property
    def is_numeric(self) -> bool:
        return self.kind == "numeric"

    def describe(self) -> str:
        if self.kind == "wallclock":
            return "wall-clock UTC"
        return f"{self.unit} since {'the trace start' if self.relative else 'the epoch'}"


WALLCLOCK_UTC = TimeSemantics("wallclock")


def numeric_time(unit: str, *, relative: bool = False) -> TimeSemantics:
    return TimeSemantics("numeric", unit=unit, relative=relative)


@dataclass(frozen=True)
class LogFormat:
    """One request-log format: detection, column mapping and time semantics."""

    name: str
    description: str
    container: Container
    columns: Mapping[str, str]  # role -> source column (header name or JSON key)
    time: TimeSemantics
    # Source columns whose presence is optional; mapped when the file has them.
    optional_columns: Mapping[str, str] = field(default_factory=dict)
    # Unit of the `ttft_ms` / `e2e_ms` source columns (converted to ms).
    latency_unit: str = "ms"

    def __post_init__(self) -> None:
        missing = [role for role in REQUIRED_ROLES if role not in self.columns]
        unknown = [role for role in (*self.columns, *self.optional_columns) if role not in ROLES]
        if missing or unknown:
            raise ValueError(f"log format {self.name!r}: missing roles {missing}, unknown roles {unknown}")
        if self.latency_unit not in LATENCY_UNITS_MS:
            raise ValueError(f"log format {self.name!r}: latency unit {self.latency_unit!r} is not in "
                             f"{sorted(LATENCY_UNITS_MS)}")

    def missing_columns(self, container: str, found: Iterable[str]) -> list[str]:
        """Source columns this format needs that a file does not have.

        A CSV header lists every column; a JSON record may leave out a label key (its value
        is then NULL), so for JSONL only the time and token keys are required. A Parquet
        file (an export of a log, e.g. from a warehouse) may hold any format's columns;
        like JSONL, only the time and token columns are required there."""
        if not self.reads(container):
            return list(self.columns.values())
        present = set(found)
        needed = self.columns if container == "csv" else {role: self.columns[role] for role in REQUIRED_ROLES}
        return [column for column in needed.values() if column not in present]

    def reads(self, container: str) -> bool:
        return container in (self.container, "parquet")

    def matches(self, container: str, found: Iterable[str]) -> bool:
        return self.reads(container) and not self.missing_columns(container, found)

    def mapping_for(self, found: Iterable[str]) -> dict[str, str]:
        """Role -> source column for a file with columns `found` (optional ones only if present)."""
        present = set(found)
        mapping = dict(self.columns)
        mapping.update({role: column for role, column in self.optional_columns.items() if column in present})
        return mapping

    def expects(self) -> str:
        """Human description of the columns, for error messages."""
        kind = "CSV columns" if self.container == "csv" else "JSON keys"
        return f"{self.name}: {kind} {', '.join(self.columns.values())}"
