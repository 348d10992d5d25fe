"""Log formats registered in the `preserve.log_formats` entry-point group.

The built-in formats are declared in pyproject.toml exactly like a plugin's would be,
so a third-party package adds a format without any change to preserve.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from importlib.metadata import entry_points

from preserve_cli.errors import InputError
from preserve_cli.ingest.formats.base import LogFormat
from preserve_cli.ingest.formats.generic import GENERIC_NAME, MAP_SYNTAX

ENTRY_POINT_GROUP = "preserve.log_formats"


@functools.cache
def available_formats() -> dict[str, LogFormat]:
    """Name -> LogFormat, sorted by entry-point name (detection order is deterministic)."""
    formats: dict[str, LogFormat] = {}
    for point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name):
        try:
            loaded = point.load()
        except Exception as exc:  # a broken plugin: say which one, do not guess
            raise InputError(f"log format plugin {point.name!r} ({point.value}) failed to load: {exc}",
                             fix="reinstall or uninstall the package that provides it") from None
        if not isinstance(loaded, LogFormat):
            raise InputError(f"log format plugin {point.name!r} ({point.value}) is not a LogFormat",
                             fix="the entry point must name a preserve_cli.ingest.formats.base.LogFormat object")
        formats[point.name] = loaded
    return formats


def get_format(name: str) -> LogFormat:
    formats = available_formats()
    if name not in formats:
        known = ", ".join([*formats, GENERIC_NAME])
        fix = f"use --map {MAP_SYNTAX} for a generic log" if name == GENERIC_NAME else f"use one of: {known}"
        raise InputError(f"unknown log format {name!r}", field="--format", fix=fix)
    return formats[name]


def detect_format(container: str, columns: Iterable[str], *, file: str, line: int = 1) -> LogFormat:
    """The one registered format whose columns the file has; an InputError otherwise."""
    found = list(columns)
    formats = available_formats()
    matches = [fmt for fmt in formats.values() if fmt.matches(container, found)]
    if len(matches) == 1:
        return matches[0]
    kind = "keys of the first records" if container == "jsonl" else "columns"
    shown = ", ".join(found) if found else "none"
    if not matches:
        expected = "; ".join(fmt.expects() for fmt in formats.values())
        raise InputError(f"unknown log format: {kind} are {shown}; expected {expected}", file=file,
                         line=line, fix=f"map the columns with --map {MAP_SYNTAX}, or name one with --format")
    names = ", ".join(fmt.name for fmt in matches)
    raise InputError(f"{kind} {shown} fit several log formats ({names})", file=file, line=line,
                     fix="name one with --format")
