"""Time of one continuous-batching iteration, from the ONNX operator predictors.

    iteration = layers x (dense + attention + TP all-reduce) + embedding + final norm + LM head
                + CPU overhead

* dense (`dense_ms_per_layer`): the nine per-layer operators of vidur's profiles, predicted for
  the iteration's token count from the operator shapes of the model (operators.py);
* attention, per layer and TP shard, for B sequences each adding n = T/B tokens to a context of
  C cached tokens: a roofline over the kernel's FLOPs (QK^T and AV: 4 B n (C + (n+1)/2) q_dim)
  and the KV bytes it reads (B (C + n) 2 kv_dim x 2 bytes), each at a stated efficiency
  (`AttentionFactors`): prefill is FLOP-bound, decode KV-bandwidth-bound;
* all-reduce: two per layer (after attention and after the MLP) of T x hidden x 2 bytes, from
  the measured tables (network.py);
* embedding and final norm at T tokens, and the LM head on one token per sequence (vLLM
  computes logits at the last position only), predicted like any GEMM (as an up-projection
  shaped hidden x vocab / tp);
* CPU overhead: step_overhead_ms + per_sequence_overhead_ms x B, from the first-order model's
  calibration (first_order.CapacityFactors; docs/capacity-model.md "Calibration").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from preserve_cli.errors import InputError
from preserve_cli.profile.first_order import DEFAULT_FACTORS, CapacityFactors, check_tp
from preserve_cli.profile.network import AllReduceModel
from preserve_cli.profile.operators import (
    DENSE_OPERATORS,
    OPERATOR_INDEX,
    OPERATORS,
    LayerDims,
    operator_shapes,
)
from preserve_cli.profile.predictor_set import GpuPredictor
from preserve_cli.profile.specs import GpuSpec, ModelSpec


@dataclass(frozen=True)
class AttentionFactors:
    # Prefill attention FLOP/s as a fraction of dense BF16 peak. vLLM 0.6 runs FlashAttention-2:
    # "50-73% of the theoretical maximum FLOPs/s on A100" (Dao 2023, arXiv:2307.08691; 0.5, the low
    # end, for causal masks and serving-length sequences; Ada shares the Ampere code path) and
    # "only 35% utilization on the H100" (Shah et al. 2024, FlashAttention-3, arXiv:2407.08608).
    prefill_flops_efficiency: dict[str, float] = field(
        default_factory=lambda: {"ampere": 0.5, "ada": 0.5, "hopper": 0.35})
    # Decode attention streams the KV cache: at the achieved fraction of HBM bandwidth measured for
    # the weight-streaming GEMMs in vidur's profiles (first_order bandwidth_efficiency, 0.74); the
    # paged kernel's shortfall below that is inside the fitted per-sequence overhead.
    decode_bandwidth_efficiency: float = DEFAULT_FACTORS.bandwidth_efficiency

    def prefill_for(self, gpu: GpuSpec) -> float:
        return self.prefill_flops_efficiency[gpu.architecture]


DEFAULT_ATTENTION = AttentionFactors()


@dataclass(frozen=True)
class IterationTimes:
    """One entry per requested iteration (arrays); all times in milliseconds."""

    tokens: np.ndarray
    batch: np.ndarray
    context: np.ndarray
    dense_ms_per_layer: np.ndarray
    dense_operator_ms: dict[str, np.ndarray]
    attention_ms_per_layer: np.ndarray
    comm_ms_per_layer: np.ndarray
    layers: int
    embedding_ms: np.ndarray
    final_norm_ms: np.ndarray
    lm_head_ms: np.ndarray
    cpu_overhead_ms: np.ndarray
    iteration_ms: np.ndarray


class LatencyModel:
    """Iteration times of one (GPU, model, TP) instance; every call is ONE predictor run."""

    def __init__(self, gpu: GpuSpec, model: ModelSpec, tp: int, predictor: GpuPredictor,
                 allreduce: AllReduceModel | None, factors: CapacityFactors = DEFAULT_FACTORS,
                 attention: AttentionFactors = DEFAULT_ATTENTION) -> None:
        check_tp(model, tp)
        self.gpu, self.model, self.tp = gpu, model, tp
        self.predictor, self.allreduce = predictor, allreduce
        self.factors, self.attention = factors, attention
        self.shapes = operator_shapes(LayerDims.of_model(model), tp)
        self.q_shard = model.num_attention_heads * model.head_dim / tp
        self.kv_shard = math.ceil(model.num_key_value_heads / tp) * model.head_dim

    def describe(self) -> dict[str, object]:
        return {
            "attention_prefill_flops_efficiency": self.attention.prefill_for(self.gpu),
            "attention_decode_bandwidth_efficiency": self.attention.decode_bandwidth_efficiency,
            "step_overhead_ms": self.factors.step_overhead_ms,
            "per_sequence_overhead_ms": self.factors.per_sequence_overhead_ms,
            "allreduce": self.allreduce.source(self.gpu, self.tp) if self.allreduce else "not modelled",
        }

    def _attention_ms(self, tokens: np.ndarray, batch: np.ndarray, context: np.ndarray) -> np.ndarray:
        new = tokens / batch
        flops = 4.0 * batch * new * (context + (new + 1) / 2) * self.q_shard
        kv_bytes = batch * (context + new) * 2 * self.kv_shard * self.model.dtype_bytes
        compute = flops / (self.gpu.peak_flops * self.attention.prefill_for(self.gpu))
        memory = kv_bytes / (self.gpu.bandwidth_bytes_per_s * self.attention.decode_bandwidth_efficiency)
        return np.maximum(compute, memory) * 1e3

    def _comm_ms(self, tokens: np.ndarray) -> np.ndarray:
        if self.allreduce is None or self.tp <= 1:
            return np.zeros_like(tokens)
        return 2 * self.allreduce.ms(self.gpu, self.tp, tokens * self.model.hidden_size * self.model.dtype_bytes)

    def iterations(self, tokens, batch, context) -> IterationTimes:
        tokens, batch, context = (np.atleast_1d(np.asarray(a, dtype=np.float64)).ravel()
                                  for a in np.broadcast_arrays(tokens, batch, context))
        if np.any(tokens < 1) or np.any(batch < 1) or np.any(tokens < batch) or np.any(context < 0):
            raise InputError("each iteration needs tokens >= batch >= 1 and context >= 0", field="--tokens/--batch",
                             fix="give at least one new token per sequence (decode: tokens = batch)")
        unique_tokens, token_index = np.unique(tokens, return_inverse=True)
        unique_batch, batch_index = np.unique(batch, return_inverse=True)
        n_tok = len(unique_tokens)
        rows = [np.column_stack([np.full(n_tok, OPERATOR_INDEX[op]), unique_tokens,
                                 np.full(n_tok, self.shapes[op][0]), np.full(n_tok, self.shapes[op][1])])
                for op in OPERATORS]
        vocab = self.model.vocab_size / self.tp
        n_batch = len(unique_batch)
        rows.append(np.column_stack([np.full(n_batch, OPERATOR_INDEX["mlp_up_proj"]), unique_batch,
                                     np.full(n_batch, self.model.hidden_size), np.full(n_batch, vocab)]))
        predicted = self.predictor.predict_ms(np.concatenate(rows))
        per_op = {op: predicted[k * n_tok:(k + 1) * n_tok][token_index] for k, op in enumerate(OPERATORS)}
        lm_head = predicted[len(OPERATORS) * n_tok:][batch_index]
        dense = sum(per_op[op] for op in DENSE_OPERATORS)
        attention = self._attention_ms(tokens, batch, context)
        comm = self._comm_ms(tokens)
        overhead = self.factors.step_overhead_ms + self.factors.per_sequence_overhead_ms * batch
        layers = self.model.num_hidden_layers
        # The final RMSNorm has the shape of a layer's input norm.
        final_norm = per_op["input_layernorm"]
        total = layers * (dense + attention + comm) + per_op["emb"] + final_norm + lm_head + overhead
        return IterationTimes(tokens=tokens, batch=batch, context=context, dense_ms_per_layer=dense,
                              dense_operator_ms={op: per_op[op] for op in DENSE_OPERATORS},
                              attention_ms_per_layer=attention, comm_ms_per_layer=comm, layers=layers,
                              embedding_ms=per_op["emb"], final_norm_ms=final_norm, lm_head_ms=lm_head,
                              cpu_overhead_ms=overhead, iteration_ms=total)
