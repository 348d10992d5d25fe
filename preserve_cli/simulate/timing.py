"""Iteration times of one (GPU, model, TP) instance, tabulated once from the ONNX predictors.

The hot loop of the simulator never calls a predictor: it looks times up here.

* prefill pass of prompts p_1..p_n (T = sum p_i tokens, no cached context):
      token_part[T] + batch_part[n] + sum_i attention[p_i]
  For one prompt this is exactly `LatencyModel.iterations(p, 1, 0)` (the three tables are the
  fields of that very call); for several prompts the attention of each prompt is its own
  (the predictor's formula would use the mean prompt length of the pass).
* decode step of B sequences holding S context tokens in total:
      decode_base[B] + context_slope * S
  `LatencyModel` models decode attention as a roofline over KV bytes (and FLOPs), both
  proportional to B x (mean context + 1), so the step time is exactly linear in S: k steps
  of an unchanged batch take k base + slope (k S + B k (k - 1) / 2) (S grows by B per step).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from preserve_cli.profile.first_order import DEFAULT_FACTORS, kv_capacity_tokens
from preserve_cli.profile.specs import GpuSpec, ModelSpec

# Tables grow in steps of this many tokens when a workload brings longer prompts.
_TABLE_STEP = 4096
# The context the decode slope is measured at; the model is linear, any value gives the same slope.
_SLOPE_PROBE_TOKENS = 1000.0


@dataclass
class InstanceTiming:
    """Lookup tables in seconds; `kv_tokens` is the KV-cache capacity M of the instance."""

    gpu: str
    model: str
    tp: int
    kv_tokens: int
    max_num_seqs: int
    max_num_batched_tokens: int
    token_part: list[float]      # index T (tokens in the pass), [0] unused
    attention: list[float]       # index p (one prompt's tokens), [0] unused
    batch_part: list[float]      # index n (sequences in the pass)
    decode_base: list[float]     # index B (running sequences), [0] unused
    context_slope: float         # seconds per context token in a decode step
    _latency: object = None

    def ensure_prompt_tokens(self, tokens: int) -> None:
        """Extend the prefill tables to cover passes of `tokens` tokens."""
        if tokens < len(self.token_part):
            return
        top = int(math.ceil((tokens + 1) / _TABLE_STEP) * _TABLE_STEP)
        start = len(self.token_part)
        token_part, attention = _prefill_tables(self._latency, start, top)
        self.token_part.extend(token_part)
        self.attention.extend(attention)

    def prefill_s(self, prompts: list[int]) -> float:
        attention = self.attention
        total = 0
        attn = 0.0
        for p in prompts:
            total += p
            attn += attention[p]
        return self.token_part[total] + self.batch_part[len(prompts)] + attn

    def decode_s(self, batch: int, context_tokens: float, steps: int = 1) -> float:
        """`steps` decode steps of `batch` sequences starting with `context_tokens` cached in all."""
        return steps * self.decode_base[batch] + self.context_slope * (
            steps * context_tokens + batch * steps * (steps - 1) / 2)


def _prefill_tables(latency, start: int, stop: int) -> tuple[list[float], list[float]]:
    tokens = np.arange(start, stop, dtype=np.float64)
    times = latency.iterations(tokens, np.ones_like(tokens), np.zeros_like(tokens))
    attention = times.layers * times.attention_ms_per_layer
    one_sequence = times.lm_head_ms + times.cpu_overhead_ms
    token_part = times.iteration_ms - attention - one_sequence
    return (token_part / 1e3).tolist(), (attention / 1e3).tolist()


@functools.cache
def _cached(gpu: GpuSpec, model: ModelSpec, tp: int) -> InstanceTiming:
    from preserve_cli.profile.predicted import latency_model

    factors = DEFAULT_FACTORS
    latency = latency_model(gpu, model, tp, factors=factors)
    batches = np.arange(1, factors.max_num_seqs + 1, dtype=np.float64)
    decode = latency.iterations(batches, batches, np.zeros_like(batches))
    probe = latency.iterations(1.0, 1.0, _SLOPE_PROBE_TOKENS).iteration_ms[0]
    slope_ms = (probe - decode.iteration_ms[0]) / _SLOPE_PROBE_TOKENS
    token_part, attention = _prefill_tables(latency, 1, max(_TABLE_STEP, factors.max_num_batched_tokens + 1))
    return InstanceTiming(
        gpu=gpu.key, model=model.key, tp=tp, kv_tokens=kv_capacity_tokens(gpu, model, tp, factors),
        max_num_seqs=factors.max_num_seqs, max_num_batched_tokens=factors.max_num_batched_tokens,
        token_part=[math.nan] + token_part, attention=[math.nan] + attention,
        batch_part=[math.nan] + ((decode.lm_head_ms + decode.cpu_overhead_ms) / 1e3).tolist(),
        decode_base=[math.nan] + (decode.iteration_ms / 1e3).tolist(),
        context_slope=float(slope_ms / 1e3), _latency=latency,
    )


def instance_timing(gpu: GpuSpec, model: ModelSpec, tp: int) -> InstanceTiming:
    """The (cached) timing tables of one instance; one predictor run per table."""
    return _cached(gpu, model, tp)
