"""`preserve demand --sql`: the aggregation as warehouse SQL gives the same demand.csv as `preserve demand`.

The DuckDB dialect runs here against real tables; the other dialects are checked for
using their own functions and none of DuckDB's."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from preserve_cli.cli.app import app
from preserve_cli.demand.from_requests import demand_from_requests
from preserve_cli.demand.schema import read_demand, write_demand
from preserve_cli.errors import InputError
from preserve_cli.ingest import ingest_logs
from preserve_cli.ingest.warehouse import DIALECTS, demand_sql

AZURE_CODE = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "traces" / "azure_llm_2023" / \
    "AzureLLMInferenceTrace_code.csv"
# Three models, a request with no model, two hours with no request at all, sub-second times.
LABELLED_LOG = ("time,in,out,model\n2024-05-10T00:10:00.5Z,10,1,a\n2024-05-10T00:50:00Z,20,2,b\n"
                "2024-05-10T03:20:00Z,30,3,a\n2024-05-10T03:59:59Z,40,4,\n2024-05-10T05:00:00.25Z,5,5,b\n")


def cli(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args])


def sql_demand_file(requests_parquet: Path, query: str, target: Path) -> Path:
    """Run `query` in DuckDB over a table loaded from `requests_parquet`; export CSV with a header."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"CREATE TABLE requests AS SELECT * FROM read_parquet('{requests_parquet}')")
    con.execute(f"COPY ({query}) TO '{target}' (HEADER)")
    return target


@pytest.mark.parametrize("empty_windows", ["gap", "zero"])
@pytest.mark.parametrize(("window", "series_by"), [("1h", "model"), ("10m", None)])
def test_duckdb_sql_gives_the_same_demand_as_preserve_demand(tmp_path, empty_windows, window, series_by) -> None:
    log = tmp_path / "log.csv"
    log.write_text(LABELLED_LOG)
    # Without --series-by, `preserve demand` splits by a model column when there is one, while the SQL
    # (which cannot see the table) keeps one series: give it no model column then.
    labels = ",model=model" if series_by else ""
    ingest_logs(log, tmp_path / "requests.parquet", mapping="ts=time,input=in,output=out" + labels)
    here = cli("demand", tmp_path / "requests.parquet", "-o", tmp_path / "here.csv", "--window", window,
               "--empty-windows", empty_windows, *(["--series-by", series_by] if series_by else []))
    assert here.exit_code == 0, here.stderr
    printed = cli("demand", "--sql", "--window", window, "--empty-windows", empty_windows,
                  *(["--series-by", series_by] if series_by else []))
    assert printed.exit_code == 0, printed.stderr
    exported = sql_demand_file(tmp_path / "requests.parquet", printed.stdout, tmp_path / "warehouse.csv")
    # The warehouse's CSV reads as a demand.csv and, written back, is the very same file.
    write_demand(read_demand(exported), tmp_path / "roundtrip.csv")
    assert (tmp_path / "roundtrip.csv").read_bytes() == (tmp_path / "here.csv").read_bytes()
    demand = read_demand(exported)
    assert sum(float(s.prefill_tokens[~s.missing].sum()) for s in demand.series.values()) == 105


def test_on_a_real_trace(tmp_path) -> None:
    ingest_logs(AZURE_CODE, tmp_path / "requests.parquet")
    expected = demand_from_requests(tmp_path / "requests.parquet", 600)
    write_demand(expected, tmp_path / "here.csv")
    exported = sql_demand_file(tmp_path / "requests.parquet", demand_sql("requests", 600), tmp_path / "wh.csv")
    write_demand(read_demand(exported), tmp_path / "roundtrip.csv")
    assert (tmp_path / "roundtrip.csv").read_bytes() == (tmp_path / "here.csv").read_bytes()
    with AZURE_CODE.open() as trace:
        requests = sum(1 for line in trace if line.strip()) - 1  # every request of the trace, header aside
    assert read_demand(exported).series["all"].requests.sum() == requests


