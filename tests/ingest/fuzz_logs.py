"""Log files for the fuzz suite: every registered format (and the generic --map one), with valid
rows (shuffled, duplicated, in mixed time zones) and injected bad rows whose reason and line
are known in advance.

A generated file is a list of `Row`s: valid ones carry the canonical values they must give;
bad ones the reason `--on-error skip` must count them under. The first data row is always
valid: the format, the time kind and the columns are read from it, so a bad first row is a
configuration error (one line, exit 2, tested in test_ingest_bad_input.py), not a bad row.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

BASE = datetime(2024, 5, 10, tzinfo=UTC)
BASE_US = int(BASE.timestamp()) * 1_000_000


@dataclass(frozen=True)
class Fmt:
    name: str
    container: str                  # csv | jsonl | parquet
    ts: str
    input: str
    output: str
    time: str                       # wall | s | ms (numbers: absolute unless relative)
    relative: bool = False          # numbers count from 1970 (the default epoch) in the test
    extra: dict[str, object] = field(default_factory=dict)  # other columns, constant
    latency: tuple[str, str] | None = None  # (column, "end_wall" | "end_s" | "e2e_ms")
    mapping: str | None = None      # generic: --map

    @property
    def columns(self) -> list[str]:
        names = [self.ts, self.input, self.output, *self.extra]
        return names + ([self.latency[0]] if self.latency else [])


FORMATS = [
    Fmt("azure", "csv", "TIMESTAMP", "ContextTokens", "GeneratedTokens", "wall"),
    Fmt("burstgpt", "csv", "Timestamp", "Request tokens", "Response tokens", "s", relative=True,
        extra={"Model": "ChatGPT", "Total tokens": "0", "Log Type": "API log"}),
    Fmt("vidur", "csv", "arrived_at", "num_prefill_tokens", "num_decode_tokens", "s", relative=True,
        extra={"request_type": "chat"}),
    Fmt("litellm_spend", "csv", "startTime", "prompt_tokens", "completion_tokens", "wall",
        extra={"model": "llama-3-8b"}, latency=("endTime", "end_wall")),
    Fmt("generic", "csv", "t", "in", "out", "wall", mapping="ts=t,input=in,output=out"),
    Fmt("mooncake", "jsonl", "timestamp", "input_length", "output_length", "ms", relative=True,
        extra={"hash_ids": [1, 2, 3]}),
    Fmt("openai", "jsonl", "created", "usage.prompt_tokens", "usage.completion_tokens", "s",
        extra={"object": "chat.completion", "model": "gpt-4o-mini"}),
    Fmt("openai_responses", "jsonl", "created_at", "usage.input_tokens", "usage.output_tokens", "s",
        extra={"object": "response"}),
    Fmt("litellm", "jsonl", "startTime", "prompt_tokens", "completion_tokens", "s",
        extra={"call_type": "acompletion"}, latency=("endTime", "end_s")),
    Fmt("kong", "jsonl", "started_at", "ai.proxy.usage.prompt_token", "ai.proxy.usage.completion_token", "ms",
        extra={"service.name": "llm"}, latency=("ai.proxy.meta.llm_latency", "e2e_ms")),
    Fmt("requests", "parquet", "ts", "input_tokens", "output_tokens", "wall"),
]
BY_NAME = {fmt.name: fmt for fmt in FORMATS}

# Bad-row kinds: what is written, and the reason `--on-error skip` counts it under.
MALFORMED, BAD_TS = "malformed_line", "bad_timestamp"
TOKEN_DEFECTS = {  # value written in a token column -> reason
    "abc": "non_numeric_tokens", "12abc": "non_numeric_tokens", "-5": "negative_tokens",
    "12.5": "fractional_tokens", "1e20": "too_many_tokens", "": "missing_tokens",
}
JSON_TOKEN_DEFECTS = {"true": "non_numeric_tokens", '{"n": 3}': "non_numeric_tokens", "-7": "negative_tokens",
                      "0.25": "fractional_tokens", "1e300": "too_many_tokens", "null": "missing_tokens",
                      '"lots"': "non_numeric_tokens"}
WALL_TS_DEFECTS = ["2024-02-30 10:00:00", "yesterday", "2024-05-10 25:61:00", "10/05/2024 13:00"]
NUMBER_TS_DEFECTS = ["soon", "1.2.3", "inf"]


@dataclass
class Row:
    fields: dict[str, object] | None    # column -> value (None: `raw` is the line)
    raw: bytes | None = None            # a line written as is (malformed)
    reason: str | None = None           # bad row: its reason
    ts_us: int = 0                      # valid row: canonical values
    input_tokens: int = 0
    output_tokens: int = 0


def render_time(fmt: Fmt, ts_us: int, offset_min: int = 0) -> object:
    if fmt.time == "wall":
        zone = timezone(timedelta(minutes=offset_min))
        local = (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ts_us)).astimezone(zone)
        text = local.strftime("%Y-%m-%d %H:%M:%S.%f")
        return text + ("" if not offset_min else local.strftime("%z")[:3] + ":" + local.strftime("%z")[3:])
    millis = ts_us // 1000  # relative formats: ts_us already counts from the (default) 1970 epoch
    if fmt.time == "ms":
        return millis
    return float(f"{millis // 1000}.{millis % 1000:03d}")


def valid_row(fmt: Fmt, offset_ms: int, input_tokens: int, output_tokens: int, latency_ms: int,
              offset_min: int) -> Row:
    """A valid request `offset_ms` after the base time (relative formats: after the epoch)."""
    ts_us = (0 if fmt.relative else BASE_US) + offset_ms * 1000
    if fmt.time == "wall":
        ts_us += (offset_ms * 7919) % 1000  # microseconds too
    fields: dict[str, object] = {fmt.ts: render_time(fmt, ts_us, offset_min if fmt.time == "wall" else 0),
                                 fmt.input: input_tokens, fmt.output: output_tokens, **fmt.extra}
    if fmt.latency:
        column, kind = fmt.latency
        end_us = ts_us + latency_ms * 1000
        fields[column] = {"end_wall": render_time(fmt, end_us), "end_s": render_time(fmt, end_us),
                          "e2e_ms": latency_ms}[kind]
    return Row(fields, ts_us=ts_us, input_tokens=input_tokens, output_tokens=output_tokens)


def bad_kinds(fmt: Fmt) -> list[str]:
    kinds = ["token", "timestamp"]
    if fmt.container != "parquet":
        kinds += ["ragged" if fmt.container == "csv" else "json", "utf8"]
    if fmt.container == "jsonl":
        kinds += ["not_object", "missing_key"]
    if fmt.latency:
        kinds.append("latency")
    return kinds


def bad_row(fmt: Fmt, template: Row, kind: str, pick: int, column_pick: int) -> Row:
    """`template` (a valid row's fields) spoiled by one defect of `kind`; `pick` chooses the variant."""
    fields = dict(template.fields or {})
    token_column = (fmt.input, fmt.output)[column_pick % 2]
    if kind == "token":
        defects = JSON_TOKEN_DEFECTS if fmt.container == "jsonl" else TOKEN_DEFECTS
        value, reason = list(defects.items())[pick % len(defects)]
        fields[token_column] = json.loads(value) if fmt.container == "jsonl" else value
        if fmt.container == "parquet" and value == "":
            fields[token_column] = None
        return Row(fields, reason=reason)
    if kind == "timestamp":
        choices = WALL_TS_DEFECTS if fmt.time == "wall" else NUMBER_TS_DEFECTS
        fields[fmt.ts] = choices[pick % len(choices)]
        return Row(fields, reason=BAD_TS)
    if kind == "latency":
        column, latency_kind = fmt.latency  # type: ignore[misc]
        if pick % 2 == 0:
            fields[column] = "slow"
        elif latency_kind == "e2e_ms":
            fields[column] = -5
        else:  # the end before the start
            fields[column] = render_time(fmt, template.ts_us - 1_000_000)
        return Row(fields, reason="bad_latency")
    if kind == "missing_key":
        fields.pop(token_column)
        return Row(fields, reason="missing_tokens")
    if kind == "ragged":
        return Row(None, raw=(csv_line(fmt, fields) + ",surplus").encode(), reason=MALFORMED)
    if kind == "json":
        return Row(None, raw=json_line(fields)[: 5 + pick % 20].encode(), reason=MALFORMED)
    if kind == "not_object":
        return Row(None, raw=["42", '"text"', "[1, 2]", "null"][pick % 4].encode(), reason=MALFORMED)
    if kind == "utf8":
        line = csv_line(fmt, fields) if fmt.container == "csv" else json_line(fields)
        cut = len(line) // 2
        return Row(None, raw=line[:cut].encode() + b"\xff\xfe" + line[cut:].encode(), reason=MALFORMED)
    raise ValueError(kind)


def csv_line(fmt: Fmt, fields: dict[str, object]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(["" if fields.get(c) is None else fields.get(c)
                                                    for c in fmt.columns])
    return buffer.getvalue()


def nest(fields: dict[str, object]) -> dict[str, object]:
    record: dict[str, object] = {}
    for name, value in fields.items():
        *parents, leaf = name.split(".")
        node = record
        for key in parents:
            node = node.setdefault(key, {})  # type: ignore[assignment]
        node[leaf] = value
    return record


def json_line(fields: dict[str, object]) -> str:
    return json.dumps(nest(fields))


def write_log(fmt: Fmt, rows: list[Row], folder: Path, compression: str, blank_every: int,
              stem: str = "log") -> tuple[Path, list[int]]:
    """Write `rows`; returns the file and each row's 1-based line (Parquet: row number)."""
    if fmt.container == "parquet":
        path = folder / f"{stem}.parquet"
        columns = {name: [None if r.fields is None else _text(r.fields.get(name)) for r in rows]
                   for name in fmt.columns}
        pq.write_table(pa.table({name: pa.array(values, pa.string()) for name, values in columns.items()}), path)
        return path, list(range(1, len(rows) + 1))
    lines: list[bytes] = []
    numbers: list[int] = []
    if fmt.container == "csv":
        lines.append(",".join(fmt.columns).encode())
    for index, row in enumerate(rows):
        if blank_every and index % blank_every == blank_every - 1:
            lines.append(b"")
        numbers.append(len(lines) + 1)
        if row.raw is not None:
            lines.append(row.raw)
        else:
            assert row.fields is not None
            text = csv_line(fmt, row.fields) if fmt.container == "csv" else json_line(row.fields)
            lines.append(text.encode())
    data = b"\n".join(lines) + b"\n"
    suffix = {"none": "", "gzip": ".gz", "zstd": ".zst"}[compression]
    path = folder / f"{stem}.{fmt.container}{suffix}"
    if compression == "gzip":
        data = gzip.compress(data, mtime=0)
    elif compression == "zstd":
        data = zstandard.ZstdCompressor().compress(data)
    path.write_bytes(data)
    return path, numbers


def _text(value: object) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value)
