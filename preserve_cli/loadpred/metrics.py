"""Scores of an output-length predictor, as in PreServe's Table 2 plus the quantile (pinball) loss.

MAE and Acc-X (share of requests whose prediction is within X tokens of the truth, X = 25 / 50 / 100) are
the paper's columns (PreServe §5, Table 2); the pinball loss scores the p50 and p90 quantiles a router or a
load anticipator would reserve for.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

ACCURACY_WITHIN = (25, 50, 100)  # tokens: PreServe Table 2's Acc-25 / Acc-50 / Acc-100
QUANTILES = (0.5, 0.9)


@dataclass(frozen=True)
class LengthScores:
    """How close one predictor came on one test set (tokens; accuracies as fractions)."""

    predictor: str
    requests: int
    mae: float
    acc_25: float
    acc_50: float
    acc_100: float
    pinball_p50: float
    pinball_p90: float | None  # None when the predictor gives no p90

    def to_dict(self) -> dict:
        return asdict(self)


def pinball_loss(predicted: np.ndarray, actual: np.ndarray, quantile: float) -> float:
    """Mean quantile loss: under-prediction costs `quantile` per token, over-prediction 1 - quantile."""
    error = np.asarray(actual, dtype=np.float64) - np.asarray(predicted, dtype=np.float64)
    return float(np.mean(np.maximum(quantile * error, (quantile - 1.0) * error)))


def score(name: str, p50: np.ndarray, actual: np.ndarray, p90: np.ndarray | None = None) -> LengthScores:
    """Scores of median predictions `p50` (and optional `p90`) against the true output tokens."""
    actual = np.asarray(actual, dtype=np.float64)
    p50 = np.asarray(p50, dtype=np.float64)
    if actual.shape != p50.shape or actual.size == 0:
        raise ValueError(f"need as many predictions as requests (got {p50.shape} for {actual.shape})")
    error = np.abs(p50 - actual)
    within = {x: float(np.mean(error <= x)) for x in ACCURACY_WITHIN}
    return LengthScores(
        predictor=name, requests=int(actual.size), mae=float(error.mean()), acc_25=within[25], acc_50=within[50],
        acc_100=within[100], pinball_p50=pinball_loss(p50, actual, 0.5),
        pinball_p90=None if p90 is None else pinball_loss(p90, actual, 0.9))
