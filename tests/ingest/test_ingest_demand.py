"""demand_from_requests: token demand per series and window, from logs or requests Parquet."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from preserve_cli.demand.from_requests import demand_from_requests
from preserve_cli.demand.schema import read_demand, write_demand
from preserve_cli.errors import InputError
from preserve_cli.ingest import ingest_logs

from ingest_testkit import AZURE_CODE, AZURE_CONV, csv_totals

# First and last request of the code trace: 18:17:03.979960 and 19:14:19.928016 (UTC).
FIRST_S = 17 * 60 + 3.979960
LAST_S = 14 * 60 + 19.928016


@pytest.fixture(scope="module")
def code_parquet(tmp_path_factory):
    path = tmp_path_factory.mktemp("requests") / "code.parquet"
    ingest_logs(AZURE_CODE, path)
    return path


def test_hourly_on_the_azure_code_trace(code_parquet) -> None:
    totals = csv_totals(AZURE_CODE, "ContextTokens", "GeneratedTokens")
    for source in (AZURE_CODE, code_parquet):
        demand = demand_from_requests([source], 3600)
        assert list(demand.series) == ["all"]
        hourly = demand.series["all"]
        assert [str(s) for s in hourly.starts] == ["2023-11-16T18:00:00", "2023-11-16T19:00:00"]
        assert hourly.prefill_tokens.sum() == totals.input_tokens == 18_059_974
        assert hourly.decode_tokens.sum() == totals.output_tokens
        assert hourly.requests.sum() == totals.rows
        assert hourly.coverage[0] == pytest.approx((3600 - FIRST_S) / 3600, abs=1e-9)
        assert hourly.coverage[1] == pytest.approx(LAST_S / 3600, abs=1e-9)


def test_ten_minute_windows(code_parquet) -> None:
    demand = demand_from_requests(code_parquet, 600)
    tenth = demand.series["all"]
    assert len(tenth) == 7 and str(tenth.starts[0]) == "2023-11-16T18:10:00"
    assert tenth.prefill_tokens.sum() == 18_059_974
    assert tenth.coverage[0] == pytest.approx((600 - (FIRST_S - 600)) / 600, abs=1e-9)
    assert tenth.coverage[-1] == pytest.approx((LAST_S - 600) / 600, abs=1e-9)
    assert (tenth.coverage[1:-1] == 1).all()
    assert not tenth.missing.any()


def test_sum_invariant_over_several_logs_and_windows() -> None:
    total = csv_totals(AZURE_CODE, "ContextTokens", "GeneratedTokens").input_tokens + \
            csv_totals(AZURE_CONV, "ContextTokens", "GeneratedTokens").input_tokens
    for window in (600, 1800, 3600, 86_400):
        demand = demand_from_requests([AZURE_CODE, AZURE_CONV], window)
        assert np.nansum(demand.series["all"].prefill_tokens) == total == 40_421_844


GAPPY = ("time,prompt,completion,llm\n"
         "2024-05-10T00:30:00Z,100,10,a\n"
         "2024-05-10T00:40:00Z,50,5,b\n"
         "2024-05-10T01:15:00Z,200,20,a\n"
         # 02:00-03:00: no request from any model
         "2024-05-10T03:00:00Z,300,30,a\n"
         "2024-05-10T03:30:00Z,70,7,b\n")
GAPPY_MAP = {"mapping": "ts=time,input=prompt,output=completion,model=llm"}


def test_empty_hour_is_a_gap_by_default(write) -> None:
    log = write("gappy.csv", GAPPY)
    demand = demand_from_requests(log, 3600, series_by=[], ingest_options=GAPPY_MAP)
    one = demand.series["all"]
    assert [str(s)[11:16] for s in one.starts] == ["00:00", "01:00", "02:00", "03:00"]
    assert one.missing.tolist() == [False, False, True, False]
    assert math.isnan(one.prefill_tokens[2]) and one.coverage[2] == 0
    assert np.nansum(one.prefill_tokens) == 720
    assert any("1 of 4 window(s) had no request" in note and "gap" in note for note in demand.notes)


def test_empty_hour_is_zero_when_asked(write) -> None:
    log = write("gappy.csv", GAPPY)
    demand = demand_from_requests(log, 3600, series_by=[], empty_windows="zero", ingest_options=GAPPY_MAP)
    one = demand.series["all"]
    assert one.prefill_tokens.tolist() == [150, 200, 0, 370]
    assert one.coverage[2] == 1 and not one.missing.any()
    assert any("zero demand" in note for note in demand.notes)


def test_series_by_model(write) -> None:
    log = write("gappy.csv", GAPPY)
    demand = demand_from_requests(log, 3600, series_by="model", ingest_options=GAPPY_MAP)
    assert demand.keys() == ["a", "b"]
    a, b = demand.series["a"], demand.series["b"]
    assert a.prefill_tokens[[0, 1, 3]].tolist() == [100, 200, 300]
    # model b is silent at 01:00 while a has traffic: zero for b, not missing
    assert b.prefill_tokens[1] == 0 and not b.missing[1]
    # 02:00 is silent for everyone: missing for both
    assert a.missing[2] and b.missing[2]
    assert np.nansum(a.prefill_tokens) + np.nansum(b.prefill_tokens) == 720
    # the default series key is the model column when there is one
    assert demand_from_requests(log, 3600, ingest_options=GAPPY_MAP).keys() == ["a", "b"]


def test_demand_round_trips_through_demand_csv(write, tmp_path) -> None:
    log = write("gappy.csv", GAPPY)
    demand = demand_from_requests(log, 600, ingest_options=GAPPY_MAP)
    write_demand(demand, tmp_path / "demand.csv")
    again = read_demand(tmp_path / "demand.csv")
    assert again.keys() == ["a", "b"]
    for key in again.keys():
        assert np.array_equal(again.series[key].missing, demand.series[key].missing)
        assert np.nansum(again.series[key].prefill_tokens) == np.nansum(demand.series[key].prefill_tokens)


def test_bad_rows_in_a_raw_log_follow_on_error(write) -> None:
    log = write("bad.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n"
                           "2024-05-10 00:00:00,10,1\n2024-05-10 00:10:00,-1,1\n2024-05-10 00:20:00,5,1\n")
    with pytest.raises(InputError, match=r"bad\.csv:3.*negative"):
        demand_from_requests(log, 3600)
    demand = demand_from_requests(log, 3600, ingest_options={"on_error": "skip"})
    assert demand.series["all"].prefill_tokens.tolist() == [15]
    assert any("negative_tokens 1" in note and "bad.csv:3" in note for note in demand.notes)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"window_s": 300}, "window"), ({"window_s": 90_000}, "window"),
    ({"window_s": 3600, "empty_windows": "ignore"}, "empty_windows"),
    ({"window_s": 3600, "series_by": "region"}, "series_by"),
])
def test_bad_arguments(code_parquet, kwargs, field) -> None:
    with pytest.raises(InputError) as error:
        demand_from_requests(code_parquet, **kwargs)
    assert error.value.field == field


def test_requests_parquet_with_an_unusable_row_is_refused(tmp_path) -> None:
    table = pa.table({"ts": pa.array([0, 1_000_000, 2_000_000], pa.timestamp("us", tz="UTC")),
                      "input_tokens": pa.array([5, -1, 7], pa.int64()),
                      "output_tokens": pa.array([1, 1, 1], pa.int64())})
    pq.write_table(table, tmp_path / "hand.parquet")
    with pytest.raises(InputError, match=r"hand\.parquet: row 2 .*negative"):
        demand_from_requests(tmp_path / "hand.parquet", 3600)
    pq.write_table(table.drop_columns(["output_tokens"]), tmp_path / "short.parquet")
    with pytest.raises(InputError, match="no column 'output_tokens'"):
        demand_from_requests(tmp_path / "short.parquet", 3600)
