"""Formats: detection, Vidur, Azure 2024 layouts, and any CSV/JSONL through --map."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from preserve_cli.errors import InputError
from preserve_cli.ingest import ingest_logs
from preserve_cli.ingest.formats.base import LogFormat
from preserve_cli.ingest.formats.registry import available_formats

from ingest_testkit import run_cli

VIDUR = """arrived_at,num_prefill_tokens,num_decode_tokens,request_type
0.0,512,128,chat
0.25,1024,64,chat
1.5,2048,256,code
3600.125,100,10,chat
"""


def rows_of(path):
    return pq.read_table(path).to_pylist()


def test_builtin_formats_come_from_the_entry_point_group() -> None:
    formats = available_formats()
    assert list(formats) == ["azure", "burstgpt", "kong", "litellm", "litellm_spend", "mooncake", "openai",
                             "openai_responses", "requests", "vidur"]
    assert all(isinstance(fmt, LogFormat) for fmt in formats.values())


def test_vidur_csv_is_detected_and_relative_to_the_epoch(write, tmp_path) -> None:
    log = write("trace.csv", VIDUR)
    result = run_cli("ingest", log, "-o", tmp_path / "r.parquet", "--epoch", "2024-05-10T00:00:00Z", "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["format"], summary["rows"], summary["input_tokens"], summary["output_tokens"]) == \
           ("vidur", 4, 3684, 458)
    assert summary["epoch"] == "2024-05-10T00:00:00Z"
    assert (summary["first_ts"], summary["last_ts"]) == ("2024-05-10T00:00:00Z", "2024-05-10T01:00:00.125000Z")
    assert [r["input_tokens"] for r in rows_of(tmp_path / "r.parquet")] == [512, 1024, 2048, 100]


def test_vidur_default_epoch_is_unix_zero_and_said_in_the_summary(write, tmp_path) -> None:
    summary = ingest_logs(write("trace.csv", VIDUR), tmp_path / "r.parquet")
    assert summary.epoch == "1970-01-01T00:00:00Z"
    assert summary.first_ts == "1970-01-01T00:00:00Z"
    human = run_cli("ingest", tmp_path / "trace.csv", "-o", tmp_path / "h.parquet")
    assert "1970-01-01T00:00:00Z" in human.stdout and "epoch" in human.stdout


def test_azure_2024_layouts_with_and_without_offsets(write, tmp_path) -> None:
    log = write("azure2024.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n"
                                 "2024-05-10 00:00:00.0000000,10,1\n"
                                 "2024-05-10 00:00:01.5000000+00:00,20,2\n"
                                 "2024-05-10 02:00:02.0000000+02:00,30,3\n"
                                 "2024-05-10 00:00:03.0000000,40,4\n")
    ingest_logs(log, tmp_path / "r.parquet")
    stamps = [r["ts"].isoformat() for r in rows_of(tmp_path / "r.parquet")]
    # +02:00 is converted to UTC: 02:00:02+02:00 == 00:00:02Z
    assert stamps == ["2024-05-10T00:00:00+00:00", "2024-05-10T00:00:01.500000+00:00",
                      "2024-05-10T00:00:02+00:00", "2024-05-10T00:00:03+00:00"]


def test_first_record_with_an_offset_then_plain_rows(write, tmp_path) -> None:
    log = write("azure.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n"
                             "2024-05-10 00:00:00.0000000-05:00,1,1\n"
                             "2024-05-10 05:00:01.0000000,2,2\n")
    ingest_logs(log, tmp_path / "r.parquet")
    assert [r["ts"].isoformat() for r in rows_of(tmp_path / "r.parquet")] == \
           ["2024-05-10T05:00:00+00:00", "2024-05-10T05:00:01+00:00"]


def test_generic_csv_with_labels(write, tmp_path) -> None:
    log = write("gateway.csv", "time,prompt,completion,llm,zone,extra\n"
                               "2024-05-10T13:00:00Z,100,10,llama,eastus,x\n"
                               "2024-05-10T13:00:05.25Z,200,20,mistral,westus,y\n"
                               "2024-05-10T13:30:00Z,300,30,llama,,z\n")
    result = run_cli("ingest", log, "-o", tmp_path / "r.parquet", "--json",
                     "--map", "ts=time,input=prompt,output=completion,model=llm,region=zone")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["format"], summary["rows"], summary["input_tokens"], summary["output_tokens"]) == \
           ("generic", 3, 600, 60)
    assert summary["columns"] == ["ts", "input_tokens", "output_tokens", "model", "region"]
    assert summary["epoch"] is None
    rows = rows_of(tmp_path / "r.parquet")
    assert [(r["model"], r["region"]) for r in rows] == [("llama", "eastus"), ("mistral", "westus"), ("llama", None)]


@pytest.mark.parametrize(("unit", "values", "expected_last"), [
    ("s", ["1715346000", "1715346001.5"], "2024-05-10T13:00:01.500000Z"),
    ("ms", ["1715346000000", "1715346001500"], "2024-05-10T13:00:01.500000Z"),
    ("us", ["1715346000000000", "1715346001500000"], "2024-05-10T13:00:01.500000Z"),
    ("ns", ["1715346000000000000", "1715346001500000000"], "2024-05-10T13:00:01.500000Z"),
])
def test_generic_jsonl_numeric_times(write, tmp_path, unit, values, expected_last) -> None:
    lines = [json.dumps({"t": float(v) if "." in v else int(v), "in": 5 + i, "out": 1, "svc": "chat"})
             for i, v in enumerate(values)]
    log = write("log.jsonl", "\n".join(lines) + "\n")
    summary = ingest_logs(log, tmp_path / "r.parquet", mapping="ts=t,input=in,output=out,service=svc",
                          time_unit=unit)
    assert (summary.format, summary.rows, summary.input_tokens, summary.output_tokens) == ("generic", 2, 11, 2)
    assert (summary.first_ts, summary.last_ts) == ("2024-05-10T13:00:00Z", expected_last)
    assert summary.epoch == "1970-01-01T00:00:00Z"
    assert summary.columns == ["ts", "input_tokens", "output_tokens", "service"]


def test_generic_relative_times_with_an_epoch(write, tmp_path) -> None:
    log = write("rel.csv", "offset_ms,a,b\n0,1,2\n90000,3,4\n")
    summary = ingest_logs(log, tmp_path / "r.parquet", mapping={"ts": "offset_ms", "input": "a", "output": "b"},
                          time_unit="ms", epoch="2024-01-01T00:00:00Z")
    assert (summary.first_ts, summary.last_ts, summary.epoch) == \
           ("2024-01-01T00:00:00Z", "2024-01-01T00:01:30Z", "2024-01-01T00:00:00Z")


def test_auto_detection_and_forced_format(write, tmp_path) -> None:
    mooncake = write("m.jsonl", '{"timestamp": 5, "input_length": 7, "output_length": 2, "hash_ids": [1, 2]}\n')
    assert ingest_logs(mooncake, tmp_path / "a.parquet").format == "mooncake"
    assert ingest_logs(mooncake, tmp_path / "b.parquet", format="mooncake").format == "mooncake"
    with pytest.raises(InputError, match="missing key"):
        ingest_logs(write("x.jsonl", '{"ts": 1, "i": 2, "o": 3}\n'), tmp_path / "c.parquet", format="mooncake")


def test_tab_separated_and_crlf_and_bom(write, tmp_path) -> None:
    log = write("t.tsv", b"\xef\xbb\xbfTIMESTAMP\tContextTokens\tGeneratedTokens\r\n"
                         b"2023-11-16 18:17:03.9799600\t4808\t10\r\n2023-11-16 18:17:04.0319600\t3180\t8\r\n")
    summary = ingest_logs(log, tmp_path / "r.parquet")
    assert (summary.format, summary.rows, summary.input_tokens, summary.output_tokens) == ("azure", 2, 7988, 18)


def test_jsonl_label_keys_may_be_absent_from_a_record(write, tmp_path) -> None:
    log = write("labels.jsonl", '{"t": "2024-05-10T00:00:00Z", "i": 1, "o": 1}\n'
                                '{"t": "2024-05-10T00:00:01Z", "i": 2, "o": 2, "m": "llama"}\n')
    ingest_logs(log, tmp_path / "r.parquet", mapping="ts=t,input=i,output=o,model=m")
    assert [r["model"] for r in rows_of(tmp_path / "r.parquet")] == [None, "llama"]
