"""Per-request output-length prediction (PreServe's tier 2): from log features or prompt text.

* `load_predictor(path) -> OutputLengthPredictor`: a model file written by `preserve loadpred train`
  (log features -> p50/p90) or `train-text` (prompt text -> length), or `builtin:text` for the text model
  shipped in the package.
* `train_feature_model(requests) -> bytes` (feature_model), `evaluate_features` / `evaluate_text` (evaluate).
"""

from __future__ import annotations

from pathlib import Path

from preserve_cli.errors import InputError
from preserve_cli.loadpred.base import OutputLengthPredictor, RequestBatch
from preserve_cli.loadpred.model_file import FEATURE_KIND, load_model_file

SHIPPED_MODELS = Path(__file__).resolve().parent / "models"
BUILTIN_PREFIX = "builtin:"


def resolve_model_path(path: str | Path) -> Path:
    """`builtin:<name>` -> the model shipped in the package (models/<name>.onnx); anything else as given."""
    text = str(path)
    if text.startswith(BUILTIN_PREFIX):
        return SHIPPED_MODELS / f"{text[len(BUILTIN_PREFIX):]}.onnx"
    return Path(path)


def load_predictor(path: str | Path, *, threads: int | None = None, cpu_only: bool = False) -> OutputLengthPredictor:
    """The predictor a loadpred model file holds (InputError when the file is not one)."""
    from preserve_cli.loadpred.feature_predictor import FeaturePredictor
    from preserve_cli.loadpred.text_predictor import (
        TOKENIZER_METADATA_KEY,
        TextPredictor,
    )

    path = resolve_model_path(path)
    model, info = load_model_file(path)
    data = model.SerializeToString()
    if info.kind == FEATURE_KIND:
        return FeaturePredictor(data, info, threads=0 if threads is None else threads, cpu_only=cpu_only)
    tokenizer = {prop.key: prop.value for prop in model.metadata_props}.get(TOKENIZER_METADATA_KEY)
    if tokenizer is None:
        raise InputError("text model without its tokenizer (no preserve.tokenizer metadata)", file=path,
                         fix="rebuild it with `preserve loadpred train-text`")
    return TextPredictor(data, info, tokenizer, threads=1 if threads is None else threads, cpu_only=cpu_only)


__all__ = ["OutputLengthPredictor", "RequestBatch", "load_predictor", "resolve_model_path"]