def test_an_unusable_row_stops_the_query_instead_of_vanishing(tmp_path) -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE requests AS SELECT TIMESTAMPTZ '2024-05-10 00:00:00+00' AS ts, 5 AS input_tokens, "
                "-1 AS output_tokens")
    with pytest.raises(duckdb.Error, match="preserve: a request row"):
        con.sql(demand_sql("requests", 3600)).fetchall()


@pytest.mark.parametrize(("dialect", "own", "foreign"), [
    ("spark", ["unix_micros(ts)", " div ", "raise_error(", "`requests`", "spark.sql.session.timeZone"],
     ["epoch_us(", "//", "unnest(range"]),
    ("bigquery", ["UNIX_MICROS(ts)", "DIV(", "ERROR(", "FORMAT_TIMESTAMP(", "`requests`", "FLOAT64"],
     ["epoch_us(", "//", "unix_micros("]),
    ("trino", ["to_unixtime(ts)", "fail(", "format_datetime(", '"requests"'], ["epoch_us(", "//", "error('"]),
])
def test_other_dialects_use_their_own_functions(dialect, own, foreign) -> None:
    query = demand_sql("requests", 3600, dialect=dialect, series_by="model", empty_windows="zero")
    assert all(text in query for text in own), [text for text in own if text not in query]
    assert not any(text in query for text in foreign)
    assert query == demand_sql("requests", 3600, dialect=dialect, series_by="model", empty_windows="zero")


def test_json_and_bad_arguments() -> None:
    result = cli("demand", "--sql", "--dialect", "trino", "--table", "hive.logs.requests", "--json")
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert (document["dialect"], document["table"], document["window_s"]) == ("trino", "hive.logs.requests", 3600)
    assert '"hive"."logs"."requests"' in document["sql"]
    for args, field in ((["--dialect", "oracle"], "--dialect"), (["--table", "x; DROP TABLE y"], "--table"),
                        (["--series-by", "model)"], "--series-by"), (["-o", "demand.csv"], "--output"),
                        (["requests.parquet"], "SOURCES")):
        bad = cli("demand", "--sql", *args)
        assert bad.exit_code == 2 and field in bad.stderr and len(bad.stderr.splitlines()) == 1
    for args, field in (([], "SOURCES"), ([AZURE_CODE], "--output")):  # without --sql both are needed
        bad = cli("demand", *args)
        assert bad.exit_code == 2 and field in bad.stderr and len(bad.stderr.splitlines()) == 1
    with pytest.raises(InputError):
        demand_sql("requests", 60)
    assert set(DIALECTS) == {"duckdb", "spark", "bigquery", "trino"}


def test_preserve_plan_takes_the_warehouse_demand(tmp_path) -> None:
    """docs/warehouse.md's walk-through: SQL result -> demand.csv -> `preserve plan`."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from preserve_cli.plan.pipeline import default_fleet_path

    rng = np.random.default_rng(7)
    seconds = np.sort(rng.uniform(0, 3 * 86_400, 3_000))  # three days of requests
    start_us = 1_715_040_000_000_000  # 2024-05-07T00:00:00Z
    pq.write_table(pa.table({
        "ts": pa.array(start_us + (seconds * 1e6).astype(np.int64), pa.timestamp("us", tz="UTC")),
        "input_tokens": pa.array(rng.integers(50, 4_000, len(seconds))),
        "output_tokens": pa.array(rng.integers(10, 600, len(seconds))),
        "model": pa.array(["llama-3-1-8b"] * len(seconds))}), tmp_path / "requests.parquet")
    demand_file = sql_demand_file(tmp_path / "requests.parquet", demand_sql("requests", 3600, series_by="model"),
                                  tmp_path / "demand.csv")
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(default_fleet_path().read_text().replace("series: [m-large]", "series: [llama-3-1-8b]"))
    result = cli("plan", demand_file, "-f", fleet, "--horizon", "1d", "--forecast-model", "seasonal-naive-day",
                 "-o", tmp_path / "plan", "--json")
    assert result.exit_code == 0, result.stderr
    windows = json.loads(result.stdout)["windows"]
    assert len(windows) == 24 and windows[0]["start"] == "2024-05-10T00:00:00Z"
    assert (tmp_path / "plan" / "schedule.yaml").exists()
