"""`preserve plan` on the bundled example, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.conftest import REPO, SHARED


def preserve(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "preserve_cli", *args], capture_output=True, text=True, cwd=cwd)


@pytest.fixture(scope="module")
def example_runs(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("example")
    json_run = preserve("plan", "--json", "-o", str(base / "a"), cwd=base)
    plain_run = preserve("plan", cwd=base)  # no arguments at all: writes ./plan
    return {"base": base, "json": json_run, "plain": plain_run}


def test_plan_without_arguments_runs_on_the_bundled_example(example_runs):
    plain = example_runs["plain"]
    assert plain.returncode == 0, plain.stderr
    assert "Plan: 168 windows" in plain.stdout
    written = sorted(p.name for p in (example_runs["base"] / "plan").iterdir())
    assert written == ["keda-scaledobjects.yaml", "routing.yaml", "schedule.yaml"]


def test_every_window_has_capacity_for_its_planned_demand(example_runs):
    run = example_runs["json"]
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)  # stdout holds exactly one JSON document
    assert len(result["windows"]) == 168
    for window in result["windows"]:
        for metric in ("prefill_tokens", "decode_tokens"):
            assert window["demand"][metric] > 0
            assert window["capacity"][metric] >= window["demand"][metric], window
        assert set(window["pools"]) == {"a100-westus", "h100-eastus", "h200-centralus"}


def test_example_keda_output_validates_against_upstream_schema(example_runs):
    crd = yaml.safe_load((SHARED / "schemas" / "keda.sh_scaledobjects.yaml").read_text())
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    documents = list(yaml.safe_load_all((example_runs["base"] / "a" / "keda-scaledobjects.yaml").read_text()))
    assert len(documents) == 3
    for document in documents:
        jsonschema.validate(document, schema)


def test_two_runs_are_byte_identical(example_runs):
    first = example_runs["base"] / "a"
    second = example_runs["base"] / "plan"
    for name in ("keda-scaledobjects.yaml", "routing.yaml", "schedule.yaml"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_schedule_is_one_document_terraform_can_decode(example_runs):
    schedule = yaml.safe_load((example_runs["base"] / "a" / "schedule.yaml").read_text())
    assert schedule["schema"] == "preserve.dev/schedule/v1"
    assert schedule["deployments"]["h100-eastus"]["min_replicas"] == 2
    assert all(seg["replicas"] >= 2 for seg in schedule["deployments"]["h100-eastus"]["segments"])


def test_plan_from_logs_runs_every_stage(tmp_path):
    """Azure code trace (one hour): too short for Prophet, so the plan says it fell back."""
    pytest.importorskip("preserve_cli.demand.from_requests")
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text((REPO / "examples" / "fleet.yaml").read_text()
                     .replace("series: [m-large]", "series: [all]").replace("window: 1h", "window: 10m")
                     .replace("horizon: 7d", "horizon: 2h"))
    trace = SHARED / "data" / "traces" / "azure_llm_2023" / "AzureLLMInferenceTrace_code.csv"
    run = preserve("plan", str(trace), "--fleet", str(fleet), "-o", str(tmp_path / "out"), "--json", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["stages"] == ["demand", "forecast", "plan", "emit"]
    assert len(result["windows"]) == 12
    assert any("flat" in note or "seasonal-naive" in note for note in result["notes"])
    for window in result["windows"]:
        assert window["capacity"]["decode_tokens"] >= window["demand"]["decode_tokens"]


def test_man_page_is_current():
    from preserve_cli.cli.manpage import render_manpage

    committed = (REPO / "man" / "preserve.1").read_text()
    assert committed == render_manpage(), "man/preserve.1 is stale: python -m preserve_cli.cli.manpage > man/preserve.1"


def test_version():
    run = preserve("--version", cwd=REPO)
    assert run.returncode == 0 and run.stdout.startswith("preserve ")
