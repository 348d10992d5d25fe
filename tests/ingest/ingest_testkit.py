"""Helpers for the ingest tests: where the shared traces are, independent totals, the CLI."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner

from preserve_cli.cli.app import app

TRACES = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "traces"
AZURE_CODE = TRACES / "azure_llm_2023" / "AzureLLMInferenceTrace_code.csv"
AZURE_CONV = TRACES / "azure_llm_2023" / "AzureLLMInferenceTrace_conv.csv"
MOONCAKE = TRACES / "mooncake" / "synthetic_trace.jsonl"


@dataclass
class Totals:
    rows: int
    input_tokens: int
    output_tokens: int


def csv_totals(path: Path, input_column: str, output_column: str) -> Totals:
    """Counted independently of DuckDB, with Python's csv module."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return Totals(len(rows), sum(int(r[input_column]) for r in rows), sum(int(r[output_column]) for r in rows))


def jsonl_totals(path: Path, input_key: str, output_key: str) -> Totals:
    with path.open(encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle if line.strip()]
    return Totals(len(records), sum(r[input_key] for r in records), sum(r[output_key] for r in records))


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


def run_cli(*args: str | Path) -> CliResult:
    result = CliRunner().invoke(app, [str(a) for a in args])
    return CliResult(result.exit_code, result.stdout, result.stderr)
