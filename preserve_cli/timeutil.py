"""UTC timestamps as used in every file between stages: `2024-05-10T13:00:00Z`."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from preserve_cli.errors import InputError


def to_iso(ts: np.datetime64 | datetime) -> str:
    """Second-resolution ISO 8601 with a Z suffix."""
    if isinstance(ts, datetime):
        if ts.tzinfo is not None:
            ts = ts.astimezone(UTC).replace(tzinfo=None)
        return ts.strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(np.datetime64(ts, "s")) + "Z"


def parse_iso(text: str, *, file: str | None = None, line: int | None = None,
              field: str = "window_start") -> np.datetime64:
    """Parse an ISO 8601 timestamp (Z or an offset; naive means UTC) to datetime64[s]."""
    raw = text.strip()
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InputError(
            f"cannot read timestamp {text!r}", file=file, line=line, field=field,
            fix="use ISO 8601 UTC like 2024-05-10T13:00:00Z",
        ) from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return np.datetime64(parsed, "s")


def to_datetime(ts: np.datetime64) -> datetime:
    """numpy datetime64 (UTC) -> aware datetime."""
    seconds = int(np.datetime64(ts, "s").astype("int64"))
    return datetime.fromtimestamp(seconds, tz=UTC)
