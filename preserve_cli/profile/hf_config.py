"""Read a Hugging Face `config.json` (Llama / Mistral / Qwen2 style) as a `ModelSpec`.

Lets a user size a model that is not in the catalog: `preserve profile --model path/config.json`.
Defaults follow transformers' LlamaConfig where a field may legitimately be absent:
`num_key_value_heads` = `num_attention_heads` (no GQA, as in Llama-1 configs) and
`tie_word_embeddings` = false. Every other field is required.
"""

from __future__ import annotations

import json
from pathlib import Path

from preserve_cli.errors import InputError
from preserve_cli.fileio import read_input_text
from preserve_cli.profile.specs import ModelSpec, model_spec_from_mapping

# Checkpoint dtypes vLLM serves in 16 bits with its default `--dtype auto` (float32 checkpoints
# are cast down to 16-bit: vllm/config.py _get_and_verify_dtype). Each weight and each KV
# element then takes 2 bytes.
_SIXTEEN_BIT_SERVED = {"bfloat16", "float16", "float32"}


def read_hf_config(path: str | Path) -> ModelSpec:
    file = str(path)
    text = read_input_text(path, expected="a catalog model name (see `preserve profile models`) "
                           "or a Hugging Face config.json path")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON ({exc.msg})", file=file, line=exc.lineno, fix="fix the JSON syntax") from None
    if not isinstance(document, dict):
        raise InputError("expected a JSON object", file=file, fix="pass a Hugging Face config.json")
    fields = dict(document)
    if fields.get("num_key_value_heads") is None and "num_attention_heads" in fields:
        fields["num_key_value_heads"] = fields["num_attention_heads"]
    dtype = fields.get("torch_dtype", "bfloat16")
    if dtype not in _SIXTEEN_BIT_SERVED:
        raise InputError(f"torch_dtype {dtype!r} is not supported", file=file, field="torch_dtype",
                         fix="use a bfloat16, float16 or float32 checkpoint (quantized models are not modelled)")
    name_or_path = fields.get("_name_or_path")
    key = Path(path).parent.name if Path(path).name == "config.json" and Path(path).parent.name else Path(path).stem
    return model_spec_from_mapping(
        key, fields, file=file, hf_repo=name_or_path if isinstance(name_or_path, str) else "",
        dtype_bytes=2, source=f"config.json at {file}",
    )
