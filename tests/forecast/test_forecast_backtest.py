"""`preserve forecast --backtest`: rows, scores, plans per model, determinism, bad flags."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from forecast_synthetic import demand_of, synthetic_series, with_values

from preserve_cli.demand.schema import write_demand
from preserve_cli.forecast import forecast_demand
from preserve_cli.forecast.backtest import Backtest, Scored, backtest_demand, score
from preserve_cli.forecast.plan_check import check_plans
from preserve_cli.forecast.schema import SeriesForecast

DAY = 24
CHEAP = "persistence,flat,seasonal-naive-day"
FLEET = """\
slo: {ttft_p99_s: 2.0, tpot_p99_ms: 100}
models:
  llama: {config: llama-3.1-8b, series: [all]}
pools:
  - {name: h100, gpu: h100-80gb, region: eastus, tp: 1, min: 0, max: %d, usd_per_hour: 3.0, cold_start_s: 120}
planning: {window: 1h, horizon: 1d, quantile: 0.9, headroom: 0.1, max_step_change: 0.5}
"""


@pytest.fixture(scope="module")
def demand():
    """Six days of hourly synthetic demand (~1000 requests/h), two hours missing on day 6."""
    series = with_values(synthetic_series(hours=6 * DAY, noise=0.2, seed=9), slice(5 * DAY + 3, 5 * DAY + 5),
                         np.nan, 0.0)
    return demand_of(series)


@pytest.fixture(scope="module")
def demand_csv(demand, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("backtest") / "demand.csv"
    write_demand(demand, path)
    return path


def scaled(series, factor: float):
    """The same series at `factor` times the traffic (plans need more than one replica)."""
    return type(series)(series.key, series.window_s, series.starts, series.coverage, series.requests * factor,
                        series.prefill_tokens * factor, series.decode_tokens * factor)


@pytest.fixture(scope="module")
def busy():
    """Four days of the synthetic pattern at ~500k requests an hour (ServeGen m-large's level)."""
    return demand_of(scaled(synthetic_series(hours=4 * DAY, noise=0.2, seed=9), 500))


def _preserve(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "preserve_cli", *args], capture_output=True, text=True, check=False)


def test_csv_rows_json_scores_and_determinism(demand_csv, tmp_path):
    runs = []
    for name in ("a.csv", "b.csv"):
        done = _preserve("forecast", str(demand_csv), "--backtest", "--horizon", "24h", "--origins", "3",
                         "--model", CHEAP, "-o", str(tmp_path / name), "--json")   # the bundled fleet serves 'all'
        assert done.returncode == 0, done.stderr
        assert done.stderr == ""
        runs.append(json.loads(done.stdout))
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert {k: v for k, v in runs[0].items() if k != "output"} == {k: v for k, v in runs[1].items() if k != "output"}
    rows = list(csv.DictReader(io.StringIO((tmp_path / "a.csv").read_text())))
    assert list(rows[0]) == ["series", "metric", "model", "chosen", "origin", "window_start", "lead", "actual",
                             "p50", "p90", "p99"]
    assert len(rows) == 3 * 3 * 3 * DAY                       # metrics x models x origins x windows
    doc = runs[0]
    assert doc["origins"] == ["2024-05-09T00:00:00Z", "2024-05-10T00:00:00Z", "2024-05-11T00:00:00Z"]
    # The two missing hours of the last day: empty actual, still forecast.
    missing = [r for r in rows if r["window_start"] in ("2024-05-11T03:00:00Z", "2024-05-11T04:00:00Z")]
    assert missing and all(r["actual"] == "" and float(r["p50"]) > 0 for r in missing)
    scores = {(s["model"], s["metric"]): s for s in doc["scores"]}
    assert set(scores) == {(m, k) for m in CHEAP.split(",") for k in ("requests", "prefill_tokens", "decode_tokens")}
    assert scores[("persistence", "requests")]["windows"] == 3 * DAY - 2
    for s in scores.values():
        assert 0 < s["wape"] < 1 and 0 <= s["coverage"]["p90"] <= s["coverage"]["p99"] <= 1
    plans = {p["model"]: p for p in doc["plan"]["models"]}
    assert set(plans) == set(CHEAP.split(",")) and all(p["gpu_hours"] > 0 for p in plans.values())


def test_human_output_has_the_score_and_plan_tables(demand_csv, tmp_path):
    done = _preserve("forecast", str(demand_csv), "--backtest", "--horizon", "12h", "--origins", "2",
                     "--model", "flat", "-o", str(tmp_path / "b.csv"))
    assert done.returncode == 0, done.stderr
    assert "WAPE" in done.stdout and "p90 cover" in done.stdout and "GPU-hours" in done.stdout


