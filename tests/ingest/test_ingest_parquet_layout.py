"""requests.parquet's physical layout (docs/formats.md) and the demand step's use of its statistics."""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from preserve_cli.demand.from_requests import _rows_proven_usable, demand_from_requests
from preserve_cli.errors import InputError
from preserve_cli.ingest import ingest_logs

from format_samples import LITELLM_RECORDS, jsonl

INTEGER_COLUMNS = ("ts", "input_tokens", "output_tokens")


def _chunks(path) -> dict[str, pq.ColumnChunkMetaData]:
    metadata = pq.ParquetFile(path).metadata
    assert metadata.num_row_groups == 1
    group = metadata.row_group(0)
    return {group.column(i).path_in_schema: group.column(i) for i in range(metadata.num_columns)}


def test_labels_and_latencies_are_written_in_the_documented_layout_byte_identically(write, tmp_path) -> None:
    log = write("litellm.jsonl", jsonl(LITELLM_RECORDS))
    ingest_logs(log, tmp_path / "one.parquet")
    ingest_logs(log, tmp_path / "two.parquet")
    assert (tmp_path / "one.parquet").read_bytes() == (tmp_path / "two.parquet").read_bytes()
    chunks = _chunks(tmp_path / "one.parquet")
    assert set(chunks) == {*INTEGER_COLUMNS, "model", "service", "client", "ttft_ms", "e2e_ms"}
    for name in INTEGER_COLUMNS:
        assert "DELTA_BINARY_PACKED" in chunks[name].encodings, name
        assert chunks[name].compression == "UNCOMPRESSED", name
        assert chunks[name].statistics.null_count == 0
    assert chunks["input_tokens"].statistics.min == 512
    for name in ("model", "service", "client"):
        assert chunks[name].has_dictionary_page and chunks[name].compression == "SNAPPY", name
    assert not chunks["ttft_ms"].has_dictionary_page
    assert _rows_proven_usable(tmp_path / "one.parquet")


def _hand_written(tmp_path, name: str, tokens: pa.Array, ts: list[int | None] | None = None, **options) -> object:
    table = pa.table({"ts": pa.array(ts or [0, 1_000_000, 2_000_000], pa.timestamp("us", tz="UTC")),
                      "input_tokens": tokens, "output_tokens": pa.array([1, 1, 1], pa.int64())})
    path = tmp_path / name
    pq.write_table(table, path, **options)
    return path


@pytest.mark.parametrize(("name", "tokens", "ts", "options", "message"), [
    # No statistics to go by: every row is checked, and the bad one is named.
    ("nostats.parquet", pa.array([5, -1, 7], pa.int64()), None, {"write_statistics": False}, r"row 2 .*negative"),
    # Statistics whose minimum is negative.
    ("negative.parquet", pa.array([5, 7, -2], pa.int64()), None, {}, r"row 3 .*negative"),
    # Token counts as floating point: their statistics are not trusted (NaN has no place in them).
    ("float.parquet", pa.array([5.0, -1.0, 7.0]), None, {}, r"row 2 .*negative"),
    # A NULL time: the null count says so.
    ("nullts.parquet", pa.array([5, 6, 7], pa.int64()), [0, None, 2_000_000], {}, r"row 2 has no time"),
])
def test_a_parquet_from_elsewhere_is_still_checked_row_by_row(tmp_path, name, tokens, ts, options, message) -> None:
    path = _hand_written(tmp_path, name, tokens, ts, **options)
    assert not _rows_proven_usable(path)
    with pytest.raises(InputError, match=re.escape(name) + ": " + message):
        demand_from_requests(path, 3600)


def test_a_clean_parquet_without_statistics_gives_the_same_demand(tmp_path) -> None:
    tokens = pa.array([5, 6, 7], pa.int64())
    with_stats = _hand_written(tmp_path, "stats.parquet", tokens)
    without = _hand_written(tmp_path, "nostats.parquet", tokens, write_statistics=False)
    assert _rows_proven_usable(with_stats) and not _rows_proven_usable(without)
    proven, checked = (demand_from_requests(path, 3600).series["all"] for path in (with_stats, without))
    assert proven.prefill_tokens.tolist() == checked.prefill_tokens.tolist() == [18.0]
    assert proven.requests.tolist() == checked.requests.tolist() == [3.0]


def _big_log(write, bad_at: int | None = None):
    """200,000 sorted rows (two Arrow batches and more), one of them bad if `bad_at` is given."""
    rows = [f"2024-05-10 00:{i // 6000:02d}:{i // 100 % 60:02d}.{i % 100:02d}00000,{i % 500 + 1},3\n"
            for i in range(200_000)]
    if bad_at is not None:
        rows[bad_at] = rows[bad_at].replace(f",{bad_at % 500 + 1},", ",many,")
    return write("big.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n" + "".join(rows))


def test_a_bad_row_late_in_the_stream_is_skipped_and_nothing_of_the_first_attempt_is_left(write, tmp_path) -> None:
    # The fast read fails mid-stream, after the writer has taken rows; the second, line-exact
    # attempt writes the file anew.
    log = _big_log(write, bad_at=180_000)
    summary = ingest_logs(log, tmp_path / "one.parquet", on_error="skip")
    ingest_logs(log, tmp_path / "two.parquet", on_error="skip")
    assert summary.rows == 199_999 and summary.skipped["non_numeric_tokens"].first == f"{log}:180002"
    assert pq.ParquetFile(tmp_path / "one.parquet").metadata.num_rows == 199_999
    assert (tmp_path / "one.parquet").read_bytes() == (tmp_path / "two.parquet").read_bytes()


def test_progress_counts_rows_up_to_the_total(write, tmp_path) -> None:
    seen: list[int] = []
    summary = ingest_logs(_big_log(write), tmp_path / "r.parquet", progress=seen.append)
    assert len(seen) >= 2 and seen == sorted(seen) and seen[-1] == summary.rows == 200_000

