"""Fuzz suite: generated bad input over every log format, through the CLI, both policies.

For each generated log (fuzz_logs.py: valid rows shuffled, duplicated, in mixed time
zones, plain/gzip/zstd, blank lines; 1-3 injected bad rows of known reason and line):
* `--on-error fail`: exit 2, ONE line on stderr naming file:line of the first bad row,
  no traceback, no output file;
* `--on-error skip`: exit 0, the skipped counts by reason are exactly the injected ones,
  and the valid rows come out exactly (same multiset of time, input, output tokens).
Whole-file damage (empty, binary, truncated gzip/zstd, JSON array, header only, unknown
columns) must be exit 2 with one line under both policies.

Derandomized, a fixed number of examples, no deadline. The inputs still depend on which
modules are imported: Hypothesis mixes in constants taken from the source of every
project module in sys.modules, so this file run alone and the full suite try different
inputs (each run is repeatable with the same set of tests). A failure prints its example;
the ones found so far are fixed cases in test_ingest_first_bad_row.py. Every injected
bad row or damaged file counts as one bad input; the suite checks it made at least
MIN_BAD_INPUTS. DuckDB's start-up (~17 ms a connection) would dominate these tiny files,
so the runs share one in-memory database, each through its own connection (cursor): same
code path, temp tables and settings per connection as in a real run.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import duckdb
import pyarrow.parquet as pq
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import preserve_cli.ingest.api as ingest_api
from preserve_cli.ingest.rows import MEMORY_LIMIT, configure_session

from fuzz_logs import BY_NAME, FORMATS, Fmt, Row, bad_kinds, bad_row, valid_row, write_log
from ingest_testkit import run_cli

MIN_BAD_INPUTS = 1_000
ROW_EXAMPLES = 200
FILE_EXAMPLES = 120
FUZZ = settings(max_examples=ROW_EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
made = Counter()


@contextlib.contextmanager
def shared_database() -> Iterator[None]:
    # Two threads, as the product uses on a 2-core machine: the files of one run may fail
    # in either order, and the first bad row reported must not depend on it.
    database = duckdb.connect(config={"memory_limit": MEMORY_LIMIT, "threads": 2})

    @contextlib.contextmanager
    def connection() -> Iterator[duckdb.DuckDBPyConnection]:
        con = database.cursor()
        try:
            configure_session(con)
            yield con
        finally:
            con.close()

    with mock.patch.object(ingest_api, "duckdb_connection", connection):
        try:
            yield
        finally:
            database.close()


@st.composite
def log_file(draw, fmt: Fmt) -> tuple[list[Row], str, int]:
    count = draw(st.integers(1, 5))
    valid = [valid_row(fmt, draw(st.integers(0, 10**9)), draw(st.integers(0, 200_000)),
                       draw(st.integers(0, 9_000)), draw(st.integers(0, 60_000)),
                       draw(st.sampled_from([0, 0, 120, -300, 330])))
             for _ in range(count)]
    valid += [valid[i] for i in draw(st.lists(st.integers(0, count - 1), max_size=2))]  # duplicates
    valid = [valid[0], *draw(st.permutations(valid[1:]))]  # unsorted, first stays first
    rows = list(valid)
    for _ in range(draw(st.integers(0, 6))):
        template = valid[draw(st.integers(0, len(valid) - 1))]
        bad = bad_row(fmt, template, draw(st.sampled_from(bad_kinds(fmt))), draw(st.integers(0, 100)),
                      draw(st.integers(0, 1)))
        rows.insert(draw(st.integers(1, len(rows))), bad)  # never before the first (valid) row
    compression = "none" if fmt.container == "parquet" else draw(st.sampled_from(["none", "gzip", "zstd"]))
    return rows, compression, draw(st.sampled_from([0, 0, 2, 3]))


@st.composite
def logs(draw) -> tuple[Fmt, list[tuple[list[Row], str, int]]]:
    """1-3 files of one format (read as a folder), at least one bad row among them."""
    fmt = draw(st.sampled_from(FORMATS))
    files = draw(st.lists(log_file(fmt), min_size=1, max_size=3).filter(
        lambda files: any(row.reason for rows, _, _ in files for row in rows)))
    return fmt, files


def cli_ingest(fmt: Fmt, path: Path, out: Path, policy: str):
    return run_cli("ingest", path, "-o", out, "--on-error", policy, "--json",
                   *(["--map", fmt.mapping] if fmt.mapping else []))


@FUZZ
@given(logs())
def check_bad_rows(generated: tuple[Fmt, list[tuple[list[Row], str, int]]]) -> None:
    fmt, files = generated
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work) / "logs"
        folder.mkdir()
        rows: list[Row] = []
        where: list[str] = []  # "file:line" of each row
        for index, (file_rows, compression, blank_every) in enumerate(files):
            path, lines = write_log(fmt, file_rows, folder, compression, blank_every, stem=f"part-{index}")
            rows += file_rows
            where += [f"{path}:{line}" for line in lines]
        out = Path(work) / "out" / "requests.parquet"
        bad_at = [spot for row, spot in zip(rows, where) if row.reason]
        made["bad rows"] += len(bad_at)

        failed = cli_ingest(fmt, folder, out, "fail")
        assert failed.exit_code == 2, (failed.stdout, failed.stderr)
        assert len(failed.stderr.splitlines()) == 1 and "Traceback" not in failed.stderr, failed.stderr
        assert f"{bad_at[0]}:" in failed.stderr, (failed.stderr, bad_at)  # the first bad row of all
        assert not out.exists() and failed.stdout == ""

        kept = cli_ingest(fmt, folder, out, "skip")
        assert kept.exit_code == 0, kept.stderr
        summary = json.loads(kept.stdout)
        expected = Counter(row.reason for row in rows if row.reason)
        assert {reason: stat["count"] for reason, stat in summary["skipped"].items()} == dict(expected)
        assert summary["skipped_rows"] == len(bad_at)
        assert {stat["first"] for stat in summary["skipped"].values()} <= set(bad_at)
        valid = [row for row in rows if not row.reason]
        written = pq.read_table(out, columns=["ts", "input_tokens", "output_tokens"])
        got = sorted(zip(written.column("ts").cast("int64").to_pylist(),
                         written.column("input_tokens").to_pylist(), written.column("output_tokens").to_pylist()))
        assert got == sorted((row.ts_us, row.input_tokens, row.output_tokens) for row in valid)
        assert (summary["rows"], summary["input_tokens"]) == (len(valid), sum(row.input_tokens for row in valid))


def damaged_file(kind: str, fmt: Fmt, cut: int) -> tuple[str, bytes]:
    """A whole file that cannot be read: (file name, bytes)."""
    row = valid_row(fmt, 1_000, 10, 2, 50, 0)
    path, _ = write_log(fmt, [row] * 300, Path(tempfile.mkdtemp()), "none", 0)
    text = path.read_bytes()
    suffix = ".csv" if fmt.container == "csv" else ".jsonl"
    if kind == "empty":
        return "empty" + suffix, b""
    if kind == "blank lines only":
        return "blank" + suffix, b"\n \n\t\n"
    if kind == "binary":
        return "junk" + suffix, bytes(range(256))[cut % 200:] + b"\x00" * 10
    if kind == "truncated gzip":
        data = gzip.compress(text)
        return "cut" + suffix + ".gz", data[: max(20, len(data) * (cut % 90 + 5) // 100)]
    if kind == "truncated zstd":
        data = zstandard.ZstdCompressor().compress(text)
        return "cut" + suffix + ".zst", data[: max(8, len(data) * (cut % 90 + 5) // 100)]
    if kind == "JSON array":
        return "array.json", b"[" + b",".join(text.splitlines()[:3]) + b"]\n"
    if kind == "header only":
        return "header.csv", text.splitlines()[0] + b"\n"
    if kind == "unknown columns":  # a header / keys no format (nor the --map) names
        if fmt.container == "csv":
            width = len(fmt.columns)
            return "renamed.csv", ",".join(f"col{i}" for i in range(width)).encode() + b"\n" + \
                b"\n".join(text.splitlines()[1:]) + b"\n"
        return "renamed.jsonl", b'{"when": 1, "prompt": 2, "completion": 3}\n' * (1 + cut % 5)
    raise ValueError(kind)


TEXT_FORMATS = [fmt for fmt in FORMATS if fmt.container != "parquet"]
FILE_KINDS = ["empty", "blank lines only", "binary", "truncated gzip", "truncated zstd", "JSON array", "header only",
              "unknown columns"]


@settings(FUZZ, max_examples=FILE_EXAMPLES)
@given(st.sampled_from(FILE_KINDS), st.sampled_from(TEXT_FORMATS), st.integers(0, 10_000),
       st.sampled_from(["fail", "skip"]))
def check_damaged_files(kind: str, fmt: Fmt, cut: int, policy: str) -> None:
    if kind == "header only" and fmt.container != "csv":
        fmt = BY_NAME["azure"]
    name, data = damaged_file(kind, fmt, cut)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        out = Path(folder) / "requests.parquet"
        made["damaged files"] += 1
        result = cli_ingest(fmt, path, out, policy)
        assert result.exit_code == 2, (kind, result.stdout, result.stderr)
        assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
        assert name in result.stderr
        assert not out.exists()


def test_fuzz_bad_input_over_every_format() -> None:
    made.clear()
    with shared_database():
        check_bad_rows()
        check_damaged_files()
    assert sum(made.values()) >= MIN_BAD_INPUTS, made
    print(f"fuzz: {dict(made)}")
