"""`preserve forecast` end to end: files, --json, determinism across processes, bad flags."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from forecast_synthetic import demand_of, synthetic_series
from typer.testing import CliRunner

from preserve_cli.cli.app import app
from preserve_cli.demand.schema import write_demand
from preserve_cli.forecast.schema import read_forecast

COLUMNS = "series,metric,window_start,window_s,model,p50,p90,p99"


@pytest.fixture(scope="module")
def demand_csv(tmp_path_factory) -> Path:
    """Two series: 'chat' with 4 days of history, 'code' with 30 hours (falls back)."""
    path = tmp_path_factory.mktemp("forecast") / "demand.csv"
    write_demand(demand_of(synthetic_series("chat", hours=96, seed=11), synthetic_series("code", hours=30, seed=12)),
                 path)
    return path


def _preserve(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "preserve_cli", *args], capture_output=True, text=True, check=False)


def test_json_run_is_one_document_and_byte_identical_across_processes(demand_csv, tmp_path):
    # The two processes run side by side: same check, half the wall time on 2 cores.
    started = [subprocess.Popen([sys.executable, "-m", "preserve_cli", "forecast", str(demand_csv), "--horizon", "1d",
                                 "--quantiles", "0.9,0.99", "-o", str(tmp_path / name), "--json"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for name in ("a.csv", "b.csv")]
    runs = []
    for process in started:
        stdout, stderr = process.communicate()
        assert process.returncode == 0, stderr
        assert stderr == ""                           # no Prophet/cmdstanpy chatter, no progress off a terminal
        runs.append(json.loads(stdout))
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    first, second = runs
    assert {k: v for k, v in first.items() if k != "output"} == {k: v for k, v in second.items() if k != "output"}
    rows = {(row["series"], row["metric"]): row for row in first["series"]}
    assert len(rows) == 6 and first["quantiles"] == ["p50", "p90", "p99"] and first["model_requested"] == "auto"
    chat = rows[("chat", "prefill_tokens")]
    assert chat["history_windows"] == 96 and chat["note"].startswith("auto: ")
    assert 0 < chat["backtest_wape"] < 1
    # 30 hours: too short for the ensemble's Prophet (2 days): auto says what it could not backtest.
    code = rows[("code", "decode_tokens")]
    assert code["model"] not in ("ensemble", "prophet", "gbm")
    assert "too little history to backtest ensemble, prophet, gbm" in code["note"]


def test_output_file_has_the_documented_columns_and_grid(demand_csv, tmp_path):
    out = tmp_path / "forecast.csv"
    result = CliRunner().invoke(app, ["forecast", str(demand_csv), "--horizon", "12h", "--quantiles", "0.5,0.9,0.99",
                                      "-o", str(out)])
    assert result.exit_code == 0, result.output
    lines = out.read_text().splitlines()
    assert lines[0] == COLUMNS
    assert len(lines) == 1 + 2 * 3 * 12
    assert lines[1].startswith("chat,requests,2024-05-10T00:00:00Z,3600,")
    forecast = read_forecast(out)
    assert str(forecast.get("code", "requests").starts[0]) == "2024-05-07T06:00:00"
    assert "backtest WAPE" in result.output


def test_a_fallback_is_flagged_in_the_table_and_explained(demand_csv, tmp_path):
    out = tmp_path / "forecast.csv"
    result = CliRunner().invoke(app, ["forecast", str(demand_csv), "--horizon", "12h", "--model", "prophet",
                                      "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert read_forecast(out).get("code", "requests").model == "seasonal-naive-day"
    # The human summary names the fallback in the row and explains it below the table.
    assert "seasonal-naive-day (fallback)" in result.output and "prophet not used" in result.output


def test_start_uses_only_the_history_before_it(demand_csv, tmp_path):
    out = tmp_path / "f.csv"
    done = _preserve("forecast", str(demand_csv), "--horizon", "1d", "--start", "2024-05-09T00:00:00Z",
                     "--model", "seasonal-naive-day", "-o", str(out), "--json")
    assert done.returncode == 0, done.stderr
    rows = {(row["series"], row["metric"]): row for row in json.loads(done.stdout)["series"]}
    assert rows[("chat", "requests")]["history_windows"] == 72
    assert rows[("chat", "requests")]["first_window"] == "2024-05-09T00:00:00Z"
    assert rows[("code", "requests")]["history_windows"] == 30   # 'code' ended before the start


@pytest.mark.parametrize(("flags", "message"), [
    (["--horizon", "90m"], "90m is not a multiple of the 1h window"),
    (["--horizon", "soon"], "cannot read duration"),
    (["--quantiles", "0.5,1.5"], "not strictly between 0 and 1"),
    (["--model", "arima"], "unknown forecast model 'arima'"),
    (["--start", "2024-05-08T00:30:00Z"], "is not on the 1h grid"),
    (["--start", "yesterday"], "cannot read timestamp"),
])
def test_bad_flags_exit_2_with_one_line_and_no_output(demand_csv, tmp_path, flags, message):
    out = tmp_path / "never.csv"
    done = _preserve("forecast", str(demand_csv), "-o", str(out), *flags)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and message in done.stderr and "fix:" in done.stderr
    assert not out.exists()


def test_missing_demand_file_is_exit_2(tmp_path):
    done = _preserve("forecast", str(tmp_path / "nope.csv"), "-o", str(tmp_path / "f.csv"))
    assert done.returncode == 2 and "nope.csv: file not found" in done.stderr
