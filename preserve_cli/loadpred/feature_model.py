"""Train the log-feature predictor (gradient-boosted p50 and p90 of output tokens) and export it to ONNX.

Two HistGradientBoostingRegressor models with the quantile loss learn the p50 and p90 of ln(1 + output
tokens) from the columns of `features.py`; a quantile of ln(1 + y) maps back to the same quantile of y, and
the log keeps one very long answer from dominating the splits. The ONNX graph (input `X`, float32
N x columns) holds both ensembles, written with the tree converter of `preserve_cli.profile.predictor_graph`,
maps them back to tokens and outputs `p50` and `p90` (N x 1 each, p90 >= p50).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper

from preserve_cli.errors import InputError
from preserve_cli.loadpred.features import FeatureSpec, feature_matrix, spec_for
from preserve_cli.loadpred.model_file import FEATURE_KIND, ModelInfo, with_info
from preserve_cli.loadpred.requests_io import LabelledRequests
from preserve_cli.profile.predictor_graph import (
    OPSET,
    GraphBuilder,
    ensemble_from_hist_gradient_boosting,
    serialized,
    tree_ensemble_node,
)

MIN_TRAINING_REQUESTS = 200  # below this, 10% early-stopping validation plus leaves of 20 leave nothing to learn


@dataclass(frozen=True)
class BoostingSettings:
    """Gradient-boosting settings (scikit-learn's defaults except where a comment says why)."""

    max_iter: int = 200  # upper bound; early stopping on a 10% validation split picks the count
    # Inference cost grows with the number of trees. At sklearn's 0.1 the Azure 2023 conv model needed
    # 145 trees (0.47 M rows per CPU-second); at 0.3 it stops at about 50 (0.91 M rows/CPU-s), with test
    # MAE 44.45 instead of 44.82 and code 20.11 instead of 20.06 (2026-11-21 sweep; docs/loadpred.md).
    learning_rate: float = 0.3
    max_leaf_nodes: int = 31
    min_samples_leaf: int = 20
    seed: int = 0


def _fit_quantile(x: np.ndarray, y: np.ndarray, quantile: float, settings: BoostingSettings):
    from sklearn.ensemble import HistGradientBoostingRegressor
    from threadpoolctl import threadpool_limits

    model = HistGradientBoostingRegressor(
        loss="quantile", quantile=quantile, max_iter=settings.max_iter, learning_rate=settings.learning_rate,
        max_leaf_nodes=settings.max_leaf_nodes, min_samples_leaf=settings.min_samples_leaf,
        early_stopping=True, validation_fraction=0.1, n_iter_no_change=10, random_state=settings.seed)
    # One OpenMP thread: on the shared 2-core machine two threads took 12 s for what one does in 0.5 s
    # (4,000 rows; the threads spin at every split while other processes hold the cores).
    with threadpool_limits(limits=1, user_api="openmp"):
        return model.fit(x, y)


def build_graph(spec: FeatureSpec, p50_model, p90_model) -> onnx.ModelProto:
    """X -> p50, p90 in tokens (expm1 of each ensemble, clipped at 0; p90 raised to p50 where it crossed)."""
    g = GraphBuilder()
    tokens = []
    for model in (p50_model, p90_model):
        log_tokens = tree_ensemble_node(g, "X", ensemble_from_hist_gradient_boosting(model))
        tokens.append(g.maximum(g.sub(g.op("Exp", log_tokens), 1.0), 0.0))
    g.op("Identity", tokens[0], output_name="p50")
    g.op("Max", tokens[1], tokens[0], output_name="p90")
    inputs = [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, len(spec.columns)])]
    outputs = [helper.make_tensor_value_info(name, TensorProto.FLOAT, [None, 1]) for name in ("p50", "p90")]
    graph = helper.make_graph(g.nodes, "output_length_quantiles", inputs, outputs, g.initializers)
    model = helper.make_model(graph, opset_imports=OPSET, ir_version=8, producer_name="preserve")
    onnx.checker.check_model(model)
    return model


def train_feature_model(requests: LabelledRequests, settings: BoostingSettings = BoostingSettings(),
                        source: str = "") -> bytes:
    """The serialized ONNX model (deterministic bytes for the same requests and settings)."""
    if len(requests) < MIN_TRAINING_REQUESTS:
        raise InputError(f"{len(requests)} requests are too few to train on (need {MIN_TRAINING_REQUESTS})",
                         fix="give a longer log")
    spec = spec_for(requests.batch)
    x = feature_matrix(requests.batch, spec)
    y = np.log1p(np.maximum(requests.output_tokens, 0)).astype(np.float64)
    p50, p90 = (_fit_quantile(x, y, q, settings) for q in (0.5, 0.9))
    info = ModelInfo(kind=FEATURE_KIND, name="features-gbm", trained_on=source, training_requests=len(requests),
                     details={"features": spec.to_dict(), "columns": spec.columns,
                              "trees": {"p50": int(p50.n_iter_), "p90": int(p90.n_iter_)},
                              "max_leaf_nodes": settings.max_leaf_nodes, "seed": settings.seed})
    return serialized(with_info(build_graph(spec, p50, p90), info))
