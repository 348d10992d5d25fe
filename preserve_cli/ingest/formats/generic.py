"""The generic format: any CSV or JSONL log described by `--map`.

`--map ts=COL,input=COL,output=COL[,model=COL,...,ttft_ms=COL,e2e_ms=COL]` names the source
column of each canonical role (latencies in ms; `first_token_at=COL` / `end_at=COL` name time
columns the latencies are computed from instead). Timestamps are wall-clock strings (UTC unless
they carry an offset) unless `--time-unit s|ms|us|ns` says they are numbers, which are
then counted from the epoch (`--epoch`, default 1970-01-01T00:00:00Z, i.e. Unix time).
"""

from __future__ import annotations

from collections.abc import Mapping

from preserve_cli.errors import InputError
from preserve_cli.ingest.formats.base import (
    REQUIRED_ROLES, ROLES, TIME_UNITS_US, WALLCLOCK_UTC, Container, LogFormat, numeric_time,
)

GENERIC_NAME = "generic"
MAP_SYNTAX = "ts=COL,input=COL,output=COL[,model=COL,service=COL,region=COL,client=COL,ttft_ms=COL,e2e_ms=COL]"


def parse_mapping(spec: str | Mapping[str, str]) -> dict[str, str]:
    """`ts=time,input=prompt_tokens,output=completion_tokens` -> {role: column}."""
    if isinstance(spec, Mapping):
        pairs = [(str(role), str(column)) for role, column in spec.items()]
    else:
        pairs = []
        for item in str(spec).split(","):
            if not item.strip():
                continue
            role, sep, column = item.partition("=")
            if not sep:
                raise InputError(f"{item.strip()!r} is not ROLE=COLUMN", field="--map", fix=f"write --map {MAP_SYNTAX}")
            pairs.append((role, column))
    mapping: dict[str, str] = {}
    for role, column in pairs:
        role, column = role.strip(), column.strip()
        if role not in ROLES:
            raise InputError(f"unknown role {role!r}", field="--map",
                             fix=f"use the roles {', '.join(ROLES)}: --map {MAP_SYNTAX}")
        if not column:
            raise InputError(f"role {role!r} has no column name", field="--map", fix=f"write --map {MAP_SYNTAX}")
        if role in mapping:
            raise InputError(f"role {role!r} is mapped twice", field="--map", fix="map each role once")
        mapping[role] = column
    missing = [role for role in REQUIRED_ROLES if role not in mapping]
    if missing:
        raise InputError(f"missing role(s) {', '.join(missing)}", field="--map", fix=f"write --map {MAP_SYNTAX}")
    return mapping


def generic_format(mapping: Mapping[str, str], container: Container, time_unit: str | None) -> LogFormat:
    if time_unit is not None and time_unit not in TIME_UNITS_US:
        raise InputError(f"unknown time unit {time_unit!r}", field="--time-unit",
                         fix=f"use one of {', '.join(TIME_UNITS_US)}")
    return LogFormat(
        name=GENERIC_NAME,
        description=f"generic {container.upper()} mapped with --map",
        container=container,
        columns=dict(mapping),
        time=numeric_time(time_unit) if time_unit else WALLCLOCK_UTC,
    )
