"""Log features of a request for the feature predictor: what any ingested log carries on arrival.

Columns, in this order (the model file lists the ones it was trained with):
    ln_input_tokens   ln(1 + prompt tokens)
    hour_of_day       0..23 (UTC), only when the training log covers two days or more
    day_of_week       0 = Monday .. 6, same condition
    <label>_code      per label column present (model, service, client): index of the value in the sorted
                      training vocabulary, -1 for a value never seen in training
The calendar columns are left out of a log shorter than two days: every training row would share one or
two hours, so the trees could only learn how the load drifted within them, and a test set taken later in
time would fall outside every split.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from preserve_cli.loadpred.base import RequestBatch

SECONDS_PER_DAY = 86_400
CALENDAR_MIN_SPAN_S = 2 * SECONDS_PER_DAY
EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday (Monday = 0)
UNKNOWN_CODE = -1.0


@dataclass(frozen=True)
class FeatureSpec:
    """Which columns a feature model takes; stored in the model file so inference rebuilds them exactly."""

    calendar: bool
    vocabularies: dict[str, list[str]] = field(default_factory=dict)  # label -> sorted training values

    @property
    def columns(self) -> list[str]:
        names = ["ln_input_tokens"]
        if self.calendar:
            names += ["hour_of_day", "day_of_week"]
        return names + [f"{label}_code" for label in self.vocabularies]

    def to_dict(self) -> dict:
        return {"calendar": self.calendar, "vocabularies": self.vocabularies}

    @classmethod
    def from_dict(cls, document: dict) -> FeatureSpec:
        return cls(bool(document["calendar"]), {str(k): [str(v) for v in values]
                                                for k, values in document.get("vocabularies", {}).items()})


def _label_text(values: np.ndarray) -> np.ndarray:
    return np.array(["" if value is None else str(value) for value in values], dtype=object)


def spec_for(batch: RequestBatch) -> FeatureSpec:
    """The feature columns a training log supports (see the module docstring)."""
    span = float(batch.arrival_s.max() - batch.arrival_s.min()) if len(batch) else 0.0
    vocabularies = {label: sorted(set(_label_text(values).tolist())) for label, values in sorted(batch.labels.items())}
    return FeatureSpec(calendar=span >= CALENDAR_MIN_SPAN_S, vocabularies=vocabularies)


def feature_matrix(batch: RequestBatch, spec: FeatureSpec) -> np.ndarray:
    """float32 N x len(spec.columns), the model's input `X`."""
    x = np.empty((len(batch), len(spec.columns)), dtype=np.float32)
    x[:, 0] = np.log1p(np.maximum(batch.input_tokens, 0))
    column = 1
    if spec.calendar:
        seconds = np.floor(batch.arrival_s).astype(np.int64)
        x[:, 1] = (seconds % SECONDS_PER_DAY) // 3600
        x[:, 2] = (seconds // SECONDS_PER_DAY + EPOCH_WEEKDAY) % 7
        column = 3
    for label, vocabulary in spec.vocabularies.items():
        values = batch.labels.get(label)
        if values is None:
            x[:, column] = UNKNOWN_CODE
        else:  # position in the sorted vocabulary, -1 for a value not in it
            x[:, column] = pd.Index(vocabulary).get_indexer(_label_text(values))
        column += 1
    return x
