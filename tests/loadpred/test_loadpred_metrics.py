"""Scores and the reference predictors on hand-checked numbers."""

from __future__ import annotations

import numpy as np
import pytest

from preserve_cli.loadpred.base import RequestBatch
from preserve_cli.loadpred.metrics import pinball_loss, score
from preserve_cli.loadpred.references import (
    BucketMedianPredictor,
    MeanPredictor,
    input_bucket,
)


def test_score_counts_within_25_50_100_tokens():
    actual = np.array([100, 100, 100, 100])
    predicted = np.array([100, 130, 190, 300])  # errors 0, 30, 90, 200
    s = score("x", predicted, actual)
    assert s.mae == pytest.approx(80.0)
    assert (s.acc_25, s.acc_50, s.acc_100) == (0.25, 0.5, 0.75)
    assert s.pinball_p90 is None


def test_pinball_loss_weighs_under_prediction_by_the_quantile():
    # Under-predicting by 10 costs 9 at q=0.9; over-predicting by 10 costs 1.
    assert pinball_loss(np.array([90.0]), np.array([100.0]), 0.9) == pytest.approx(9.0)
    assert pinball_loss(np.array([110.0]), np.array([100.0]), 0.9) == pytest.approx(1.0)


def test_score_refuses_mismatched_lengths():
    with pytest.raises(ValueError):
        score("x", np.array([1.0, 2.0]), np.array([1.0]))


def test_bucket_median_uses_power_of_two_prompt_buckets_and_falls_back_to_overall():
    assert input_bucket(np.array([0, 1, 2, 3, 4, 1023, 1024])).tolist() == [0, 0, 1, 1, 2, 9, 10]
    inputs = np.array([2, 3, 2, 100, 100, 100])
    outputs = np.array([10, 20, 30, 500, 600, 700])
    reference = BucketMedianPredictor.fit(inputs, outputs)
    batch = RequestBatch(np.array([3, 120, 5000]), np.zeros(3))
    p50, p90 = reference.quantiles(batch)
    assert p50.tolist() == [20.0, 600.0, float(np.median(outputs))]  # 5000 falls in a bucket never seen
    assert (p90 >= p50).all()
    assert MeanPredictor.fit(outputs).predict_output_tokens(batch).tolist() == [310.0] * 3
