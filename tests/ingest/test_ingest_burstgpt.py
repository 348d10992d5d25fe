"""BurstGPT CSV (columns as its README documents them): detected, exact rows, tokens and labels."""

from __future__ import annotations

import json
import subprocess
import sys

import pyarrow.parquet as pq

SAMPLE = """\
Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type
5,ChatGPT,472,18,490,Conversation log
45,ChatGPT,1087,0,1087,Conversation log
118,GPT-4,417,276,693,API log
3601.5,ChatGPT,230,141,371,API log
"""


def test_burstgpt_is_detected_with_exact_rows_tokens_and_labels(tmp_path):
    log = tmp_path / "BurstGPT_1.csv"
    log.write_text(SAMPLE)
    out = tmp_path / "requests.parquet"
    run = subprocess.run([sys.executable, "-m", "preserve_cli", "ingest", str(log), "-o", str(out),
                          "--epoch", "2023-06-01T00:00:00Z", "--json"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert summary["format"] == "burstgpt"
    assert (summary["rows"], summary["input_tokens"], summary["output_tokens"]) == (4, 2206, 435)
    assert summary["first_ts"] == "2023-06-01T00:00:05Z"
    table = pq.read_table(out).to_pydict()
    assert table["model"] == ["ChatGPT", "ChatGPT", "GPT-4", "ChatGPT"]
    assert table["service"] == ["Conversation log", "Conversation log", "API log", "API log"]
    assert table["output_tokens"] == [18, 0, 276, 141]


def test_burstgpt_negative_tokens_name_the_line(tmp_path):
    log = tmp_path / "BurstGPT_1.csv"
    log.write_text(SAMPLE.replace("417,276", "417,-276"))
    run = subprocess.run([sys.executable, "-m", "preserve_cli", "ingest", str(log), "-o", str(tmp_path / "r.parquet")],
                         capture_output=True, text=True)
    assert run.returncode == 2
    assert "BurstGPT_1.csv:4" in run.stderr and len(run.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "r.parquet").exists()
