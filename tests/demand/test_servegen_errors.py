"""Bad ServeGen input: one line naming the file (and line or field) and the fix; exit 2; no output."""

from __future__ import annotations

import gzip
import json

import pytest
from servegen_folder import SYNTHETIC_DATASETS, SYNTHETIC_RATES, write_servegen
from typer.testing import CliRunner

from preserve_cli.cli.app import app
from preserve_cli.demand.servegen import demand_from_servegen
from preserve_cli.errors import InputError


def _dataset_with(input_pdf: str) -> bytes:
    document = {"0": {"input_tokens": input_pdf, "output_tokens": "{10: 1.0}"}}
    return gzip.compress(json.dumps(document).encode())


def _replace_trace_line(folder, line_no: int, text: str) -> None:
    path = folder / "chunk-0-trace.csv"
    lines = path.read_text().splitlines()
    lines[line_no - 1] = text
    path.write_text("\n".join(lines) + "\n")


# (how to break the synthetic folder, text the one-line error must contain)
BREAKAGES = {
    "short row": (lambda f: _replace_trace_line(f, 3, "1200,0.01,1.5,Gamma,0.4"),
                  ["chunk-0-trace.csv:3", "expected 6 cells", "fix:"]),
    "rate not a number": (lambda f: _replace_trace_line(f, 4, "1800,lots,1.5,Gamma,0.4,2.5"),
                          ["chunk-0-trace.csv:4", "field 'rate'", "fix:"]),
    "negative rate": (lambda f: _replace_trace_line(f, 2, "600,-0.01,1.5,Gamma,0.4,2.5"),
                      ["chunk-0-trace.csv:2", "field 'rate'", "non-negative"]),
    "header row": (lambda f: _replace_trace_line(f, 1, "timestamp_s,rate,cv,pattern,arg1,arg2"),
                   ["chunk-0-trace.csv:1", "field 'timestamp_s'"]),
    "time going back": (lambda f: _replace_trace_line(f, 3, "0,0.01,1.5,Gamma,0.4,2.5"),
                        ["chunk-0-trace.csv:3", "does not increase"]),
    "off-grid time": (lambda f: _replace_trace_line(f, 3, "1250,0.01,1.5,Gamma,0.4,2.5"),
                      ["chunk-0-trace.csv:3", "multiple of 600"]),
    "empty trace": (lambda f: (f / "chunk-1-trace.csv").write_text(""),
                    ["chunk-1-trace.csv", "empty"]),
    "not gzip": (lambda f: (f / "chunk-0-dataset.json.gz").write_bytes(b"{\"0\": {}}"),
                 ["chunk-0-dataset.json.gz", "gzip"]),
    "truncated JSON": (lambda f: (f / "chunk-0-dataset.json.gz").write_bytes(gzip.compress(b'{"0": {"input_tok')),
                       ["chunk-0-dataset.json.gz:1", "not valid JSON"]),
    "code in pdf": (lambda f: (f / "chunk-1-dataset.json.gz").write_bytes(
                        _dataset_with("{1: __import__('os').system('touch PWNED')}")),
                    ["chunk-1-dataset.json.gz", "field '0.input_tokens'", "not a Python dict literal"]),
    "negative probability": (lambda f: (f / "chunk-1-dataset.json.gz").write_bytes(_dataset_with("{1: -0.5, 2: 1.5}")),
                             ["chunk-1-dataset.json.gz", "field '0.input_tokens'", "negative probability"]),
    "pdf is a list": (lambda f: (f / "chunk-1-dataset.json.gz").write_bytes(_dataset_with("[1, 2]")),
                      ["chunk-1-dataset.json.gz", "not a dict"]),
    "fractional length": (lambda f: (f / "chunk-1-dataset.json.gz").write_bytes(_dataset_with("{1.5: 1.0}")),
                          ["chunk-1-dataset.json.gz", "whole numbers"]),
    "infinite probability": (lambda f: (f / "chunk-1-dataset.json.gz").write_bytes(_dataset_with("{1: 1e999}")),
                             ["chunk-1-dataset.json.gz", "finite"]),
    "missing output pdf": (lambda f: (f / "chunk-1-dataset.json.gz").write_bytes(
                               gzip.compress(json.dumps({"0": {"input_tokens": "{1: 1.0}"}}).encode())),
                           ["chunk-1-dataset.json.gz", "field '0.output_tokens'"]),
    "bad window key": (lambda f: (f / "chunk-1-dataset.json.gz").write_bytes(
                           gzip.compress(json.dumps({"noon": SYNTHETIC_DATASETS["1"]["0"]}).encode())),
                       ["chunk-1-dataset.json.gz", "field 'noon'", "21600"]),
}


@pytest.fixture
def broken(tmp_path, request):
    folder = write_servegen(tmp_path / "bad", SYNTHETIC_RATES, SYNTHETIC_DATASETS)
    BREAKAGES[request.param][0](folder)
    return folder, BREAKAGES[request.param][1]


@pytest.mark.parametrize("broken", sorted(BREAKAGES), indirect=True)
def test_cli_reports_bad_servegen_input_in_one_line(broken, tmp_path, monkeypatch):
    folder, expected = broken
    monkeypatch.chdir(tmp_path)
    output = tmp_path / "out" / "demand.csv"
    result = CliRunner().invoke(app, ["demand", str(folder), "--window", "1h", "-o", str(output)])
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for part in expected:
        assert part in lines[0]
    assert not output.exists() and not output.parent.exists()
    assert not (tmp_path / "PWNED").exists()


def test_folder_without_trace_files(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"empty: no chunk-N-trace.csv files .*fix:"):
        demand_from_servegen(tmp_path / "empty", 3600)


def test_no_distribution_anywhere_is_an_error_not_zero_tokens(tmp_path):
    folder = write_servegen(tmp_path / "nopdf", SYNTHETIC_RATES, {})
    with pytest.raises(InputError, match="no client with traffic has a token-length distribution"):
        demand_from_servegen(folder, 3600)


def test_cli_window_outside_10m_to_1d(synthetic, tmp_path):
    output = tmp_path / "d.csv"
    for window in ("5m", "2d", "soon"):
        result = CliRunner().invoke(app, ["demand", str(synthetic), "--window", window, "-o", str(output)])
        assert result.exit_code == 2
        assert len(result.stderr.splitlines()) == 1 and "--window" in result.stderr and "fix:" in result.stderr
    assert not output.exists()


def test_cli_window_that_does_not_divide_the_span(synthetic, tmp_path):
    result = CliRunner().invoke(app, ["demand", str(synthetic), "--window", "1d", "-o", str(tmp_path / "d.csv")])
    assert result.exit_code == 2
    assert "synth" in result.stderr and "e.g. 10m, 20m, 30m, 1h, 2h, 3h, 4h, 6h, 12h" in result.stderr
