"""Bad input: one line on stderr naming file:line and the fix, exit 2, no output file;
and --on-error skip, which drops bad rows but counts every one of them by reason."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from preserve_cli.ingest import ingest_logs

from ingest_testkit import AZURE_CODE, run_cli

HEADER = "TIMESTAMP,ContextTokens,GeneratedTokens\n"
GOOD = "2023-11-16 18:17:03.9799600,4808,10\n"
GOOD2 = "2023-11-16 18:17:04.0319600,3180,8\n"


def truncated_gzip(text: str) -> bytes:
    whole = gzip.compress(text.encode())
    return whole[: len(whole) // 2]


# name, file name, content, extra CLI flags, what stderr must contain (after the file name)
CASES = [
    ("empty file", "e.csv", "", [], ["file is empty"]),
    ("header only", "h.csv", HEADER, [], [":2:", "header and nothing else"]),
    ("unknown columns", "u.csv", "when,prompt,completion\n2024-05-10 00:00:00,1,2\n", [],
     [":1:", "when, prompt, completion", "--map"]),
    ("missing column for a forced format", "m.csv", "TIMESTAMP,ContextTokens\n2024-05-10 00:00:00,1\n",
     ["--format", "azure"], [":1:", "GeneratedTokens", "--map"]),
    ("non-numeric tokens", "n.csv", HEADER + GOOD + "2023-11-16 18:17:05.0000000,lots,3\n", [],
     [":3:", "ContextTokens", "'lots'", "non_numeric_tokens"]),
    ("negative tokens", "g.csv", HEADER + GOOD + GOOD2 + "2023-11-16 18:17:05.0000000,5,-3\n", [],
     [":4:", "GeneratedTokens", "'-3'", "negative"]),
    ("missing tokens", "s.csv", HEADER + GOOD + "2023-11-16 18:17:05.0000000,,3\n", [],
     [":3:", "ContextTokens", "missing_tokens"]),
    ("fractional tokens", "f.csv", HEADER + "2023-11-16 18:17:05.0000000,12.5,3\n", [],
     [":2:", "'12.5'", "whole number"]),
    ("bad timestamp", "t.csv", HEADER + GOOD + GOOD2 + GOOD2 + "2023-11-16 25:61:00.0000000,1,1\n", [],
     [":5:", "TIMESTAMP", "bad_timestamp"]),
    ("ragged row (too many fields)", "r.csv", HEADER + GOOD + "2023-11-16 18:17:05.0000000,1,2,3\n", [],
     [":3:", "expected 3 fields, found 4"]),
    ("ragged row (too few fields)", "r2.csv", HEADER + GOOD + GOOD2 + "2023-11-16 18:17:05.0000000,1\n", [],
     [":4:", "expected 3 fields, found 2"]),
    ("unterminated quote", "q.csv", HEADER + GOOD + '2023-11-16 18:17:05.0000000,"7,3\n', [],
     [":3:", "quoting"]),
    ("non-UTF-8 bytes in a row", "b.csv", (HEADER + GOOD).encode() + b"2023-11-16 18:17:05.0,\xff\xfe,3\n", [],
     [":3:", "UTF-8"]),
    ("binary junk", "junk.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", [], [":1:", "binary"]),
    ("truncated gzip", "z.csv.gz", truncated_gzip(HEADER + GOOD * 2000), [], [":", "truncated"]),
    ("invalid JSON line", "j.jsonl",
     '{"timestamp": 0, "input_length": 5, "output_length": 3}\n{"timestamp": 1, "input_length": 5,\n', [],
     [":2:", "invalid JSON"]),
    ("JSON line that is not an object", "a.jsonl",
     '{"timestamp": 0, "input_length": 5, "output_length": 3}\n\n[1, 2, 3]\n', [],
     [":3:", "JSON object"]),
    ("epoch for wall-clock times", "w.csv", HEADER + GOOD, ["--epoch", "2024-01-01T00:00:00Z"], ["--epoch"]),
    ("numbers where date-times are expected", "num.csv", "t,i,o\n1715346000,1,2\n",
     ["--map", "ts=t,input=i,output=o"], [":2:", "--time-unit"]),
    ("bad --map", "bm.csv", HEADER + GOOD, ["--map", "ts=TIMESTAMP,input=ContextTokens"], ["--map", "output"]),
]


@pytest.mark.parametrize(("name", "file_name", "content", "flags", "expected"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_exit_2_and_no_output(write, tmp_path: Path, name, file_name, content, flags,
                                                    expected) -> None:
    log = write(file_name, content)
    out = tmp_path / "out" / "requests.parquet"
    result = run_cli("ingest", log, "-o", out, *flags)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    line = lines[0]
    if not any(flag.startswith("--") and flag in line for flag in flags):
        assert file_name in line
    for fragment in expected:
        assert fragment in line, line
    assert "fix:" in line
    assert not out.exists()
    assert not out.parent.exists() or list(out.parent.iterdir()) == []  # no temporary file left behind
    assert result.stdout == ""


@pytest.mark.parametrize(("paths", "expected"), [
    (["nothing-here-*.csv"], "no file matched"),
    (["no-such-file.csv"], "no such file"),
])
def test_nothing_matched(tmp_path: Path, paths, expected) -> None:
    result = run_cli("ingest", *[str(tmp_path / p) for p in paths], "-o", tmp_path / "r.parquet")
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 1 and expected in result.stderr
    assert not (tmp_path / "r.parquet").exists()


def test_unknown_format(write, tmp_path: Path) -> None:
    result = run_cli("ingest", write("x.csv", HEADER + GOOD), "-o", tmp_path / "r.parquet", "--format", "splunk")
    assert result.exit_code == 2
    assert "unknown log format 'splunk'" in result.stderr and "azure, burstgpt, kong, litellm" in result.stderr


def test_a_failed_run_keeps_the_previous_output(write, tmp_path: Path) -> None:
    out = tmp_path / "r.parquet"
    ingest_logs(write("ok.csv", HEADER + GOOD), out)
    before = out.read_bytes()
    result = run_cli("ingest", write("bad.csv", HEADER + GOOD + "2023-11-16 18:17:05.0,-1,1\n"), "-o", out)
    assert result.exit_code == 2
    assert out.read_bytes() == before


SKIPPY = (HEADER + GOOD                                   # 2 good
          + "2023-11-16 18:17:04.5000000,-7,1\n"           # 3 negative
          + "\n"                                           # 4 blank: not a row
          + "2023-11-16 18:17:05.0000000,,8\n"             # 5 missing
          + "2023-11-16 18:17:06.0000000,abc,8\n"          # 6 non-numeric
          + "2023-11-16 18:17:07.0000000,100,8\n"          # 7 good
          + "2023-11-16 18:17:08.0000000,12,8,9\n"         # 8 malformed (4 fields)
          + "2023-11-16 18:17:09.0000000,12\n"             # 9 malformed (2 fields)
          + "not a time,12,3\n"                            # 10 bad timestamp
          + "2023-11-16 18:17:10.0000000,5,-1\n"           # 11 negative
          + "2023-11-16 18:17:11.0000000,7,7\n")           # 12 good


def test_skip_counts_every_bad_row_by_reason_with_its_first_line(write, tmp_path: Path) -> None:
    log = write("mixed.csv", SKIPPY)
    result = run_cli("ingest", log, "-o", tmp_path / "r.parquet", "--on-error", "skip", "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["rows"], summary["input_tokens"], summary["output_tokens"]) == (3, 4808 + 100 + 7, 10 + 8 + 7)
    assert summary["skipped"] == {
        "bad_timestamp": {"count": 1, "first": f"{log}:10"},
        "malformed_line": {"count": 2, "first": f"{log}:8"},
        "missing_tokens": {"count": 1, "first": f"{log}:5"},
        "negative_tokens": {"count": 2, "first": f"{log}:3"},
        "non_numeric_tokens": {"count": 1, "first": f"{log}:6"},
    }
    assert summary["skipped_rows"] == 7
    assert summary["unsorted_input"] is False  # good rows kept in file order
    assert pq.read_table(tmp_path / "r.parquet").num_rows == 3
    human = run_cli("ingest", log, "-o", tmp_path / "h.parquet", "--on-error", "skip")
    assert "negative_tokens" in human.stdout and "mixed.csv:3" in human.stdout


def test_skip_in_jsonl_and_across_files(write, tmp_path: Path) -> None:
    first = write("1.jsonl", '{"timestamp": 0, "input_length": 5, "output_length": 3}\n'
                             '{"timestamp": 1, "input_length": -5, "output_length": 3}\n')
    second = write("2.jsonl", '{"timestamp": 2, "input_length": 5, "output_length": 3}\n'
                              'oops\n'
                              '{"timestamp": 3, "input_length": -1, "output_length": 3}\n'
                              '{"timestamp": 4, "output_length": 3}\n')
    summary = ingest_logs([first, second], tmp_path / "r.parquet", on_error="skip")
    assert (summary.rows, summary.input_tokens) == (2, 10)
    assert {reason: stat.to_dict() for reason, stat in summary.skipped.items()} == {
        "negative_tokens": {"count": 2, "first": f"{first}:2"},
        "malformed_line": {"count": 1, "first": f"{second}:2"},
        "missing_tokens": {"count": 1, "first": f"{second}:4"},
    }


def test_skip_of_every_row_is_an_error(write, tmp_path: Path) -> None:
    result = run_cli("ingest", write("all_bad.csv", HEADER + "x,1,1\ny,2,2\n"), "-o", tmp_path / "r.parquet",
                     "--on-error", "skip")
    assert result.exit_code == 2 and "all 2 rows were skipped" in result.stderr
    assert not (tmp_path / "r.parquet").exists()


def test_unsorted_input_is_sorted_and_reported(write, tmp_path: Path) -> None:
    lines = AZURE_CODE.read_text().splitlines(keepends=True)
    body = lines[1:]
    shuffled = body[1::2] + body[0::2]  # every row still there, order broken
    log = write("shuffled.csv", lines[0] + "".join(shuffled))
    summary = ingest_logs(log, tmp_path / "r.parquet")
    assert summary.unsorted_input is True
    assert (summary.rows, summary.input_tokens, summary.output_tokens) == (8_819, 18_059_974, 245_896)
    ts = pq.read_table(tmp_path / "r.parquet")["ts"].to_pylist()
    assert ts == sorted(ts)
    sorted_run = ingest_logs(AZURE_CODE, tmp_path / "sorted.parquet")
    assert sorted_run.unsorted_input is False
    assert pq.read_table(tmp_path / "r.parquet")["ts"].equals(pq.read_table(tmp_path / "sorted.parquet")["ts"])
    human = run_cli("ingest", log, "-o", tmp_path / "h.parquet")
    assert "sorted by time on write" in human.stdout


def test_header_only_file_is_skipped_in_skip_mode(write, tmp_path: Path) -> None:
    empty = write("a_empty.csv", HEADER)
    full = write("b_full.csv", HEADER + GOOD)
    summary = ingest_logs([empty, full], tmp_path / "r.parquet", on_error="skip")
    assert summary.rows == 1 and summary.empty_files == [str(empty)]


def test_a_bad_line_met_while_streaming_is_reported_not_a_crash(write, tmp_path: Path) -> None:
    """DuckDB streams Arrow batches: a bad line after the first batch (or in a later file) used to
    surface as a bare OSError with a traceback. It must take the line-exact path like any other."""
    rows = [f"2023-11-16 18:{i // 60 % 60:02d}:{i % 60:02d}.0000000,{i % 500 + 1},3\n" for i in range(200_000)]
    rows[180_000] = "2023-11-16 18:59:59.0000000,many,3\n"
    big = write("big.csv", HEADER + "".join(sorted(rows)))
    bad_line = 2 + sorted(rows).index("2023-11-16 18:59:59.0000000,many,3\n")
    result = run_cli("ingest", big, "-o", tmp_path / "r.parquet")
    assert result.exit_code == 2 and f"big.csv:{bad_line}:" in result.stderr and "Traceback" not in result.stderr
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "a.csv").write_text(HEADER + GOOD)
    (folder / "b.csv").write_text(HEADER + GOOD2 + "2023-11-16 18:17:05.0000000,abc,3\n")
    result = run_cli("ingest", folder, "-o", tmp_path / "r.parquet")
    assert result.exit_code == 2 and "b.csv:3:" in result.stderr and "Traceback" not in result.stderr
    summary = ingest_logs(folder, tmp_path / "r.parquet", on_error="skip")
    assert (summary.rows, summary.skipped["non_numeric_tokens"].count) == (2, 1)
