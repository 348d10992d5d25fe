"""Line-exact reading of a log file in Python, for files DuckDB refused or that hold
bad rows: every record comes with its real 1-based line number (header = line 1).

Yields `(line, problem, values)`: `problem` describes a line that cannot be split into
fields (bad quoting, wrong number of fields, invalid UTF-8 or JSON) and `values` is then
None; otherwise `values` holds the raw text of the wanted columns (None = absent).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from pathlib import Path

from preserve_cli.errors import InputError
from preserve_cli.ingest.peek import COMPRESSION_ERRORS, Compression, json_text, lookup, open_binary, reject_constant

Record = tuple[int, str | None, list[str | None] | None]

# Python's csv refuses fields over 128 KiB by default; a log field that long is still a
# field (the row is then judged by its values), so allow what a line may hold.
csv.field_size_limit(1 << 30)


class _Lines:
    """Binary lines of a file decoded as UTF-8, counting lines and remembering bad ones."""

    def __init__(self, path: Path, compression: Compression) -> None:
        self.path, self.compression = path, compression
        self.count = 0
        self.undecodable: set[int] = set()

    def __iter__(self) -> Iterator[str]:
        try:
            with open_binary(self.path, self.compression) as handle:
                for raw in handle:
                    self.count += 1
                    try:
                        yield raw.decode("utf-8-sig" if self.count == 1 else "utf-8")
                    except UnicodeDecodeError:
                        self.undecodable.add(self.count)
                        yield raw.decode("utf-8", errors="replace")
        except COMPRESSION_ERRORS as exc:
            raise InputError(f"{self.compression} data ends or breaks after line {self.count} ({exc})", file=self.path,
                             line=self.count + 1, fix="the file is truncated or corrupt: re-copy or re-compress it") \
                from None


def csv_records(path: Path, compression: Compression, delimiter: str, width: int,
                positions: Sequence[int]) -> Iterator[Record]:
    lines = _Lines(path, compression)
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    end = 0
    header_seen = False
    while True:
        start = end + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            end = lines.count
            yield start, f"bad CSV quoting ({exc})", None
            continue
        end = lines.count
        if not row or (len(row) == 1 and not row[0].strip() and width > 1):
            continue  # a blank line
        if not header_seen:
            header_seen = True
            continue
        if lines.undecodable and any(n in lines.undecodable for n in range(start, end + 1)):
            yield start, "not valid UTF-8 text", None
        elif len(row) != width:
            yield start, f"expected {width} fields, found {len(row)}", None
        else:
            yield start, None, [row[i] for i in positions]


def jsonl_records(path: Path, compression: Compression, keys: Sequence[tuple[str, ...]]) -> Iterator[Record]:
    """`keys`: the key path of each wanted value (nested objects: several keys)."""
    lines = _Lines(path, compression)
    for text in lines:
        if not text.strip():
            continue
        line = lines.count
        if line in lines.undecodable:
            yield line, "not valid UTF-8 text", None
            continue
        try:
            record = json.loads(text.strip(), parse_constant=reject_constant)
        except json.JSONDecodeError as exc:
            yield line, f"invalid JSON ({exc.msg} at column {exc.colno})", None
            continue
        except ValueError as exc:
            yield line, f"invalid JSON ({exc})", None
            continue
        if not isinstance(record, dict):
            yield line, f"expected a JSON object, found {type(record).__name__}", None
            continue
        yield line, None, [json_text(lookup(record, key)) for key in keys]
