"""`preserve report`: a self-contained page that renders in real headless Chromium, and its PNGs."""

from __future__ import annotations

import io
import json
import os

import numpy as np
import pytest
from matplotlib.image import imread
from typer.testing import CliRunner

from preserve_cli.cli.app import app
from preserve_cli.demand.schema import Demand, DemandSeries, write_demand
from preserve_cli.plan.pipeline import run_plan, write_outputs
from preserve_cli.report import build_report, load_report_data
from preserve_cli.report.charts import CHARTS
from preserve_cli.report.inputs import read_backtest_scores
from tests.report.browser import find_chromium, visit

CHART_IDS = [chart.id for chart in CHARTS]

BACKTEST_CSV = """\
series,metric,model,chosen,origin,window_start,lead,actual,p50,p90
all,requests,auto,ensemble,2025-01-19T00:00:00Z,2025-01-19T00:00:00Z,1,100,90,120
all,requests,auto,ensemble,2025-01-19T00:00:00Z,2025-01-19T01:00:00Z,2,200,220,230
all,requests,auto,ensemble,2025-01-19T00:00:00Z,2025-01-19T02:00:00Z,3,,50,60
all,requests,flat,flat,2025-01-19T00:00:00Z,2025-01-19T00:00:00Z,1,100,150,160
"""

# The shape `preserve simulate compare --json` prints (a "runs" list, one record of metrics per run).
_RUN_METRICS = {"requests": 156, "p99_ttft_s": 0.59, "p99_tpot_s": 0.013, "slo_attainment": 1.0,
                "gpu_hours": 0.67, "cost_usd": 0.87, "mean_instances": 8, "peak_instances": 8, "seed": 0}
SIMULATION_JSON = {"runs": [{"scaler": "static", "router": "least-requests", **_RUN_METRICS},
                            {"scaler": "preserve", "router": "least-requests", **_RUN_METRICS, "gpu_hours": 0.41}],
                   "trace": "code.csv"}


def _require_chromium() -> None:
    """CI installs chromium (.ci/run): there a missing browser is a failure, locally a skip."""
    if find_chromium() is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed but CI is set: the report must be checked in a real browser")
        pytest.skip("chromium not installed (set CI to make this a failure)")


@pytest.fixture
def report_inputs(plan_inputs) -> dict:
    base = plan_inputs["dir"]
    run = run_plan([str(plan_inputs["forecast"])], fleet_path=str(plan_inputs["fleet"]),
                   capacity_path=str(plan_inputs["capacity"]), emit=["schedule"])
    write_outputs(run.files, base / "plan")
    # Two days of history before the plan and its first 12 hours, shaped like the forecast.
    hours = 60
    starts = (np.datetime64("2025-01-18T00:00:00") + np.arange(hours) * np.timedelta64(3600, "s")).astype("datetime64[s]")
    shape = 1 + 0.8 * np.sin(np.arange(hours) / 24 * 2 * np.pi)
    requests = shape * 3600 * 20
    series = DemandSeries("all", 3600, starts, np.ones(hours), requests, requests * 500, requests * 150)
    write_demand(Demand(3600, {"all": series}), base / "demand.csv")
    (base / "backtest.csv").write_text(BACKTEST_CSV)
    (base / "simulation.json").write_text(json.dumps(SIMULATION_JSON))
    return {**plan_inputs, "plan": base / "plan", "demand": base / "demand.csv", "backtest": base / "backtest.csv",
            "simulation": base / "simulation.json"}


def _write(inputs, name: str = "report.html"):
    out = inputs["dir"] / "out"
    result = CliRunner().invoke(app, [
        "report", str(inputs["plan"]), "--demand", str(inputs["demand"]), "--forecast", str(inputs["forecast"]),
        "--backtest", str(inputs["backtest"]), "--simulate", str(inputs["simulation"]), "-o", str(out / name),
        "--json"])
    assert result.exit_code == 0, result.output
    return out, json.loads(result.stdout)


# A DOM query run in the loaded page: per chart, the SVG drawn and how many marks it holds.
DOM_QUERY = """({
  charts: Array.from(document.querySelectorAll('figure.chart')).map(f => {
    const svg = f.querySelector('svg'); const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
    return {id: f.id, marks: svg ? svg.querySelectorAll('path, use, rect').length : 0,
            width: box.width, height: box.height};
  }),
  tables: Array.from(document.querySelectorAll('table')).map(t => [t.id, t.querySelectorAll('tbody tr').length]),
  scripts: document.querySelectorAll('script').length
})"""


