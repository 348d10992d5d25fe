"""A quick look at the start of a log file: compression, container, columns and the
first record — enough to detect the format and plan the DuckDB read.

Only the first lines are read here (a Parquet file: its schema and first row); the bulk
of the file is read by DuckDB (or, when it has bad lines, by `records.py`). Nested JSON
keys and Parquet struct fields become dotted column names (`usage.prompt_tokens`), with
their key path kept in `FilePeek.paths`. A `.zst` file is checked to end (see
`check_zstd_complete`) before anything reads it.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

from preserve_cli.errors import InputError
from preserve_cli.ingest.formats.base import Container

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
PARQUET_MAGIC = b"PAR1"
# A text log line longer than this is not a line: the file is binary or has no line breaks.
MAX_PEEK_LINE = 1 << 20
# How far to look for the first parseable JSON object (earlier lines may be bad ones to skip),
# and over how many objects the keys are gathered (a later record may have a key the first lacks).
MAX_PEEK_RECORDS = 1000
_DELIMITERS = (",", "\t", ";", "|")
# What a truncated or corrupt compressed stream raises while it is read.
COMPRESSION_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile, zstandard.ZstdError)
# Compression of a text log: "none", "gzip" or "zstd" (DuckDB's `compression=` values).
Compression = str


@dataclass(frozen=True)
class FilePeek:
    path: Path
    compression: Compression
    container: Container
    columns: tuple[str, ...]          # CSV header names, JSON keys (nested ones dotted), Parquet columns
    delimiter: str                    # CSV field delimiter ("" for JSONL and Parquet)
    first_record: dict[str, str | None] | None  # raw text per column; None when there are no records
    first_line: int | None            # 1-based line (Parquet: row) of that record
    columns_line: int = 1             # line the columns were read from (header / first object)
    # JSONL / Parquet: the key path of each column (`usage.prompt_tokens` -> ("usage", "prompt_tokens")).
    paths: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def path_of(self, column: str) -> tuple[str, ...]:
        return self.paths.get(column, (column,))


def _magic(path: Path, size: int) -> bytes:
    with path.open("rb") as handle:
        return handle.read(size)


def is_parquet(path: Path) -> bool:
    return _magic(path, 4) == PARQUET_MAGIC


def compression_of(path: Path) -> Compression:
    """Told by the file's first bytes, never by its name."""
    head = _magic(path, 4)
    if head[:2] == GZIP_MAGIC:
        return "gzip"
    if head == ZSTD_MAGIC:
        return "zstd"
    return "none"


def open_binary(path: Path, compression: Compression) -> io.BufferedIOBase:
    if compression == "gzip":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    if compression == "zstd":
        # Frames one after another (as `zstd` and `cat a.zst b.zst` write them) are one stream.
        reader = zstandard.ZstdDecompressor().stream_reader(path.open("rb"), read_across_frames=True,
                                                            closefd=True)
        return io.BufferedReader(reader)  # type: ignore[arg-type]
    return path.open("rb")


def check_zstd_complete(path: Path) -> None:
    """Raise unless every zstd frame of `path` ends: neither DuckDB nor the zstandard reader
    says anything about a truncated file (they return the rows before the cut), so a
    half-copied `.zst` would silently lose requests. Costs one decompression pass (the
    output is thrown away as it comes)."""
    decompressor, started = zstandard.ZstdDecompressor().decompressobj(), False
    with path.open("rb") as handle:
        try:
            while chunk := handle.read(1 << 20):
                while chunk:
                    started = True
                    decompressor.decompress(chunk)
                    chunk = b""
                    if decompressor.eof:  # a frame ended; what follows is the next frame
                        chunk = decompressor.unused_data
                        decompressor, started = zstandard.ZstdDecompressor().decompressobj(), False
        except zstandard.ZstdError as exc:
            raise InputError(f"zstd data is corrupt ({exc})", file=path, fix="re-copy or re-compress the file") \
                from None
    if started:
        raise InputError("zstd data is truncated (the last frame does not end)", file=path,
                         fix="re-copy or re-compress the file")


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
    if is_parquet(path):
        return _peek_parquet(path)
    compression = compression_of(path)
    if compression == "zstd":
        check_zstd_complete(path)
    try:
        with open_binary(path, compression) as handle:
            lines = _numbered_lines(handle, path)
            first = next(lines, None)
            if first is None:
                raise InputError("file is empty", file=path, fix="pass a log file with a header and requests")
            line_no, text = first
            if text.lstrip().startswith("{"):
                return _peek_jsonl(path, compression, first, lines)
            if text.lstrip().startswith("["):
                raise InputError("file is one JSON array, not JSON lines", file=path, line=line_no,
                                 fix="write one JSON object per line (JSONL)")
            return _peek_csv(path, compression, first, lines)
    except COMPRESSION_ERRORS as exc:
        raise InputError(f"{compression} data is truncated or corrupt ({exc})", file=path,
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
                             fix="pass a CSV or JSONL request log (gzip and zstd are fine)")
        try:
            text = raw.decode("utf-8-sig" if line_no == 1 else "utf-8")
        except UnicodeDecodeError:
            if line_no == 1:
                raise InputError("not UTF-8 text (binary data?)", file=path, line=line_no,
                                 fix="pass a UTF-8 CSV or JSONL request log (gzip and zstd are fine)") from None
            text = raw.decode("utf-8", errors="replace")
        if text.strip():
            yield line_no, text


