"""A third-party emitter installed as its own package is found and used (plugins/preserve-csv-schedule).

CI installs the example plugin (see .ci/run); without it this test is skipped.
"""

from __future__ import annotations

import csv
import io

import pytest

from preserve_cli.emit.registry import available_emitters
from preserve_cli.plan.pipeline import run_plan

pytest.importorskip("preserve_csv_schedule", reason="install ./plugins/preserve-csv-schedule (CI does)")


def test_plugin_emitter_is_listed_and_renders(plan_inputs):
    infos = {info.name: info for info in available_emitters()}
    assert infos["csv"].distribution == "preserve-csv-schedule"
    run = run_plan([str(plan_inputs["forecast"])], fleet_path=str(plan_inputs["fleet"]),
                   capacity_path=str(plan_inputs["capacity"]), emit=["schedule", "csv"])
    rows = list(csv.DictReader(io.StringIO(run.files["schedule.csv"])))
    segments = run.plan.segments["h100-eastus"]
    mine = [r for r in rows if r["deployment"] == "h100-eastus"]
    assert [int(r["replicas"]) for r in mine] == [s.replicas for s in segments]