def test_a_backtest_row_is_exactly_the_forecast_from_that_origin(demand):
    # auto (the selection path) and one named model (the fallback path); a cheap one: a named
    # Prophet-based model here refit Prophet 16 more times for the same check.
    result = backtest_demand(demand, 86_400, origins=2, models=["auto", "recent-level"], metrics=("decode_tokens",))
    for scored in result.results:
        alone = forecast_demand(demand, 86_400, model=scored.model, start=scored.origin, quantiles=result.levels,
                                metrics=("decode_tokens",)).get("all", "decode_tokens")
        assert alone.model == scored.forecast.model
        for q in result.levels:
            np.testing.assert_array_equal(alone.at(q), scored.forecast.at(q))


def test_origins_every_hour_for_a_short_horizon(demand):
    result = backtest_demand(demand, 3600, origins=5, every_s=3600, models=["persistence"], metrics=("requests",))
    assert [str(o) for o in result.origins] == [f"2024-05-11T{h:02d}:00:00" for h in range(19, 24)]
    values = demand.series["all"].requests
    for scored in result.results:
        # One window ahead, persistence is the window before the origin.
        position = int((scored.origin - demand.series["all"].starts[0]) // np.timedelta64(3600, "s"))
        assert scored.forecast.at(0.5)[0] == values[position - 1]


def test_scores_are_wape_mape_and_coverage():
    start = np.datetime64("2025-01-01T00:00:00", "s")
    starts = start + np.arange(4) * np.timedelta64(3600, "s")
    forecast = SeriesForecast("s", "requests", "flat", 3600, starts,
                              {0.5: np.array([10.0, 10, 10, 10]), 0.9: np.array([12.0, 12, 12, 12])})
    item = Scored("flat", start, forecast, np.array([8.0, 11, 20, np.nan]))
    s = score([item], "flat", "requests", (0.5, 0.9))
    assert s.windows == 3
    assert s.wape == pytest.approx((2 + 1 + 10) / 39)
    assert s.mape == pytest.approx((2 / 8 + 1 / 11 + 10 / 20) / 3)
    assert s.coverage == {0.9: pytest.approx(2 / 3)}
    assert s.width == pytest.approx(1.2)


def test_plans_are_judged_against_actual_demand(busy, tmp_path):
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(FLEET % 64)
    result = backtest_demand(busy, 86_400, origins=2, models=["flat", "persistence"])
    check = check_plans(result, fleet)
    assert check.skipped == ""
    for plan in check.scores:
        assert plan.origins == 2 and plan.infeasible_origins == 0
        assert plan.windows == 2 * DAY and 0 <= plan.missed <= plan.windows
        assert plan.gpu_hours > 2 * DAY          # more than one replica an hour on average
    # A plan from a forecast scaled down 10x is smaller and misses more windows.
    shrunk = Backtest(result.window_s, result.horizon_s, result.every_s, result.origins, ["flat/10"], result.levels)
    for r in result.of("flat"):
        f = r.forecast
        shrunk.results.append(Scored("flat/10", r.origin, SeriesForecast(
            f.key, f.metric, f.model, f.window_s, f.starts, {q: v / 10 for q, v in f.quantiles.items()}), r.actual))
    (small,) = check_plans(shrunk, fleet).scores
    (full,) = [p for p in check.scores if p.model == "flat"]
    assert small.gpu_hours < full.gpu_hours and small.missed > full.missed


def test_a_forecast_the_fleet_cannot_hold_counts_as_missed_not_a_crash(busy, tmp_path):
    fleet = tmp_path / "tiny.yaml"
    fleet.write_text(FLEET % 1)
    result = backtest_demand(busy, 86_400, origins=2, models=["flat"])
    (plan,) = check_plans(result, fleet).scores
    assert plan.infeasible_origins == 2 and plan.missed == plan.windows == 2 * DAY
    assert plan.gpu_hours == 2 * DAY                 # the one pool at its max of 1, every hour
    assert "more capacity than" in plan.examples[0]


def test_plans_not_judged_when_the_fleet_has_no_series_for_the_demand(tmp_path):
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(FLEET.replace("series: [all]", "series: [chat]") % 8)
    demand = demand_of(synthetic_series("code", hours=4 * DAY), synthetic_series("web", hours=4 * DAY))
    check = check_plans(backtest_demand(demand, 86_400, origins=1, models=["flat"]), fleet)
    assert check.scores == [] and "no demand series for model 'llama'" in check.skipped


@pytest.mark.parametrize(("flags", "message"), [
    (["--start", "2024-05-09T00:00:00Z"], "--start does not go with --backtest"),
    (["--every", "90m"], "not a positive multiple of the 1h window"),
    (["--origins", "0"], "is not a positive whole number"),
    (["--horizon", "30d"], "no room for a backtest origin"),
    (["--model", "flat,arima"], "unknown forecast model 'arima'"),
    (["--planner", "magic"], "unknown planner 'magic'"),
])
def test_bad_backtest_flags_exit_2_with_one_line_and_no_output(demand_csv, tmp_path, flags, message):
    out = tmp_path / "never.csv"
    done = _preserve("forecast", str(demand_csv), "--backtest", "--horizon", "1d", "-o", str(out), *flags)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and message in done.stderr and "fix:" in done.stderr
    assert not out.exists()
