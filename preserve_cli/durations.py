"""Durations as users write them: 90s, 10m, 1h, 1d, 7d (also bare seconds)."""

from __future__ import annotations

import re

from preserve_cli.errors import InputError

_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)?\s*$")


def parse_duration(text: str | int | float, *, field: str = "duration") -> int:
    """Return whole seconds; raise InputError naming `field` on anything else."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text)
    else:
        match = _PATTERN.match(str(text))
        if not match:
            raise InputError(
                f"cannot read duration {text!r}", field=field,
                fix="write it like 90s, 10m, 1h, 1d or 7d",
            )
        seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    if seconds <= 0 or not float(seconds).is_integer():
        raise InputError(
            f"duration {text!r} must be a positive whole number of seconds", field=field,
            fix="write it like 90s, 10m, 1h, 1d or 7d",
        )
    return int(seconds)


def format_duration(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
