"""The library API: canonical rows as SQL without writing Parquet, and value rules."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from preserve_cli.errors import InputError
from preserve_cli.ingest import duckdb_connection, ingest_logs, request_rows

from ingest_testkit import AZURE_CODE


def test_request_rows_gives_canonical_sql_without_writing(tmp_path) -> None:
    with duckdb_connection() as con:
        rows = request_rows(con, AZURE_CODE)
        assert rows.columns == ["ts", "input_tokens", "output_tokens"]
        count, tokens, first = rows.run(lambda sql: con.sql(
            f"SELECT count(*), sum(input_tokens), min(epoch_us(ts)) FROM ({sql})").fetchall()[0])
    assert (count, tokens) == (8_819, 18_059_974)
    assert first == 1_700_158_623_979_960  # 2023-11-16T18:17:03.979960Z
    assert list(tmp_path.iterdir()) == []


def test_request_rows_reports_bad_rows_the_same_way(write) -> None:
    log = write("bad.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n2024-05-10 00:00:00,1,1\n"
                           "2024-05-10 00:00:01,x,1\n")
    with duckdb_connection() as con:
        rows = request_rows(con, log)
        with pytest.raises(InputError, match=r"bad\.csv:3"):
            rows.run(lambda sql: con.sql(f"SELECT * FROM ({sql})").fetchall())
    with duckdb_connection() as con:
        rows = request_rows(con, log, {"on_error": "skip"})
        assert rows.run(lambda sql: con.sql(f"SELECT count(*) FROM ({sql})").fetchall()) == [(1,)]
        assert rows.skipped["non_numeric_tokens"].first == f"{log}:3"


def test_float_written_counts_are_whole_numbers(write, tmp_path) -> None:
    log = write("floats.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n2024-05-10 00:00:00,12.0,3.00\n"
                              "2024-05-10 00:00:01,1e3,4\n")
    summary = ingest_logs(log, tmp_path / "r.parquet")
    assert (summary.input_tokens, summary.output_tokens) == (1012, 7)


@pytest.mark.parametrize("value", ['true', '"7"', '[1]', '{"n": 1}', '1.5', '-2', 'null'])
def test_json_token_values_that_are_not_counts_are_refused(write, tmp_path, value) -> None:
    log = write("m.jsonl", '{"timestamp": 0, "input_length": 5, "output_length": 3}\n'
                           f'{{"timestamp": 1, "input_length": {value}, "output_length": 3}}\n')
    if value == '"7"':  # a number written as a JSON string is still the number 7
        assert ingest_logs(log, tmp_path / "r.parquet").input_tokens == 12
        return
    with pytest.raises(InputError, match=r"m\.jsonl:2: field 'input_length'"):
        ingest_logs(log, tmp_path / "r.parquet")


def test_unsorted_input_gives_identical_bytes_every_run(write, tmp_path) -> None:
    body = [f"2024-05-10 00:00:{s:02d}.0000000,{s % 7},{s % 3}\n" for s in (5, 1, 4, 1, 3, 5, 2, 0)]
    log = write("u.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n" + "".join(body))
    ingest_logs(log, tmp_path / "a.parquet")
    ingest_logs(log, tmp_path / "b.parquet")
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
    rows = pq.read_table(tmp_path / "a.parquet").to_pylist()
    assert [r["ts"].second for r in rows] == [0, 1, 1, 2, 3, 4, 5, 5]
