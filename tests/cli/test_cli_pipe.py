"""Cron- and pipe-friendly `preserve`: `-o -`, --quiet, stderr for logs, exit codes, --version, completion."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml
from typer.testing import CliRunner

from preserve_cli import __version__
from preserve_cli.cli.app import app


def preserve(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "preserve_cli", *args], capture_output=True, text=True, cwd=cwd,
                          check=False)


def _plan_args(inputs) -> list[str]:
    return ["plan", str(inputs["forecast"]), "-f", str(inputs["fleet"]), "--capacity", str(inputs["capacity"])]


def cli(*args: str):
    """In-process run (CliRunner keeps stdout and stderr apart): fast, for everything but the real pipe."""
    return CliRunner().invoke(app, list(args))


def test_dash_o_piped_into_a_parser_equals_the_file(plan_inputs):
    """A real pipe: `preserve plan --emit terraform:preserve.auto.tfvars.json -o - > capacity.auto.tfvars.json`."""
    base = plan_inputs["dir"]
    piped = preserve(*_plan_args(plan_inputs), "--emit", "terraform:preserve.auto.tfvars.json", "-o", "-", cwd=base)
    assert piped.returncode == 0, piped.stderr
    written = cli(*_plan_args(plan_inputs), "--emit", "terraform", "-o", str(base / "out"))
    assert written.exit_code == 0, written.output
    on_disk = (base / "out" / "preserve.auto.tfvars.json").read_text()
    assert json.loads(piped.stdout) == json.loads(on_disk)
    assert piped.stdout == on_disk  # byte for byte: a redirect gives the same file
    assert "Plan: 24 windows" in piped.stderr  # the summary moved to stderr, out of the document's way
    assert not (base / "plan").exists()  # -o - writes no directory


@pytest.mark.parametrize("emit, file, parse", [
    ("terraform-json", "preserve.auto.tfvars.json", json.loads),  # the spelling of the tfvars document
    ("terraform-yaml", "terraform.yaml", yaml.safe_load),
    ("schedule", "schedule.yaml", yaml.safe_load),
    ("keda", "keda-scaledobjects.yaml", lambda text: list(yaml.safe_load_all(text))),
])
def test_dash_o_yaml_documents_parse_to_the_file_content(plan_inputs, emit, file, parse):
    base = plan_inputs["dir"]
    piped = cli(*_plan_args(plan_inputs), "--emit", emit, "-o", "-")
    assert piped.exit_code == 0, piped.output
    assert cli(*_plan_args(plan_inputs), "--emit", emit.split("-")[0], "-o", str(base / "out")).exit_code == 0
    on_disk = (base / "out" / file).read_text()
    assert parse(piped.stdout) == parse(on_disk) and piped.stdout == on_disk


def test_quiet_prints_nothing_but_the_document(plan_inputs, monkeypatch):
    monkeypatch.chdir(plan_inputs["dir"])
    run = cli(*_plan_args(plan_inputs), "-o", "-", "--quiet")
    assert run.exit_code == 0
    assert run.stderr == ""
    assert yaml.safe_load(run.stdout)["schema"] == "preserve.dev/schedule/v1"  # default emitter for -o -
    assert not (plan_inputs["dir"] / "plan").exists()


def test_quiet_plan_to_a_directory_is_silent(plan_inputs):
    run = cli(*_plan_args(plan_inputs), "-o", str(plan_inputs["dir"] / "q"), "-q")
    assert run.exit_code == 0 and run.stdout == "" and run.stderr == ""
    assert (plan_inputs["dir"] / "q" / "schedule.yaml").is_file()


@pytest.mark.parametrize("extra", [["--emit", "gateway"], ["--emit", "schedule,routing"], ["--json"],
                                   ["--emit", "terraform:nosuch.json"], ["--emit", "terraform"]])
def test_dash_o_refuses_what_is_not_one_document(plan_inputs, extra):
    run = cli(*_plan_args(plan_inputs), "-o", "-", *extra)
    assert run.exit_code == 2
    assert run.stdout == ""
    assert run.stderr.startswith("error: ") and run.stderr.count("\n") == 1


def test_help_documents_exit_codes_and_version():
    help_text = " ".join(cli("--help").stdout.split())
    for code in ("0 ok", "2 bad input", "3 guard refused", "4 audit threshold"):
        assert code in help_text
    assert "--install-completion" in help_text
    assert cli("--version").stdout.strip() == f"preserve {__version__}"


def test_shell_completion_completes_commands_and_flags(tmp_path):
    """What the installed completion script asks the program: bash passes the words typed so far."""
    env = {**os.environ, "_PRESERVE_COMPLETE": "complete_bash", "COMP_WORDS": "preserve plan --sca", "COMP_CWORD": "2"}
    flags = subprocess.run([sys.executable, "-m", "preserve_cli"], capture_output=True, text=True, env=env,
                           cwd=tmp_path, check=False)
    assert flags.stdout.split() == ["--scale-demand"]
    script = preserve("--show-completion", "bash", cwd=tmp_path)
    assert "_PRESERVE_COMPLETE" in script.stdout and "complete " in script.stdout
