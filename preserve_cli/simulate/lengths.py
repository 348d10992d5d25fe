"""The output length a router (and PreServe's anticipator) believes each request will have.

* `true`: the logged output length (PreServe's "w/o load error" runs);
* `noisy`: the true length plus Laplace noise of mean absolute error 78.25 tokens, PreServe's
  tier-2 predictor's MAE on ShareGPT (Table 2, §5), seeded; at least 1 token;
* a predictor object (preserve_cli.loadpred.base.OutputLengthPredictor): its p50 per request.
"""

from __future__ import annotations

import numpy as np

from preserve_cli.loadpred.base import OutputLengthPredictor, RequestBatch
from preserve_cli.simulate.workload import Workload

PRESERVE_MAE_TOKENS = 78.25
LENGTH_MODES = ("true", "noisy")


def predicted_lengths(workload: Workload, mode: str | OutputLengthPredictor, seed: int) -> np.ndarray:
    true = np.maximum(workload.output_tokens, 1).astype(np.float64)
    if mode == "true":
        return true
    if mode == "noisy":
        rng = np.random.default_rng(seed)
        # Laplace(0, b) has mean absolute value b, so b = the reported MAE.
        return np.maximum(1.0, np.rint(true + rng.laplace(0.0, PRESERVE_MAE_TOKENS, size=true.shape)))
    batch = RequestBatch(input_tokens=workload.input_tokens,
                         arrival_s=workload.start_epoch_s + workload.arrival_s * workload.time_compression,
                         labels=dict(workload.labels))
    return np.maximum(1.0, np.asarray(mode.predict_output_tokens(batch), dtype=np.float64))


def length_mode_name(mode: str | OutputLengthPredictor) -> str:
    return mode if isinstance(mode, str) else f"predictor:{mode.name}"
