"""Run a text model (ONNX: the whole tokenized prompt -> output tokens) with onnxruntime and `tokenizers`.

No torch at inference: the tokenizer is the `tokenizers` package reading the tokenizer.json stored inside the
model file, the network runs in onnxruntime (CUDA when a GPU is there, CPU otherwise, quietly).
"""

from __future__ import annotations

import numpy as np

from preserve_cli.errors import InputError
from preserve_cli.loadpred.base import RequestBatch
from preserve_cli.loadpred.model_file import ModelInfo
from preserve_cli.loadpred.text_context import TokenCountCache, Turn, history_features
from preserve_cli.loadpred.text_tokens import model_inputs
from preserve_cli.profile.predictor_set import new_session

TOKENIZER_METADATA_KEY = "preserve.tokenizer"  # tokenizer.json, stored in the model so one file is enough
HISTORY_INPUT = "history"  # models that read the conversation's earlier turns (text_context.HISTORY_COLUMNS)
# One prompt per run: the encoder's dynamic int8 quantisation scales activations per tensor, so in a
# batch a prompt's prediction would depend on its neighbours and their padding (measured: up to 40%).
BATCH_SIZE = 1


class TextPredictor:
    """Output tokens from prompt text (satisfies OutputLengthPredictor; needs `batch.prompts`)."""

    def __init__(self, model: bytes, info: ModelInfo, tokenizer_json: str, *, threads: int = 1,
                 cpu_only: bool = False) -> None:
        from tokenizers import Tokenizer

        self.info = info
        self.name = info.name
        self.tokenizer = Tokenizer.from_str(tokenizer_json)
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        # One thread by default: a router predicts one request at a time (measured faster than two on the
        # shared 2-core machine for short prompts, see docs/loadpred.md).
        self._session = new_session(model, threads=threads, cpu_only=cpu_only)
        # Models written before the history input existed read the prompt alone.
        self.reads_history = HISTORY_INPUT in {graph_input.name for graph_input in self._session.get_inputs()}
        # Counts of history messages already seen: a conversation's turns recur in each later request.
        self.history_counts = TokenCountCache()

    @property
    def providers(self) -> list[str]:
        return self._session.get_providers()

    def predict_texts(self, prompts: list[str], histories: list[tuple[Turn, ...]] | None = None,
                      batch_size: int = BATCH_SIZE) -> np.ndarray:
        """Predicted output tokens per prompt (float64), in the order given; `histories`: each prompt's earlier
        (prompt, reply) pairs, oldest first (None: every prompt opens its conversation)."""
        result = np.zeros(len(prompts), dtype=np.float64)
        if not prompts:
            return result
        history = (history_features(self.tokenizer, histories, len(prompts), self.history_counts)
                   if self.reads_history else None)
        lengths = np.array([len(prompt) for prompt in prompts])
        order = np.argsort(lengths, kind="stable")
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            inputs = model_inputs(self.tokenizer, [prompts[row] for row in rows])
            if history is not None:
                inputs[HISTORY_INPUT] = history[rows]
            (tokens,) = self._session.run(["output_tokens"], inputs)
            result[rows] = tokens[:, 0]
        return result

    def predict_output_tokens(self, batch: RequestBatch) -> np.ndarray:
        if batch.prompts is None:
            raise InputError("this predictor reads prompt text and the requests carry none",
                             field="--length-predictor", fix="use a feature model (`preserve loadpred train`)")
        return self.predict_texts(list(batch.prompts), batch.histories)