def test_report_renders_in_headless_chromium(report_inputs):
    _require_chromium()
    out, result = _write(report_inputs)
    page = visit((out / "report.html").resolve().as_uri(), DOM_QUERY)
    assert page.console_errors == []
    assert page.requests == [(out / "report.html").resolve().as_uri()]  # nothing fetched: self-contained
    charts = {c["id"]: c for c in page.dom["charts"]}
    assert sorted(charts) == sorted(f"chart-{i}" for i in CHART_IDS) == sorted(f"chart-{i}" for i in result["charts"])
    for chart in charts.values():
        assert chart["marks"] > 20 and chart["width"] > 600 and chart["height"] > 200, chart
    tables = dict(page.dom["tables"])
    assert tables["plan-table"] == 3  # two deployments and the total
    assert tables["audit-table"] >= 5  # the history covers the plan's first 12 hours
    assert tables["backtest-table"] == 2  # auto and flat
    assert tables["simulation-table-0"] == 2 + len(_RUN_METRICS)  # transposed: a row per metric
    assert page.dom["scripts"] == 0
    pixels = imread(io.BytesIO(page.screenshot))
    assert pixels.shape[0] > 1500  # the full page, not one viewport
    not_white = (pixels[:, :, :3] < 0.95).any(axis=2).mean()
    colours = len(np.unique((pixels[:, :, :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0))
    assert not_white > 0.05 and colours > 50, (not_white, colours)


def test_the_browser_check_catches_a_broken_page(tmp_path):
    """The same check on a page with a script error and a missing image must fail (the test can fail)."""
    _require_chromium()
    broken = tmp_path / "broken.html"
    broken.write_text('<html><body><figure class="chart" id="chart-x"></figure><img src="chart.png">'
                      "<script>drawChart();</script></body></html>")
    page = visit(broken.as_uri(), DOM_QUERY)
    assert any("drawChart is not defined" in e for e in page.console_errors)
    assert any("ERR_FILE_NOT_FOUND" in e for e in page.console_errors)
    assert page.dom["charts"] == [{"id": "chart-x", "marks": 0, "width": 0, "height": 0}]


def test_pngs_match_the_charts_and_output_is_byte_identical(report_inputs):
    out, result = _write(report_inputs)
    pngs = sorted(p.name for p in (out / "report-charts").iterdir())
    assert pngs == sorted(f"{i}.png" for i in CHART_IDS)
    for name in pngs:
        image = imread(out / "report-charts" / name)
        assert image.shape[1] > 800 and (image[:, :, :3] < 0.9).any(axis=2).mean() > 0.01
    first = {p.name: p.read_bytes() for p in [out / "report.html", *sorted((out / "report-charts").iterdir())]}
    _write(report_inputs)
    second = {p.name: p.read_bytes() for p in [out / "report.html", *sorted((out / "report-charts").iterdir())]}
    assert first == second
    html = first["report.html"].decode()
    # No CDN, no external file: nothing to fetch (the browser test also watches the network).
    assert "<link" not in html and "<script" not in html and "<img" not in html
    assert "src=" not in html and 'href="http' not in html
    assert "<th>static / least-requests</th><th>preserve / least-requests</th>" in html  # a column per run
    assert result["pngs"] == [str(out / "report-charts" / f"{i}.png") for i in CHART_IDS]


def test_backtest_scores_are_computed_from_the_rows(report_inputs):
    scores = {(s.model, s.metric): s for s in read_backtest_scores(report_inputs["backtest"])}
    auto = scores[("auto", "requests")]
    assert auto.windows == 2  # the empty actual is not scored
    assert auto.wape == pytest.approx((10 + 20) / 300)
    assert auto.coverage == {"p90": 1.0}
    assert scores[("flat", "requests")].wape == pytest.approx(0.5)


def test_history_only_report_draws_what_it_can(report_inputs):
    data = load_report_data(demand=[str(report_inputs["demand"])])
    report = build_report(data)
    assert report.charts == ["demand-forecast"]
    assert len(report.skipped) == len(CHART_IDS) - 1


@pytest.mark.parametrize("case", ["no plan", "bad backtest", "bad simulation"])
def test_bad_input_is_one_line_and_nothing_written(report_inputs, case):
    args = ["report", str(report_inputs["plan"]), "-o", str(report_inputs["dir"] / "r.html")]
    if case == "no plan":
        args[1] = str(report_inputs["dir"] / "nowhere")
    elif case == "bad backtest":
        args += ["--backtest", str(report_inputs["fleet"])]
    else:
        (report_inputs["dir"] / "s.json").write_text("{not json")
        args += ["--simulate", str(report_inputs["dir"] / "s.json")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert not (report_inputs["dir"] / "r.html").exists()
