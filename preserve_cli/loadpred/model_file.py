"""What a loadpred ONNX file says about itself: kind, name, training data, feature spec (metadata_props).

A model file is plain ONNX; one metadata entry, `preserve.loadpred`, holds a JSON document so that
`load_predictor(path)` knows which predictor class runs it and how to build its inputs.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import onnx

from preserve_cli.errors import InputError

METADATA_KEY = "preserve.loadpred"
FEATURE_KIND = "features"
TEXT_KIND = "text"
KINDS = (FEATURE_KIND, TEXT_KIND)


@dataclass(frozen=True)
class ModelInfo:
    """The metadata document of a loadpred model file."""

    kind: str  # "features" (log features -> p50, p90) or "text" (prompt tokens -> length)
    name: str  # predictor name shown in reports
    trained_on: str  # where the training data came from
    training_requests: int
    details: dict = field(default_factory=dict)  # kind-specific: feature spec, tokenizer, ...

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))


def with_info(model: onnx.ModelProto, info: ModelInfo) -> onnx.ModelProto:
    """The model with its metadata entry set (replacing an older one)."""
    kept = [prop for prop in model.metadata_props if prop.key != METADATA_KEY]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, info.to_json()
    return model


def read_info(model: onnx.ModelProto, path: str | Path) -> ModelInfo:
    """The metadata of a loaded model; InputError when it is not a loadpred model."""
    for prop in model.metadata_props:
        if prop.key == METADATA_KEY:
            document = json.loads(prop.value)
            if document.get("kind") in KINDS:
                return ModelInfo(**document)
    raise InputError("not an output-length model (no preserve.loadpred metadata)", file=path,
                     fix="give a model written by `preserve loadpred train` or `train-text`")


def load_model_file(path: str | Path) -> tuple[onnx.ModelProto, ModelInfo]:
    """Read an ONNX file and its loadpred metadata."""
    path = Path(path)
    if not path.is_file():
        raise InputError("model file not found", file=path, fix="check the path (train one with "
                                                                "`preserve loadpred train`)")
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # protobuf raises DecodeError and friends for a file that is not ONNX
        raise InputError(f"not an ONNX model ({type(exc).__name__})", file=path,
                         fix="give a model written by `preserve loadpred train` or `train-text`") from exc
    return model, read_info(model, path)


def load_model_bytes(data: bytes) -> ModelInfo:
    """The metadata of a serialized model held in memory (one just trained)."""
    return read_info(onnx.load_from_string(data), "<in memory>")
