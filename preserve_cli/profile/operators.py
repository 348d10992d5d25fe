"""The operators of one decoder layer, and their shapes per tensor-parallel shard.

The predictors learn time from an operator's SHAPE, never from a model name: each row they
see or answer is (operator, num_tokens, in_dim, out_dim). For a GEMM, in_dim x out_dim is the
weight matrix one TP shard multiplies by; for the other operators in_dim is the number of
elements read and out_dim the number written per token. The operator names and their order
are those of vidur's profiles (`time_stats.<op>.median` columns of compute/*/mlp.csv), so a
measured row and a predicted row mean the same thing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from preserve_cli.profile.specs import ModelSpec

# Index order is part of the ONNX predictors' input contract (column 0); never reorder.
OPERATORS = (
    "attn_pre_proj",             # 0  GEMM: hidden -> q, k, v
    "attn_post_proj",            # 1  GEMM: attention output -> hidden
    "mlp_up_proj",               # 2  GEMM: hidden -> (gate +) up
    "mlp_down_proj",             # 3  GEMM: intermediate -> hidden
    "input_layernorm",           # 4  the rest are element-wise or row-wise kernels
    "post_attention_layernorm",  # 5
    "attn_rope",                 # 6
    "mlp_act",                   # 7
    "add",                       # 8
    "emb",                       # 9  embedding lookup: once per iteration, not per layer
)
GEMM_COUNT = 4  # operators 0..3 are matrix multiplications
OPERATOR_INDEX = {name: index for index, name in enumerate(OPERATORS)}
# What `dense_ms_per_layer` sums: the nine per-layer operators of the measured CSVs.
DENSE_OPERATORS = OPERATORS[:9]


@dataclass(frozen=True)
class LayerDims:
    """The numbers that fix every operator shape of one decoder layer."""

    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    gated_mlp: bool

    @classmethod
    def of_model(cls, model: ModelSpec) -> LayerDims:
        # Every supported family (Llama, Mistral, Qwen2) has a gated SiLU MLP.
        return cls(model.hidden_size, model.num_attention_heads, model.num_key_value_heads, model.head_dim,
                   model.intermediate_size, True)


def operator_shapes(dims: LayerDims, tp: int) -> dict[str, tuple[float, float]]:
    """(in_dim, out_dim) of each operator on one of `tp` shards (Megatron-style TP as in vLLM)."""
    q = dims.heads * dims.head_dim / tp
    # vLLM replicates KV heads when tp exceeds them: each shard then keeps one.
    kv = math.ceil(dims.kv_heads / tp) * dims.head_dim
    up = (2 if dims.gated_mlp else 1) * dims.intermediate / tp
    h = float(dims.hidden)
    return {
        "attn_pre_proj": (h, q + 2 * kv),
        "attn_post_proj": (q, h),
        "mlp_up_proj": (h, up),
        "mlp_down_proj": (dims.intermediate / tp, h),
        "input_layernorm": (h, h),
        "post_attention_layernorm": (h, h),
        "attn_rope": (q + kv, q + kv),          # rotates q and k
        "mlp_act": (up, dims.intermediate / tp),  # SiLU(gate) * up, or the activation alone
        "add": (2 * h, h),                      # residual: two inputs, one output
        "emb": (h, h),
    }


def operator_rows(shapes: dict[str, tuple[float, float]], tokens: np.ndarray,
                  operators: tuple[str, ...] = OPERATORS) -> np.ndarray:
    """Predictor input rows (operator index, tokens, in, out), operator-major: row k*len(tokens)+i."""
    tokens = np.asarray(tokens, dtype=np.float64)
    blocks = []
    for name in operators:
        in_dim, out_dim = shapes[name]
        block = np.empty((len(tokens), 4))
        block[:, 0] = OPERATOR_INDEX[name]
        block[:, 1] = tokens
        block[:, 2] = in_dim
        block[:, 3] = out_dim
        blocks.append(block)
    return np.concatenate(blocks) if blocks else np.empty((0, 4))
