"""The real traces in ../shared/data/traces: exact row counts and token totals."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from preserve_cli.ingest import ingest_logs

from ingest_testkit import AZURE_CODE, AZURE_CONV, MOONCAKE, csv_totals, jsonl_totals, run_cli

# Literal numbers: rows from SOURCES.md; token totals as counted once with Python's csv/json.
EXPECTED = {
    AZURE_CODE: ("azure", 8_819, 18_059_974, 245_896),
    AZURE_CONV: ("azure", 19_366, 22_361_870, 4_088_665),
    MOONCAKE: ("mooncake", 3_993, 61_194_628, 595_432),
}


def independent_totals(path: Path):
    if path.suffix == ".jsonl":
        return jsonl_totals(path, "input_length", "output_length")
    return csv_totals(path, "ContextTokens", "GeneratedTokens")


@pytest.mark.parametrize("trace", list(EXPECTED), ids=lambda p: p.name)
def test_cli_ingest_gives_exact_rows_and_tokens(trace: Path, tmp_path: Path) -> None:
    out = tmp_path / "requests.parquet"
    result = run_cli("ingest", trace, "-o", out, "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    name, rows, input_tokens, output_tokens = EXPECTED[trace]
    counted = independent_totals(trace)
    assert (summary["rows"], summary["input_tokens"], summary["output_tokens"]) == \
           (counted.rows, counted.input_tokens, counted.output_tokens) == (rows, input_tokens, output_tokens)
    assert summary["format"] == name
    assert summary["skipped"] == {} and summary["unsorted_input"] is False
    table = pq.read_table(out)
    assert table.num_rows == rows
    assert pa.compute.sum(table["input_tokens"]).as_py() == input_tokens
    assert pa.compute.sum(table["output_tokens"]).as_py() == output_tokens


def test_output_schema_is_canonical_and_utc(tmp_path: Path) -> None:
    out = tmp_path / "r.parquet"
    summary = ingest_logs(AZURE_CODE, out)
    schema = pq.read_schema(out)
    assert schema.names == ["ts", "input_tokens", "output_tokens"]
    assert schema.field("ts").type == pa.timestamp("us", tz="UTC")
    assert schema.field("input_tokens").type == pa.int64()
    first = pq.read_table(out).slice(0, 1).to_pylist()[0]
    # 2023-11-16 18:17:03.9799600 (100 ns ticks) -> microseconds, UTC
    assert first["ts"].isoformat() == "2023-11-16T18:17:03.979960+00:00"
    assert (first["input_tokens"], first["output_tokens"]) == (4808, 10)
    assert summary.first_ts == "2023-11-16T18:17:03.979960Z"
    assert summary.last_ts == "2023-11-16T19:14:19.928016Z"
    assert summary.epoch is None


def test_mooncake_times_are_relative_to_the_epoch(tmp_path: Path) -> None:
    default = ingest_logs(MOONCAKE, tmp_path / "a.parquet")
    assert (default.epoch, default.first_ts, default.last_ts) == \
           ("1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z", "1970-01-01T00:17:02.025000Z")
    shifted = ingest_logs(MOONCAKE, tmp_path / "b.parquet", epoch="2024-05-10T13:00:00Z")
    assert (shifted.epoch, shifted.first_ts, shifted.last_ts) == \
           ("2024-05-10T13:00:00Z", "2024-05-10T13:00:00Z", "2024-05-10T13:17:02.025000Z")


def test_gzip_input_equals_plain_input(tmp_path: Path) -> None:
    for trace in (AZURE_CODE, MOONCAKE):
        packed = tmp_path / (trace.name + ".gz")
        with trace.open("rb") as src, gzip.open(packed, "wb") as dst:
            shutil.copyfileobj(src, dst)
        plain = ingest_logs(trace, tmp_path / "plain.parquet").to_dict()
        zipped = ingest_logs(packed, tmp_path / "zipped.parquet").to_dict()
        for key in ("rows", "input_tokens", "output_tokens", "first_ts", "last_ts", "format"):
            assert plain[key] == zipped[key]
        assert (tmp_path / "plain.parquet").read_bytes() == (tmp_path / "zipped.parquet").read_bytes()


def test_output_is_byte_identical_across_runs(tmp_path: Path) -> None:
    ingest_logs(AZURE_CONV, tmp_path / "one.parquet")
    ingest_logs(AZURE_CONV, tmp_path / "two.parquet")
    assert (tmp_path / "one.parquet").read_bytes() == (tmp_path / "two.parquet").read_bytes()


def test_folder_of_two_overlapping_traces_is_sorted_and_reported(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    shutil.copy(AZURE_CODE, folder / "a_code.csv")
    shutil.copy(AZURE_CONV, folder / "b_conv.csv")
    result = run_cli("ingest", folder, "-o", tmp_path / "r.parquet", "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["rows"] == 8_819 + 19_366
    assert summary["input_tokens"] == 18_059_974 + 22_361_870
    assert summary["unsorted_input"] is True  # conv starts before code ends
    ts = pq.read_table(tmp_path / "r.parquet")["ts"].cast(pa.int64()).to_numpy()
    assert (ts[1:] >= ts[:-1]).all()
    assert summary["first_ts"] == "2023-11-16T18:15:46.680590Z"


def test_a_trace_split_in_order_is_not_reported_unsorted(tmp_path: Path) -> None:
    lines = AZURE_CODE.read_text().splitlines(keepends=True)
    header, body = lines[0], lines[1:]
    (tmp_path / "part1.csv").write_text(header + "".join(body[:4000]))
    (tmp_path / "part2.csv").write_text(header + "".join(body[4000:]))
    summary = ingest_logs(str(tmp_path / "part*.csv"), tmp_path / "r.parquet")
    assert summary.rows == 8_819 and summary.input_tokens == 18_059_974
    assert summary.unsorted_input is False
    assert summary.files == [str(tmp_path / "part1.csv"), str(tmp_path / "part2.csv")]
