"""The contract between output-length predictors and their users (the simulator's PreServe router).

A predictor sees what a router sees when a request arrives: its prompt length, arrival time, the labels the
log carries (model, service, client) and, when the log has them, the prompt text and the earlier turns of
its conversation. It never sees the output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class RequestBatch:
    """Requests as a router sees them on arrival; arrays are aligned, one entry per request."""

    input_tokens: np.ndarray  # int64, prompt tokens
    arrival_s: np.ndarray  # float64, seconds since the Unix epoch (UTC)
    labels: dict[str, np.ndarray] = field(default_factory=dict)  # "model"/"service"/"client" -> object arrays
    prompts: list[str] | None = None  # prompt text, when the log carries it
    # Earlier (user prompt, assistant reply) pairs of each request's conversation, oldest first, when the log
    # carries them (a chat request holds its whole conversation); None: every request opens a conversation.
    histories: list[tuple[tuple[str, str], ...]] | None = None

    def __len__(self) -> int:
        return int(self.input_tokens.shape[0])


@runtime_checkable
class OutputLengthPredictor(Protocol):
    """Anything that predicts output tokens per request (the router uses the median)."""

    name: str

    def predict_output_tokens(self, batch: RequestBatch) -> np.ndarray:
        """Predicted output tokens (float64, one per request, the p50)."""
        ...
