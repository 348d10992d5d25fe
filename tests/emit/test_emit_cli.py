"""`preserve plan --emit keda,aibrix,hpa,gateway,karpenter,terraform` and `preserve emitters`, as a
user runs them; reruns give byte-identical files."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from preserve_cli.cli.app import app
from preserve_cli.emit.registry import render_all
from preserve_cli.plan.pipeline import run_plan
from tests.emit.conftest import ALL_EMITTERS

NEW_EMITTERS = ["aibrix", "hpa", "gateway", "karpenter", "terraform"]


def test_emitters_lists_the_new_emitters():
    result = CliRunner().invoke(app, ["emitters", "--json"])
    assert result.exit_code == 0, result.output
    listed = {entry["name"]: entry for entry in json.loads(result.stdout)}
    for name in NEW_EMITTERS:
        assert listed[name]["distribution"] == "preserve-cli"
        assert listed[name]["module"].startswith(f"preserve_cli.emit.{name}:")


def test_plan_emits_every_chosen_format(plan_inputs, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(app, [
        "plan", str(plan_inputs["forecast"]), "--fleet", str(plan_inputs["fleet"]),
        "--capacity", str(plan_inputs["capacity"]), "-o", str(out),
        "--emit", "keda,aibrix,hpa,gateway,karpenter,terraform", "--json"])
    assert result.exit_code == 0, result.output
    reported = json.loads(result.stdout)["files"]
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert sorted(str(Path(p).relative_to(out)) for p in reported) == written
    top = {name for name in written if "/" not in name}
    assert top == {"keda-scaledobjects.yaml", "aibrix-podautoscalers.yaml", "hpa.yaml", "karpenter-nodepools.yaml",
                   "terraform.yaml", "preserve.auto.tfvars.json"}
    assert {"gateway/inferencepools.yaml", "gateway/httproutes.yaml"} <= set(written)
    assert sum(name.startswith("gateway/windows/") for name in written) == 24
    assert "schedule.yaml" not in written  # only what --emit asked for


def test_two_renders_are_byte_identical(multi_run):
    plan = multi_run.plan
    again = render_all(plan, ALL_EMITTERS)
    assert again == multi_run.files


def test_two_runs_from_the_same_inputs_are_byte_identical(plan_inputs):
    runs = [run_plan([str(plan_inputs["forecast"])], fleet_path=str(plan_inputs["fleet"]),
                     capacity_path=str(plan_inputs["capacity"]), emit=ALL_EMITTERS) for _ in range(2)]
    assert runs[0].files == runs[1].files
    assert set(runs[0].files) > {"terraform.yaml", "aibrix-podautoscalers.yaml"}
