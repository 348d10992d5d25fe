"""The log-feature predictor: ONNX export, determinism, quantiles, labels, loading, the Azure 2023 evaluation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from loadpred_synthetic import synthetic_requests

from preserve_cli.errors import InputError
from preserve_cli.loadpred import OutputLengthPredictor, RequestBatch, load_predictor
from preserve_cli.loadpred.evaluate import evaluate_features
from preserve_cli.loadpred.feature_model import (
    BoostingSettings,
    _fit_quantile,
    build_graph,
    train_feature_model,
)
from preserve_cli.loadpred.feature_predictor import FeaturePredictor
from preserve_cli.loadpred.features import feature_matrix, spec_for
from preserve_cli.loadpred.model_file import load_model_bytes
from preserve_cli.loadpred.requests_io import read_any_requests
from preserve_cli.profile.predictor_set import new_session

AZURE_2023 = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "traces" / "azure_llm_2023"


@pytest.fixture(scope="module")
def trained() -> tuple[bytes, object]:
    requests = synthetic_requests()
    return train_feature_model(requests, source="synthetic"), requests


def test_onnx_graph_reproduces_the_fitted_trees():
    requests = synthetic_requests(rows=1500, seed=3)
    spec = spec_for(requests.batch)
    x = feature_matrix(requests.batch, spec)
    y = np.log1p(requests.output_tokens)
    p50, p90 = (_fit_quantile(x, y, q, BoostingSettings(max_iter=30)) for q in (0.5, 0.9))
    session = new_session(build_graph(spec, p50, p90).SerializeToString(), cpu_only=True)
    onnx_p50, onnx_p90 = session.run(["p50", "p90"], {"X": x})
    np.testing.assert_allclose(onnx_p50[:, 0], np.expm1(p50.predict(x)), rtol=1e-4)
    np.testing.assert_allclose(onnx_p90[:, 0], np.maximum(np.expm1(p90.predict(x)), onnx_p50[:, 0]), rtol=1e-4)


def test_same_log_gives_byte_identical_model(trained):
    data, requests = trained
    assert train_feature_model(requests, source="synthetic") == data


def test_learns_the_label_and_prompt_length_and_beats_both_references(tmp_path):
    evaluation = evaluate_features(synthetic_requests(), "synthetic")
    model, mean, bucket = evaluation.scores
    assert (mean.predictor, bucket.predictor) == ("mean", "bucket-median")
    # The label halves the spread the references cannot see: the model must be far better than both.
    assert model.mae < 0.5 * bucket.mae and model.mae < 0.5 * mean.mae
    assert model.acc_100 > 0.9


def test_quantiles_are_ordered_and_unknown_labels_still_predict(trained):
    data, _ = trained
    predictor = FeaturePredictor(data, load_model_bytes(data), cpu_only=True)
    batch = RequestBatch(np.array([100, 3000, 3000]), np.full(3, 1.7e9),
                         {"model": np.array(["terse", "chatty", "never-seen"], dtype=object)})
    p50, p90 = predictor.quantiles(batch)
    assert (p90 >= p50).all() and (p50 > 0).all()
    assert p50[1] > 2.5 * p50[0]  # chatty with a long prompt vs terse with a short one
    assert predictor.spec.columns == ["ln_input_tokens", "model_code"]  # one hour of log: no calendar columns


def test_calendar_columns_need_two_days_of_log():
    requests = synthetic_requests(rows=300)
    two_days = RequestBatch(requests.batch.input_tokens, np.linspace(0, 3 * 86_400, 300), {})
    spec = spec_for(two_days)
    assert spec.columns == ["ln_input_tokens", "hour_of_day", "day_of_week"]
    x = feature_matrix(RequestBatch(np.array([1]), np.array([86_400.0 * 4 + 7200.5])), spec)  # Mon 1970-01-05 02:00
    assert x[0, 1:].tolist() == [2.0, 0.0]


def test_load_predictor_reads_a_written_model_and_refuses_other_files(trained, tmp_path):
    data, requests = trained
    path = tmp_path / "loadpred.onnx"
    path.write_bytes(data)
    predictor = load_predictor(path)
    assert isinstance(predictor, OutputLengthPredictor)
    assert predictor.providers == ["CPUExecutionProvider"]  # no GPU on CI: CPU, quietly
    out = predictor.predict_output_tokens(requests.batch)
    assert out.dtype == np.float64 and out.shape == (len(requests),)
    plain = tmp_path / "plain.onnx"
    model = onnx.load_from_string(data)
    del model.metadata_props[:]
    plain.write_bytes(model.SerializeToString())
    for bad in (plain, tmp_path / "missing.onnx", Path(__file__)):
        with pytest.raises(InputError):
            load_predictor(bad)


def test_too_few_requests_is_a_one_line_input_error():
    with pytest.raises(InputError, match="too few"):
        train_feature_model(synthetic_requests(rows=50))


def test_azure_2023_conv_time_split_beats_both_references():
    """Issue 8: first 80% of the conversation trace to train, last 20% to test."""
    evaluation = evaluate_features(read_any_requests(AZURE_2023 / "AzureLLMInferenceTrace_conv.csv"), "conv")
    model, mean, bucket = evaluation.scores
    assert evaluation.test_requests == 3873
    assert model.mae < bucket.mae < mean.mae
    assert model.mae < 0.7 * bucket.mae  # measured 44.8 vs 75.3 tokens
