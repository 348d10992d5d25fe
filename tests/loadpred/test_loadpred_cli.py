"""`preserve loadpred train / eval` end to end: files, --json, one-line errors with exit 2."""

from __future__ import annotations

import json

import pytest
from loadpred_synthetic import synthetic_requests, write_parquet
from typer.testing import CliRunner

from preserve_cli.cli.app import app
from preserve_cli.loadpred import load_predictor
from preserve_cli.loadpred.feature_model import train_feature_model


@pytest.fixture(scope="module")
def requests_parquet(tmp_path_factory):
    return write_parquet(synthetic_requests(rows=1500, seed=5), tmp_path_factory.mktemp("loadpred") / "r.parquet")


def _run(*args: str):
    return CliRunner().invoke(app, list(args))


def test_train_writes_a_loadable_model_and_json_is_one_document(requests_parquet, tmp_path):
    model = tmp_path / "lp.onnx"
    result = _run("loadpred", "train", str(requests_parquet), "-o", str(model), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["requests"] == 1500 and summary["features"] == ["ln_input_tokens", "model_code"]
    assert load_predictor(model).name == "features-gbm"

    evaluated = _run("loadpred", "eval", str(requests_parquet), "--model", str(model), "--json")
    assert evaluated.exit_code == 0, evaluated.output
    (evaluation,) = json.loads(evaluated.stdout)["evaluations"]
    assert [s["predictor"] for s in evaluation["scores"]] == ["features-gbm", "mean", "bucket-median"]
    assert evaluation["test_requests"] == 300


def test_eval_trains_on_the_first_part_and_prints_a_table(requests_parquet):
    result = _run("loadpred", "eval", str(requests_parquet), "--train-fraction", "0.7")
    assert result.exit_code == 0, result.output
    assert "bucket-median" in result.stdout and "first 70% train" in result.stdout


@pytest.mark.parametrize("args, names", [
    (["eval", "{parquet}", "--train-fraction", "1.5"], "--train-fraction"),
    (["eval", "{parquet}", "--model", "{tmp}/nope.onnx"], "nope.onnx"),
    (["eval", "{parquet}", "--model", "{parquet}"], "not an ONNX model"),
    (["eval-text", "--model", "{tmp}/features.onnx"], "not a text model"),
    (["eval-text", "--sharegpt", "{parquet}"], "ShareGPT"),
])
def test_bad_input_is_one_line_and_exit_2(requests_parquet, tmp_path, args, names):
    (tmp_path / "features.onnx").write_bytes(train_feature_model(synthetic_requests(rows=300)))
    args = [a.format(parquet=requests_parquet, tmp=tmp_path) for a in args]
    result = _run("loadpred", *args)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and names in lines[0]


def test_train_on_an_unreadable_log_writes_nothing(tmp_path):
    log = tmp_path / "broken.csv"
    log.write_text("not,a,log\n1,2,3\n")
    output = tmp_path / "lp.onnx"
    result = _run("loadpred", "train", str(log), "-o", str(output))
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1
    assert not output.exists()
