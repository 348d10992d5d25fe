"""Usage-record and gateway formats (OpenAI, LiteLLM, Kong, BurstGPT), detected from realistic
samples, with exact rows, token totals and latencies; Parquet and zstd input; folders and globs."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from preserve_cli.ingest import ingest_logs

from format_samples import (
    BURSTGPT_CSV, BURSTGPT_ROWS, KONG_RECORDS, KONG_ROWS, LITELLM_RECORDS, LITELLM_ROWS, LITELLM_SPEND_CSV,
    LITELLM_SPEND_ROWS, OPENAI_RECORDS, OPENAI_RESPONSES_RECORDS, OPENAI_RESPONSES_ROWS, OPENAI_ROWS, jsonl,
)
from ingest_testkit import run_cli

FIELDS = ("ts", "input_tokens", "output_tokens", "model", "service", "client", "ttft_ms", "e2e_ms")


def rows_of(path: Path, columns: list[str]) -> list[tuple]:
    table = pq.read_table(path)
    assert table.column_names == columns
    return [tuple(row[name].isoformat().replace("+00:00", "Z") if name == "ts" else row[name] for name in columns)
            for row in table.to_pylist()]


CASES = [
    ("openai", "usage.jsonl", jsonl(OPENAI_RECORDS), OPENAI_ROWS, FIELDS[:4]),
    ("openai_responses", "responses.jsonl", jsonl(OPENAI_RESPONSES_RECORDS), OPENAI_RESPONSES_ROWS, FIELDS[:4]),
    ("litellm", "litellm.jsonl", jsonl(LITELLM_RECORDS), LITELLM_ROWS, FIELDS),
    ("litellm_spend", "spend_logs.csv", LITELLM_SPEND_CSV, LITELLM_SPEND_ROWS, FIELDS),
    ("kong", "kong-file-log.jsonl", jsonl(KONG_RECORDS), KONG_ROWS, (*FIELDS[:6], "e2e_ms")),
    ("burstgpt", "BurstGPT_1.csv", BURSTGPT_CSV, BURSTGPT_ROWS, FIELDS[:5]),
]


@pytest.mark.parametrize(("fmt", "name", "content", "expected", "columns"), CASES, ids=[c[0] for c in CASES])
def test_format_is_detected_with_exact_rows_and_totals(write, tmp_path, fmt, name, content, expected,
                                                       columns) -> None:
    out = tmp_path / "requests.parquet"
    result = run_cli("ingest", write(name, content), "-o", out, "--json",
                     *(["--epoch", "2024-05-10T00:00:00Z"] if fmt == "burstgpt" else []))
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["format"] == fmt
    assert (summary["rows"], summary["input_tokens"], summary["output_tokens"]) == \
           (len(expected), sum(row[1] for row in expected), sum(row[2] for row in expected))
    assert rows_of(out, list(columns)) == expected


def test_nested_keys_are_read_on_the_line_exact_path_too(write, tmp_path) -> None:
    """A broken line sends the file through Python; nested values must come out the same."""
    text = jsonl(OPENAI_RECORDS[:2]) + '{"created": 1741570000, "usage": {"prompt_tokens": 5,\n' + \
        jsonl(OPENAI_RECORDS[2:])
    summary = ingest_logs(write("usage.jsonl", text), tmp_path / "r.parquet", on_error="skip")
    assert (summary.rows, summary.input_tokens, summary.output_tokens) == (3, 1311, 4417)
    assert summary.skipped["malformed_line"].to_dict() == {"count": 1, "first": f"{tmp_path / 'usage.jsonl'}:3"}
    assert rows_of(tmp_path / "r.parquet", list(FIELDS[:4])) == OPENAI_ROWS


def test_a_bad_latency_fails_with_file_line_or_is_skipped(write, tmp_path) -> None:
    records = [dict(LITELLM_RECORDS[0]), dict(LITELLM_RECORDS[1])]
    records[1]["completionStartTime"] = records[1]["startTime"] - 5  # first token before the request
    log = write("litellm.jsonl", jsonl(records))
    result = run_cli("ingest", log, "-o", tmp_path / "r.parquet")
    assert result.exit_code == 2
    assert f"{log}:2" in result.stderr and "completionStartTime" in result.stderr and "bad_latency" in result.stderr
    assert not (tmp_path / "r.parquet").exists()
    summary = ingest_logs(log, tmp_path / "r.parquet", on_error="skip")
    assert (summary.rows, summary.skipped["bad_latency"].count) == (1, 1)
    assert rows_of(tmp_path / "r.parquet", list(FIELDS)) == LITELLM_ROWS[:1]


def test_zstd_and_gzip_logs_in_a_folder_and_by_glob(tmp_path) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "part-1.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(jsonl(OPENAI_RECORDS[:2]).encode()))
    (folder / "part-2.jsonl.gz").write_bytes(gzip.compress(jsonl(OPENAI_RECORDS[2:]).encode()))
    for source in (folder, str(folder / "part-*.jsonl.*")):
        summary = ingest_logs(source, tmp_path / "r.parquet")
        assert (summary.format, summary.rows, summary.input_tokens, summary.output_tokens) == ("openai", 3, 1311, 4417)
        assert len(summary.files) == 2
    assert rows_of(tmp_path / "r.parquet", list(FIELDS[:4])) == OPENAI_ROWS


def test_truncated_zstd_is_an_error_not_fewer_rows(write, tmp_path) -> None:
    lines = "".join(f'{{"created": {1741569952 + i}, "usage": {{"prompt_tokens": {i}, "completion_tokens": 1}}}}\n'
                    for i in range(20_000))
    whole = zstandard.ZstdCompressor().compress(lines.encode())
    log = write("usage.jsonl.zst", whole[: len(whole) * 2 // 3])
    result = run_cli("ingest", log, "-o", tmp_path / "r.parquet")
    assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1
    assert "usage.jsonl.zst" in result.stderr and "truncated" in result.stderr
    assert not (tmp_path / "r.parquet").exists()


def test_parquet_export_of_a_known_format_is_detected(tmp_path) -> None:
    export = tmp_path / "azure_export.parquet"
    pq.write_table(pa.table({"TIMESTAMP": pa.array(["2024-05-10 00:00:00.5", "2024-05-10 00:00:02"]),
                             "ContextTokens": pa.array([100, 200], pa.int64()),
                             "GeneratedTokens": pa.array([10, 20], pa.int32())}), export)
    summary = ingest_logs(export, tmp_path / "r.parquet")
    assert (summary.format, summary.rows, summary.input_tokens, summary.output_tokens) == ("azure", 2, 300, 30)
    assert rows_of(tmp_path / "r.parquet", list(FIELDS[:3])) == [("2024-05-10T00:00:00.500000Z", 100, 10),
                                                                 ("2024-05-10T00:00:02Z", 200, 20)]


def test_requests_parquet_reads_back_as_a_log_and_bad_rows_name_the_row(write, tmp_path) -> None:
    first = tmp_path / "first.parquet"
    ingest_logs(write("litellm.jsonl", jsonl(LITELLM_RECORDS)), first)
    again = ingest_logs(first, tmp_path / "again.parquet")
    assert again.format == "requests"
    assert rows_of(tmp_path / "again.parquet", list(FIELDS)) == LITELLM_ROWS
    broken = tmp_path / "broken.parquet"
    pq.write_table(pa.table({"ts": pa.array([1, 2], pa.timestamp("us", tz="UTC")),
                             "input_tokens": pa.array([5, -1]), "output_tokens": pa.array([1, 1])}), broken)
    result = run_cli("ingest", broken, "-o", tmp_path / "x.parquet")
    assert result.exit_code == 2 and f"{broken}:2" in result.stderr and "negative" in result.stderr
    skipped = ingest_logs(broken, tmp_path / "x.parquet", on_error="skip")
    assert (skipped.rows, skipped.skipped["negative_tokens"].first) == (1, f"{broken}:2")


def test_generic_map_takes_latency_columns(write, tmp_path) -> None:
    log = write("gateway.csv", "time,in,out,ttft,e2e\n2024-05-10T00:00:00Z,10,2,120.5,900\n"
                               "2024-05-10T00:00:01Z,20,4,,1000\n")
    summary = ingest_logs(log, tmp_path / "r.parquet", mapping="ts=time,input=in,output=out,ttft_ms=ttft,e2e_ms=e2e")
    assert summary.columns == ["ts", "input_tokens", "output_tokens", "ttft_ms", "e2e_ms"]
    assert [r[3:] for r in rows_of(tmp_path / "r.parquet", summary.columns)] == [(120.5, 900.0), (None, 1000.0)]


def test_demand_reads_gateway_logs_and_parquet_exports_directly(write, tmp_path) -> None:
    from preserve_cli.demand.from_requests import demand_from_requests

    demand = demand_from_requests(write("litellm.jsonl", jsonl(LITELLM_RECORDS)), 3600)
    assert sorted(demand.series) == ["llama-3-70b", "llama-3-8b"]  # by model; latencies are no series label
    assert sum(float(s.prefill_tokens[~s.missing].sum()) for s in demand.series.values()) == 1512
    export = tmp_path / "azure_export.parquet"
    pq.write_table(pa.table({"TIMESTAMP": ["2024-05-10 00:10:00", "2024-05-10 01:20:00"],
                             "ContextTokens": [100, 200], "GeneratedTokens": [10, 20]}), export)
    series = demand_from_requests(export, 3600).series["all"]
    assert (series.prefill_tokens.tolist(), series.decode_tokens.tolist()) == ([100.0, 200.0], [10.0, 20.0])
