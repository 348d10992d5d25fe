"""Typed hardware and model specifications, and the quantities derived from them.

`GpuSpec` holds datasheet numbers (see catalog/gpus.yaml for the source of each);
`ModelSpec` holds the transformer shape from a Hugging Face config.json and derives
parameter count, weight bytes, KV-cache bytes per token and FLOPs per token. Both are
built from plain mappings by the `*_from_mapping` functions, which turn every bad or
missing field into an `InputError` naming the file and the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from preserve_cli.errors import InputError

GIB = 2**30

# Decoder families whose layer layout (RMSNorm, rotary attention with grouped KV heads,
# gated SiLU MLP, untied or tied LM head) the formulas below describe.
SUPPORTED_MODEL_TYPES = ("llama", "mistral", "qwen2")
# Qwen2 adds biases to the q/k/v projections (transformers' Qwen2Attention: bias=True).
_QKV_BIAS_BY_TYPE = {"llama": False, "mistral": False, "qwen2": True}
# NVIDIA data-center GPU generations the catalog covers (attention kernels differ between them).
GPU_ARCHITECTURES = ("ampere", "ada", "hopper")


@dataclass(frozen=True)
class GpuSpec:
    key: str
    name: str
    memory_gb: float
    memory_gib: float
    bf16_dense_tflops: float
    memory_bandwidth_tb_s: float
    nvlink_gb_s: float | None
    nvlink_domain: int
    pcie_gb_s: float
    # Streaming multiprocessors: GEMM tiles run in waves of sm_count (predictor feature).
    sm_count: int = 0
    architecture: str = ""
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)

    @property
    def memory_bytes(self) -> float:
        return self.memory_gib * GIB

    @property
    def peak_flops(self) -> float:
        return self.bf16_dense_tflops * 1e12

    @property
    def bandwidth_bytes_per_s(self) -> float:
        return self.memory_bandwidth_tb_s * 1e12

    def interconnect(self, tp: int) -> str:
        """Fabric a tensor-parallel group of `tp` GPUs all-reduces over."""
        if tp <= 1:
            return "none"
        if self.nvlink_gb_s and tp <= self.nvlink_domain:
            return "nvlink"
        return "pcie"

    def link_bytes_per_s(self, tp: int) -> float:
        """One-direction bandwidth per GPU (datasheets print bidirectional, hence / 2)."""
        link = self.interconnect(tp)
        if link == "none":
            return float("inf")
        gb_s = self.nvlink_gb_s if link == "nvlink" else self.pcie_gb_s
        return float(gb_s) * 1e9 / 2


@dataclass(frozen=True)
class ModelSpec:
    key: str
    hf_repo: str
    model_type: str
    num_hidden_layers: int
    hidden_size: int
    num_attention_heads: int
    num_key_value_heads: int
    intermediate_size: int
    vocab_size: int
    max_position_embeddings: int
    tie_word_embeddings: bool
    dtype_bytes: int
    head_dim: int
    source: str = field(default="", compare=False)

    @property
    def q_dim(self) -> int:
        return self.num_attention_heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        return self.num_key_value_heads * self.head_dim

    @property
    def linear_params_per_layer(self) -> int:
        """Weights of the matmuls in one decoder layer (q, k, v, o, gate, up, down)."""
        attention = self.hidden_size * (self.q_dim + 2 * self.kv_dim) + self.q_dim * self.hidden_size
        mlp = 3 * self.hidden_size * self.intermediate_size
        return attention + mlp

    @property
    def parameter_count(self) -> int:
        per_layer = self.linear_params_per_layer + 2 * self.hidden_size  # two RMSNorm weights
        if _QKV_BIAS_BY_TYPE[self.model_type]:
            per_layer += self.q_dim + 2 * self.kv_dim
        embeddings = self.vocab_size * self.hidden_size
        lm_head = 0 if self.tie_word_embeddings else embeddings
        return self.num_hidden_layers * per_layer + embeddings + lm_head + self.hidden_size  # final norm

    @property
    def weight_bytes(self) -> int:
        return self.parameter_count * self.dtype_bytes

    @property
    def kv_bytes_per_token(self) -> int:
        """K and V for every layer of the whole model (a TP group splits it across GPUs)."""
        return 2 * self.num_hidden_layers * self.kv_dim * self.dtype_bytes

    def flops_per_token(self, context_tokens: float, *, include_lm_head: bool = True) -> float:
        """Forward FLOPs for one token that attends to `context_tokens` earlier tokens.

        2 FLOPs per weight of every matmul (Kaplan et al. 2020, "Scaling Laws", C_forward ~ 2N),
        plus attention scores QK^T and the weighted sum AV: 2 * 2 * q_dim * context per layer.
        The LM head runs once per sequence in prefill (vLLM computes logits only at the last
        prompt position), so prefill callers leave it out.
        """
        matmul_params = self.num_hidden_layers * self.linear_params_per_layer
        if include_lm_head:
            matmul_params += self.vocab_size * self.hidden_size
        attention = 4 * self.num_hidden_layers * self.q_dim * context_tokens
        return 2.0 * matmul_params + attention


_MODEL_INT_FIELDS = (
    "num_hidden_layers", "hidden_size", "num_attention_heads", "num_key_value_heads",
    "intermediate_size", "vocab_size", "max_position_embeddings",
)


def _positive_int(mapping: Mapping[str, Any], name: str, *, file: str, prefix: str) -> int:
    if name not in mapping or mapping[name] is None:
        raise InputError(f"missing {name!r}", file=file, field=prefix + name,
                         fix=f"add {name} (an integer) as in the model's Hugging Face config.json")
    value = mapping[name]
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InputError(f"{value!r} is not a positive integer", file=file, field=prefix + name,
                         fix="write a positive integer")
    return value


def model_spec_from_mapping(key: str, mapping: Mapping[str, Any], *, file: str, prefix: str = "",
                            hf_repo: str = "", dtype_bytes: int = 2, source: str = "") -> ModelSpec:
    """Validate a Llama/Mistral/Qwen2-style mapping of config fields into a `ModelSpec`."""
    model_type = mapping.get("model_type")
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise InputError(f"model_type {model_type!r} is not supported", file=file, field=prefix + "model_type",
                         fix=f"use a {', '.join(SUPPORTED_MODEL_TYPES)} style model")
    values = {name: _positive_int(mapping, name, file=file, prefix=prefix) for name in _MODEL_INT_FIELDS}
    heads, kv_heads = values["num_attention_heads"], values["num_key_value_heads"]
    if heads % kv_heads:
        raise InputError(f"num_attention_heads {heads} is not a multiple of num_key_value_heads {kv_heads}",
                         file=file, field=prefix + "num_key_value_heads", fix="check the config values")
    if mapping.get("head_dim") is not None:
        head_dim = _positive_int(mapping, "head_dim", file=file, prefix=prefix)
    elif values["hidden_size"] % heads:
        raise InputError(f"hidden_size {values['hidden_size']} is not a multiple of num_attention_heads {heads}",
                         file=file, field=prefix + "hidden_size", fix="add head_dim or check the config values")
    else:
        head_dim = values["hidden_size"] // heads
    tied = mapping.get("tie_word_embeddings", False)
    if not isinstance(tied, bool):
        raise InputError(f"{tied!r} is not true/false", file=file, field=prefix + "tie_word_embeddings",
                         fix="write true or false")
    return ModelSpec(key=key, hf_repo=hf_repo, model_type=str(model_type), tie_word_embeddings=tied,
                     dtype_bytes=dtype_bytes, head_dim=head_dim, source=source, **values)


_GPU_FLOAT_FIELDS = ("memory_gb", "memory_gib", "bf16_dense_tflops", "memory_bandwidth_tb_s", "pcie_gb_s")


def gpu_spec_from_mapping(key: str, mapping: Mapping[str, Any], *, file: str) -> GpuSpec:
    prefix = f"gpus.{key}."
    values: dict[str, float] = {}
    for name in _GPU_FLOAT_FIELDS:
        value = mapping.get(name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise InputError(f"{value!r} is not a positive number", file=file, field=prefix + name,
                             fix="write the datasheet number")
        values[name] = float(value)
    nvlink = mapping.get("nvlink_gb_s")
    if nvlink is not None and (isinstance(nvlink, bool) or not isinstance(nvlink, (int, float)) or nvlink <= 0):
        raise InputError(f"{nvlink!r} is not a positive number or null", file=file, field=prefix + "nvlink_gb_s",
                         fix="write the NVLink GB/s or null when the GPU has none")
    domain = mapping.get("nvlink_domain", 1)
    if isinstance(domain, bool) or not isinstance(domain, int) or domain < 1:
        raise InputError(f"{domain!r} is not a positive integer", file=file, field=prefix + "nvlink_domain",
                         fix="write how many GPUs one NVLink fabric connects (1 when none)")
    sm_count = mapping.get("sm_count")
    if isinstance(sm_count, bool) or not isinstance(sm_count, int) or sm_count < 1:
        raise InputError(f"{sm_count!r} is not a positive integer", file=file, field=prefix + "sm_count",
                         fix="write the GPU's streaming multiprocessor count (architecture whitepaper)")
    architecture = mapping.get("architecture")
    if architecture not in GPU_ARCHITECTURES:
        raise InputError(f"{architecture!r} is not a known architecture", file=file, field=prefix + "architecture",
                         fix=f"write one of {', '.join(GPU_ARCHITECTURES)}")
    sources = mapping.get("sources")
    if not isinstance(sources, dict):
        raise InputError("missing 'sources'", file=file, field=prefix + "sources",
                         fix="cite where each number was read")
    return GpuSpec(key=key, name=str(mapping.get("name", key)), nvlink_gb_s=None if nvlink is None else float(nvlink),
                   nvlink_domain=domain, sm_count=sm_count,
                   architecture=architecture, sources={str(k): str(v) for k, v in sources.items()}, **values)
