"""load_demand: dispatch by source kind, demand.csv re-windowing, merging, option checks, CLI summary."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from preserve_cli.cli.app import app
from preserve_cli.data import example_demand_path
from preserve_cli.demand.schema import demand_to_csv, read_demand
from preserve_cli.demand.sources import DEMAND_CSV, REQUESTS, SERVEGEN, load_demand, source_kind
from preserve_cli.errors import InputError

HOURLY = """series,window_start,window_s,coverage,requests,prefill_tokens,decode_tokens
a,2025-01-06T22:00:00Z,3600,0.5,10,1000,100
a,2025-01-06T23:00:00Z,3600,0,,,
a,2025-01-07T00:00:00Z,3600,1,20,2000,200
a,2025-01-07T01:00:00Z,3600,1,,3000,300
"""


@pytest.fixture
def hourly_csv(tmp_path):
    path = tmp_path / "hourly.csv"
    path.write_text(HOURLY)
    return path


def test_source_kinds(synthetic, hourly_csv, tmp_path):
    (tmp_path / "log.jsonl").write_text('{"ts": 1}\n')
    bom = tmp_path / "bom.csv"
    bom.write_text("\ufeff" + HOURLY, encoding="utf-8")
    assert source_kind(synthetic) == SERVEGEN
    assert source_kind(hourly_csv) == DEMAND_CSV and source_kind(bom) == DEMAND_CSV
    assert source_kind(tmp_path / "log.jsonl") == REQUESTS
    with pytest.raises(InputError, match="nowhere.csv: file not found"):
        source_kind(tmp_path / "nowhere.csv")


def test_demand_csv_at_its_own_window_is_unchanged():
    demand, summary = load_demand(example_demand_path(), 3600)
    assert demand_to_csv(demand) == example_demand_path().read_text()
    assert summary["kind"] == "demand_csv" and summary["windows"] == 336 and summary["missing_windows"] == 0
    assert summary["requests"] == 236_892_826


def test_rewindow_example_hourly_to_daily():
    hourly = read_demand(example_demand_path()).series["m-large"]
    demand, summary = load_demand([example_demand_path()], 86_400)
    daily = demand.series["m-large"]
    assert len(daily) == 14 and str(daily.starts[0]) == "2025-01-06T00:00:00" and (daily.coverage == 1).all()
    for metric in ("requests", "prefill_tokens", "decode_tokens"):
        assert np.array_equal(daily.metric(metric), hourly.metric(metric).reshape(14, 24).sum(axis=1))
    assert summary["prefill_tokens"] == 220_207_525_607
    assert any("1h windows summed into 1d windows" in note for note in summary["notes"])


def test_rewindow_keeps_gaps_coverage_and_unknown_requests(hourly_csv):
    demand, summary = load_demand(hourly_csv, 86_400)
    day = demand.series["a"]
    assert [str(s) for s in day.starts] == ["2025-01-06T00:00:00", "2025-01-07T00:00:00"]
    # Day 1 observed half of 22:00 and none of 23:00 (or of the 22 hours before the file starts).
    assert day.coverage[0] == pytest.approx(0.5 / 24) and day.coverage[1] == pytest.approx(2 / 24)
    assert list(day.prefill_tokens) == [1000, 5000] and list(day.decode_tokens) == [100, 500]
    # 01:00 has tokens but no request count, so day 2's request count is unknown, not 20.
    assert day.requests[0] == 10 and math.isnan(day.requests[1])
    assert summary["requests"] is None and summary["prefill_tokens"] == 6000
    assert demand_to_csv(demand).splitlines()[2] == "a,2025-01-07T00:00:00Z,86400,0.083333,,5000,500"


def test_rewindow_all_missing_stays_missing(tmp_path):
    path = tmp_path / "gap.csv"
    path.write_text(HOURLY.replace("a,2025-01-06T22:00:00Z,3600,0.5,10,1000,100", "a,2025-01-06T22:00:00Z,3600,0,,,"))
    day = load_demand(path, 86_400)[0].series["a"]
    assert day.missing[0] and day.coverage[0] == 0 and not day.missing[1]


@pytest.mark.parametrize("window_s", [1800, 5400])
def test_rewindow_to_finer_or_non_multiple_window_is_refused(hourly_csv, window_s):
    expected = r"hourly.csv: field 'window_s': cannot make .* \(fix: ask for a whole multiple"
    with pytest.raises(InputError, match=expected):
        load_demand(hourly_csv, window_s)


def test_sources_merge_into_one_demand(synthetic):
    demand, summary = load_demand([synthetic, example_demand_path()], 3600)
    assert demand.keys() == ["m-large", "synth"]
    assert summary["kind"] == "mixed" and summary["windows"] == 336 + 12 and summary["missing_windows"] == 0
    assert summary["requests"] == 236_892_826 + 447
    assert summary["servegen"][0]["clients_without_dataset"] == 1


def test_same_series_twice_is_refused(synthetic, tmp_path):
    with pytest.raises(InputError, match="source given twice"):
        load_demand([synthetic, synthetic.parent / "." / synthetic.name], 3600)
    csv_path = tmp_path / "synth.csv"
    csv_path.write_text(demand_to_csv(load_demand(synthetic, 3600)[0]))
    with pytest.raises(InputError, match="series 'synth' comes from both .*synth and .*synth.csv"):
        load_demand([synthetic, csv_path], 3600)


@pytest.mark.parametrize("options, flag", [
    ({"series_by": "model"}, "--series-by"),
    ({"epoch": "2024-01-01T00:00:00Z"}, "--epoch"),
    ({"empty_windows": "zero"}, "--empty-windows"),
    ({"empty_windows": "skip"}, "--empty-windows"),
])
def test_options_a_demand_csv_cannot_honour_are_refused(hourly_csv, options, flag):
    with pytest.raises(InputError, match=f"field '{flag}'.*fix:"):
        load_demand(hourly_csv, 3600, **options)


def test_requests_sources_go_to_demand_from_requests(tmp_path):
    pytest.importorskip("preserve_cli.demand.from_requests")
    import pyarrow as pa
    import pyarrow.parquet as pq
    stamps = np.array(["2024-05-10T13:05:00", "2024-05-10T13:50:00", "2024-05-10T14:10:00"], dtype="datetime64[us]")
    table = pa.table({"ts": pa.array(stamps, type=pa.timestamp("us", tz="UTC")),
                      "input_tokens": [100, 200, 400], "output_tokens": [10, 20, 40], "model": ["m", "m", "m"]})
    path = tmp_path / "requests.parquet"
    pq.write_table(table, path)
    demand, summary = load_demand([path], 3600)
    assert summary["kind"] == "requests" and summary["sources"] == [{"path": str(path), "kind": "requests"}]
    assert summary["requests"] == 3 and summary["prefill_tokens"] == 700 and summary["decode_tokens"] == 70
    assert sum(len(s) for s in demand.series.values()) == 2


def test_cli_human_summary_and_rewindow(synthetic, tmp_path):
    output = tmp_path / "d.csv"
    result = CliRunner().invoke(app, ["demand", str(synthetic), str(example_demand_path()), "-o", str(output)],
                                env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.stderr
    for text in ("synth", "m-large", "total", "236,893,273", "note: ServeGen synth: 3 clients"):
        assert text in result.stdout
    assert len(read_demand(output).series) == 2
    daily = tmp_path / "daily.csv"
    result = CliRunner().invoke(app, ["demand", str(example_demand_path()), "--window", "1d", "-o", str(daily),
                                      "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["windows"] == 14
    assert read_demand(daily).window_s == 86_400