def flatten(record: Mapping[str, object], prefix: tuple[str, ...] = ()) -> dict[str, tuple[tuple[str, ...], object]]:
    """Column name -> (key path, value) of a JSON object; nested objects give dotted names too
    (`{"usage": {"prompt_tokens": 5}}` has `usage` and `usage.prompt_tokens`)."""
    flat: dict[str, tuple[tuple[str, ...], object]] = {}
    for key, value in record.items():
        path = (*prefix, str(key))
        flat.setdefault(".".join(path), (path, value))
        if isinstance(value, dict):
            for name, item in flatten(value, path).items():
                flat.setdefault(name, item)
    return flat


def lookup(record: Mapping[str, object], path: tuple[str, ...]) -> object:
    """The value at `path` in a JSON object (None when any step is missing or not an object)."""
    value: object = record
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _peek_jsonl(path: Path, compression: Compression, first: tuple[int, str],
                lines: Iterator[tuple[int, str]]) -> FilePeek:
    candidates = [first]
    for _, item in zip(range(MAX_PEEK_RECORDS - 1), lines):
        candidates.append(item)
    found: dict[str, tuple[tuple[str, ...], object]] = {}
    first_record: tuple[int, dict[str, tuple[tuple[str, ...], object]]] | None = None
    for line_no, text in candidates:
        try:
            record = json.loads(text, parse_constant=reject_constant)
        except ValueError:
            continue
        if isinstance(record, dict):
            flat = flatten(record)
            if first_record is None:
                first_record = (line_no, flat)
            for name, item in flat.items():
                found.setdefault(name, item)
    if first_record is None:
        raise InputError(f"no valid JSON object in the first {len(candidates)} non-blank line(s)", file=path,
                         line=first[0], fix="write one JSON object per line (JSONL)")
    line_no, flat = first_record
    columns = tuple(found)
    values = {name: json_text(flat[name][1]) if name in flat else None for name in columns}
    paths = {name: item[0] for name, item in found.items()}
    return FilePeek(path, compression, "jsonl", columns, "", values, line_no, line_no, paths)


def _peek_csv(path: Path, compression: Compression, first: tuple[int, str],
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
        return FilePeek(path, compression, "csv", columns, delimiter, None, None, header_line)
    line_no, text = record
    try:
        values = next(csv.reader([text], delimiter=delimiter))
    except csv.Error:
        values = []
    first_record = dict(zip(columns, values)) if len(values) == len(columns) else {}
    return FilePeek(path, compression, "csv", columns, delimiter, first_record, line_no, header_line)


def _struct_paths(schema_field: pa.Field, prefix: tuple[str, ...] = ()) -> dict[str, tuple[str, ...]]:
    path = (*prefix, schema_field.name)
    paths = {".".join(path): path}
    if pa.types.is_struct(schema_field.type):
        for child in schema_field.type:
            for name, child_path in _struct_paths(child, path).items():
                paths.setdefault(name, child_path)
    return paths


def _peek_parquet(path: Path) -> FilePeek:
    """Columns (struct fields dotted, like nested JSON keys) and the first row of a Parquet file."""
    try:
        parquet = pq.ParquetFile(path)
        paths: dict[str, tuple[str, ...]] = {}
        for schema_field in parquet.schema_arrow:
            for name, field_path in _struct_paths(schema_field).items():
                paths.setdefault(name, field_path)
        first_row = next(parquet.iter_batches(batch_size=1), None)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"cannot read this Parquet file ({exc})", file=path,
                         fix="re-copy or re-export the file") from None
    columns = tuple(paths)
    if first_row is None or first_row.num_rows == 0:
        return FilePeek(path, "none", "parquet", columns, "", None, None, 1, paths)
    row = first_row.to_pylist()[0]
    values = {name: _parquet_text(lookup(row, field_path)) for name, field_path in paths.items()}
    return FilePeek(path, "none", "parquet", columns, "", values, 1, 1, paths)


def _parquet_text(value: object) -> str | None:
    if value is None or isinstance(value, (str, bool, int, float, dict, list)):
        return json_text(value)
    return str(value)  # dates and times: their ISO-like text
