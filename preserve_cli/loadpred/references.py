"""Reference predictors a learned one must beat (issue 8): "predict the mean" and "predict the median for
this input-length bucket". Both satisfy OutputLengthPredictor, so the simulator can run them too."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from preserve_cli.loadpred.base import RequestBatch


@dataclass(frozen=True)
class MeanPredictor:
    """Every request gets the training mean (also as its p90: the mean carries no spread)."""

    mean: float
    name: str = "mean"

    @classmethod
    def fit(cls, output_tokens: np.ndarray) -> MeanPredictor:
        return cls(float(np.mean(output_tokens)))

    def quantiles(self, batch: RequestBatch) -> tuple[np.ndarray, np.ndarray]:
        values = np.full(len(batch), self.mean)
        return values, values

    def predict_output_tokens(self, batch: RequestBatch) -> np.ndarray:
        return self.quantiles(batch)[0]


def input_bucket(input_tokens: np.ndarray) -> np.ndarray:
    """Power-of-two buckets of prompt length: 0 for 0-1 tokens, k for [2^k, 2^(k+1))."""
    return np.floor(np.log2(np.maximum(np.asarray(input_tokens, dtype=np.float64), 1.0))).astype(np.int64)


@dataclass(frozen=True)
class BucketMedianPredictor:
    """The training median (and p90) of output tokens among requests with a prompt in the same
    power-of-two length bucket; a bucket never seen in training gets the overall median and p90."""

    buckets: dict[int, tuple[float, float]]  # bucket -> (p50, p90)
    overall: tuple[float, float]
    name: str = "bucket-median"

    @classmethod
    def fit(cls, input_tokens: np.ndarray, output_tokens: np.ndarray) -> BucketMedianPredictor:
        bucket = input_bucket(input_tokens)
        output_tokens = np.asarray(output_tokens, dtype=np.float64)
        table = {int(b): tuple(float(v) for v in np.quantile(output_tokens[bucket == b], (0.5, 0.9)))
                 for b in np.unique(bucket)}
        return cls(table, tuple(float(v) for v in np.quantile(output_tokens, (0.5, 0.9))))

    def quantiles(self, batch: RequestBatch) -> tuple[np.ndarray, np.ndarray]:
        bucket = input_bucket(batch.input_tokens)
        p50, p90 = np.full(len(batch), self.overall[0]), np.full(len(batch), self.overall[1])
        for b, (median, high) in self.buckets.items():
            rows = bucket == b
            p50[rows], p90[rows] = median, high
        return p50, p90

    def predict_output_tokens(self, batch: RequestBatch) -> np.ndarray:
        return self.quantiles(batch)[0]
