"""Run a log-feature model (ONNX) with onnxruntime: CUDA when a GPU is there, CPU otherwise (quietly)."""

from __future__ import annotations

import numpy as np

from preserve_cli.loadpred.base import RequestBatch
from preserve_cli.loadpred.features import FeatureSpec, feature_matrix
from preserve_cli.loadpred.model_file import ModelInfo
from preserve_cli.profile.predictor_set import new_session


class FeaturePredictor:
    """Output-length p50 / p90 from log features (satisfies OutputLengthPredictor: the p50)."""

    def __init__(self, model: bytes, info: ModelInfo, *, threads: int = 0, cpu_only: bool = False) -> None:
        self.info = info
        self.name = info.name
        self.spec = FeatureSpec.from_dict(info.details["features"])
        # threads=0: all cores; batches of a whole trace are large enough to repay the thread pool.
        self._session = new_session(model, threads=threads, cpu_only=cpu_only)

    @property
    def providers(self) -> list[str]:
        return self._session.get_providers()

    def quantiles_from_features(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p50, p90 = self._session.run(["p50", "p90"], {"X": x})
        return p50[:, 0].astype(np.float64), p90[:, 0].astype(np.float64)

    def quantiles(self, batch: RequestBatch) -> tuple[np.ndarray, np.ndarray]:
        if len(batch) == 0:
            return np.zeros(0), np.zeros(0)
        return self.quantiles_from_features(feature_matrix(batch, self.spec))

    def predict_output_tokens(self, batch: RequestBatch) -> np.ndarray:
        return self.quantiles(batch)[0]
