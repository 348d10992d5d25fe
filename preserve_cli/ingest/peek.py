"""A quick look at the start of a log file: compression, container, columns and the
first record — enough to detect the format and plan the DuckDB read.

Only the first lines are read here; the bulk of the file is read by DuckDB (or, when
it has bad lines, by `records.py`).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from preserve_cli.errors import InputError
from preserve_cli.ingest.formats.base import Container

GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"
# A text log line longer than this is not a line: the file is binary or has no line breaks.
MAX_PEEK_LINE = 1 << 20
# How far to look for the first parseable JSON object (earlier lines may be bad ones to skip).
MAX_PEEK_RECORDS = 1000
_DELIMITERS = (",", "\t", ";", "|")
GZIP_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile)


@dataclass(frozen=True)
class FilePeek:
    path: Path
    compressed: bool
    container: Container
    columns: tuple[str, ...]          # CSV header names, or the keys of the first JSON object
    delimiter: str                    # CSV field delimiter ("" for JSONL)
    first_record: dict[str, str | None] | None  # raw text per column; None when there are no records
    first_line: int | None            # 1-based line of that record
    columns_line: int = 1             # line the columns were read from (header / first object)


def is_gzip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(2) == GZIP_MAGIC


def is_parquet(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(4) == PARQUET_MAGIC


def open_binary(path: Path, compressed: bool) -> io.BufferedIOBase:
    return gzip.open(path, "rb") if compressed else path.open("rb")  # type: ignore[return-value]


def json_text(value: object) -> str | None:
    """The raw text of a JSON value, as DuckDB's read_json gives a VARCHAR column."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(value, separators=(",", ":"))


def reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


def peek(path: Path) -> FilePeek:
    compressed = is_gzip(path)
    try:
        with open_binary(path, compressed) as handle:
            lines = _numbered_lines(handle, path)
            first = next(lines, None)
            if first is None:
                raise InputError("file is empty", file=path, fix="pass a log file with a header and requests")
            line_no, text = first
            if text.lstrip().startswith("{"):
                return _peek_jsonl(path, compressed, first, lines)
            if text.lstrip().startswith("["):
                raise InputError("file is one JSON array, not JSON lines", file=path, line=line_no,
                                 fix="write one JSON object per line (JSONL)")
            return _peek_csv(path, compressed, first, lines)
    except GZIP_ERRORS as exc:
        raise InputError(f"gzip data is truncated or corrupt ({exc})", file=path,
                         fix="re-copy or re-compress the file") from None


def _numbered_lines(handle: io.BufferedIOBase, path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of the non-blank lines at the start of the file."""
    line_no = 0
    while True:
        raw = handle.readline(MAX_PEEK_LINE)
        if not raw:
            return
        line_no += 1
        if len(raw) == MAX_PEEK_LINE and not raw.endswith(b"\n"):
            raise InputError("no line break in the first MiB: not a text log", file=path, line=line_no,
                             fix="pass a CSV or JSONL request log")
        if b"\x00" in raw:
            raise InputError("binary data (NUL bytes) where text was expected", file=path, line=line_no,
                             fix="pass a CSV or JSONL request log (gzip is fine)")
        try:
            text = raw.decode("utf-8-sig" if line_no == 1 else "utf-8")
        except UnicodeDecodeError:
            if line_no == 1:
                raise InputError("not UTF-8 text (binary data?)", file=path, line=line_no,
                                 fix="pass a UTF-8 CSV or JSONL request log (gzip is fine)") from None
            text = raw.decode("utf-8", errors="replace")
        if text.strip():
            yield line_no, text


def _peek_jsonl(path: Path, compressed: bool, first: tuple[int, str],
                lines: Iterator[tuple[int, str]]) -> FilePeek:
    candidates = [first]
    for _, item in zip(range(MAX_PEEK_RECORDS - 1), lines):
        candidates.append(item)
    for line_no, text in candidates:
        try:
            record = json.loads(text, parse_constant=reject_constant)
        except ValueError:
            continue
        if isinstance(record, dict):
            columns = tuple(str(key) for key in record)
            values = {key: json_text(record[key]) for key in columns}
            return FilePeek(path, compressed, "jsonl", columns, "", values, line_no, line_no)
    line_no = first[0]
    raise InputError(f"no valid JSON object in the first {len(candidates)} non-blank line(s)", file=path,
                     line=line_no, fix="write one JSON object per line (JSONL)")


def _peek_csv(path: Path, compressed: bool, first: tuple[int, str],
              lines: Iterator[tuple[int, str]]) -> FilePeek:
    header_line, header_text = first
    delimiter = max(_DELIMITERS, key=header_text.count) if any(d in header_text for d in _DELIMITERS) else ","
    header = next(csv.reader([header_text], delimiter=delimiter))
    columns = tuple(name.strip() for name in header)
    if any(not name for name in columns):
        raise InputError(f"header has an empty column name: {header_text.strip()!r}", file=path,
                         line=header_line, fix="name every column in the header line")
    duplicated = sorted({name for name in columns if columns.count(name) > 1})
    if duplicated:
        raise InputError(f"header names column(s) {', '.join(duplicated)} twice", file=path, line=header_line,
                         fix="give every column a distinct name")
    record = next(lines, None)
    if record is None:
        return FilePeek(path, compressed, "csv", columns, delimiter, None, None, header_line)
    line_no, text = record
    try:
        values = next(csv.reader([text], delimiter=delimiter))
    except csv.Error:
        values = []
    first_record = dict(zip(columns, values)) if len(values) == len(columns) else {}
    return FilePeek(path, compressed, "csv", columns, delimiter, first_record, line_no, header_line)
