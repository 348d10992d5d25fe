"""`preserve demand` on raw request logs passes the ingest flags through (epoch, map, on-error)."""

from __future__ import annotations

import csv
import subprocess
import sys


def preserve(*args, cwd):
    return subprocess.run([sys.executable, "-m", "preserve_cli", *args], capture_output=True, text=True, cwd=cwd)


def test_relative_log_is_placed_at_the_epoch(tmp_path):
    log = tmp_path / "vidur.csv"
    log.write_text("arrived_at,num_prefill_tokens,num_decode_tokens\n0.5,100,10\n3700.0,200,20\n")
    run = preserve("demand", str(log), "--window", "1h", "-o", "d.csv", "--epoch", "2025-01-06T00:00:00Z", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    rows = list(csv.DictReader((tmp_path / "d.csv").open()))
    assert [(r["window_start"], r["prefill_tokens"], r["decode_tokens"]) for r in rows] == [
        ("2025-01-06T00:00:00Z", "100", "10"), ("2025-01-06T01:00:00Z", "200", "20")]


def test_mapped_columns_and_skip_policy(tmp_path):
    log = tmp_path / "gateway.csv"
    log.write_text("when,prompt,completion\n2025-01-06T00:10:00Z,100,10\n2025-01-06T00:20:00Z,-5,3\n"
                   "2025-01-06T00:30:00Z,50,5\n")
    args = ("demand", str(log), "--window", "1h", "-o", "d.csv", "--map", "ts=when,input=prompt,output=completion")
    failed = preserve(*args, cwd=tmp_path)
    assert failed.returncode == 2 and "gateway.csv:3" in failed.stderr and not (tmp_path / "d.csv").exists()
    skipped = preserve(*args, "--on-error", "skip", cwd=tmp_path)
    assert skipped.returncode == 0, skipped.stderr
    rows = list(csv.DictReader((tmp_path / "d.csv").open()))
    assert sum(int(r["prefill_tokens"]) for r in rows) == 150
