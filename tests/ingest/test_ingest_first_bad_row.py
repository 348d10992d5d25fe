"""Several files: `--on-error fail` names the first bad row of all (file order, then line),
whatever DuckDB's threads meet first, and a bad line is never a traceback.

Regression cases found by the fuzz suite (test_ingest_fuzz.py) in a full-suite run: a line
whose only defect is invalid UTF-8 inside a label column (BurstGPT's Model). DuckDB decodes
only the columns a query uses, so the per-file probe that decides which files need the
line-exact path used to pass such a file: the first bad row reported was a later file's, or
the read failed again after cleaning and the CLI exited 1 with an uncaught exception.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from preserve_cli.ingest import rows as ingest_rows

from ingest_testkit import run_cli

HEADER = b"Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n"
GOOD = b"0.0,ChatGPT,5,3,8,API log\n"
BAD_LABEL = b"1.0,Chat\xff\xfeGPT,5,3,8,API log\n"      # invalid UTF-8 in Model (a label) only
BAD_TOKENS = b"1.0,ChatGPT,abc,3,3,API log\n"           # non-numeric Request tokens


def folder_of(tmp_path: Path, *files: bytes) -> Path:
    folder = tmp_path / "logs"
    folder.mkdir()
    for index, content in enumerate(files):
        (folder / f"part-{index}.csv").write_bytes(content)
    return folder


def ingest(folder: Path, out: Path, policy: str):
    return run_cli("ingest", folder, "-o", out, "--on-error", policy, "--json")


def test_a_bad_label_in_an_earlier_file_is_the_first_bad_row(tmp_path: Path) -> None:
    folder = folder_of(tmp_path, HEADER + GOOD + BAD_LABEL, HEADER + GOOD + BAD_TOKENS + GOOD)
    out = tmp_path / "requests.parquet"
    failed = ingest(folder, out, "fail")
    assert failed.exit_code == 2, (failed.stdout, failed.stderr)
    assert failed.stderr.count("\n") == 1 and "Traceback" not in failed.stderr
    assert f"{folder / 'part-0.csv'}:3:" in failed.stderr and "malformed_line" in failed.stderr
    assert not out.exists()

    kept = ingest(folder, out, "skip")
    assert kept.exit_code == 0, kept.stderr
    summary = json.loads(kept.stdout)
    assert summary["rows"] == 3
    assert {reason: stat["first"] for reason, stat in summary["skipped"].items()} == {
        "malformed_line": f"{folder / 'part-0.csv'}:3", "non_numeric_tokens": f"{folder / 'part-1.csv'}:3"}


def test_a_bad_label_as_the_only_defect_of_a_later_file_is_exit_2_not_a_crash(tmp_path: Path) -> None:
    folder = folder_of(tmp_path, HEADER + GOOD, HEADER + GOOD + BAD_LABEL)
    out = tmp_path / "requests.parquet"
    failed = ingest(folder, out, "fail")
    assert failed.exit_code == 2, (failed.stdout, failed.stderr)
    assert failed.stderr.count("\n") == 1 and f"{folder / 'part-1.csv'}:3:" in failed.stderr
    assert not out.exists()
    kept = ingest(folder, out, "skip")
    assert kept.exit_code == 0 and json.loads(kept.stdout)["skipped"]["malformed_line"]["count"] == 1


def test_a_probe_that_misses_a_problem_still_ends_in_one_line_not_a_traceback(tmp_path: Path,
                                                                                monkeypatch) -> None:
    """Whatever DuckDB's fast read and the per-file probe disagree on next, the line-exact
    path over every file is the last word: exit 2 naming the line, never exit 1."""
    monkeypatch.setattr(ingest_rows.RequestRows, "_reads_cleanly", lambda self, one: True)
    folder = folder_of(tmp_path, HEADER + GOOD, HEADER + GOOD + GOOD + BAD_TOKENS)
    out = tmp_path / "requests.parquet"
    failed = ingest(folder, out, "fail")
    assert failed.exit_code == 2, (failed.stdout, failed.stderr)
    assert f"{folder / 'part-1.csv'}:4:" in failed.stderr and "non_numeric_tokens" in failed.stderr
    kept = ingest(folder, out, "skip")
    assert kept.exit_code == 0 and json.loads(kept.stdout)["rows"] == 3


@pytest.mark.parametrize("threads", [1, 4])
def test_first_bad_row_does_not_depend_on_which_thread_fails_first(tmp_path: Path, monkeypatch, threads) -> None:
    """Every file has a bad row; file 0's is at its very end and the others' at their start,
    so parallel readers meet a later file's error first. The answer is file 0's line, every run."""
    monkeypatch.setattr(ingest_rows, "_usable_cpus", lambda: threads)
    rows = 20_000
    body = b"".join(b"%d.0,ChatGPT,%d,3,8,API log\n" % (i, i % 900) for i in range(rows))
    files = [HEADER + body + BAD_TOKENS] + [HEADER + GOOD + BAD_TOKENS + body for _ in range(5)]
    folder = folder_of(tmp_path, *files)
    answers = {ingest(folder, tmp_path / "requests.parquet", "fail").stderr for _ in range(3)}
    assert len(answers) == 1
    assert f"{folder / 'part-0.csv'}:{rows + 2}:" in answers.pop()
