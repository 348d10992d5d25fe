"""Instance capacity from the ONNX predictors: sweep batch sizes and prefill chunks, apply the SLO.

For a workload of mean input I and output O tokens (decode context C = I + O/2) on `tp` GPUs:
* M: KV-cache tokens after weights and vLLM's activation reserve (first_order.kv_capacity_tokens,
  DESIGN.md's formula with the reserve subtracted from the usable memory);
* decode: iteration time t(B) for every batch B = 1..max_num_seqs at context C, in one predictor
  run; among the B that meet the TPOT target and fit the KV cache (B (I + O) <= M), the one with
  the highest B / t(B) gives mu_d and max_batch;
* prefill: passes of n prompts of I tokens (n I <= max_num_batched_tokens), all n in the same run;
  the n with the highest n I / t(n) among passes within the TTFT target gives mu_p;
* mixed: mu_t = (rho + 1) / (rho / mu_p + 1 / mu_d), rho = I / O (time-shared GPU).
The sweep is `LatencyModel.iterations` over the concatenated decode and prefill grids.
"""

from __future__ import annotations

import math
from dataclasses import asdict

import numpy as np

from preserve_cli.errors import InputError
from preserve_cli.profile.first_order import (
    DEFAULT_FACTORS,
    CapacityFactors,
    check_prefill_meets_ttft,
    checked_kv_batch,
    mixed_tokens_per_s,
    workload_assumptions,
    kv_bytes_per_token,
)
from preserve_cli.profile.iteration import LatencyModel
from preserve_cli.profile.predictor_set import (
    PredictorSet,
    predictor_for,
    shipped_predictors,
)
from preserve_cli.profile.schema import InstanceCapacity
from preserve_cli.profile.slo import Slo, WorkloadShape
from preserve_cli.profile.specs import GIB, GpuSpec, ModelSpec

# Engine settings a predicted capacity depends on (the overheads are under assumptions.model).
_ENGINE_FACTORS = ("gpu_memory_utilization", "max_num_seqs", "max_num_batched_tokens", "non_torch_reserve_gib")


def latency_model(gpu: GpuSpec, model: ModelSpec, tp: int, user_set: PredictorSet | None = None,
                  factors: CapacityFactors = DEFAULT_FACTORS) -> LatencyModel:
    return LatencyModel(gpu, model, tp, predictor_for(gpu, user_set), shipped_predictors().allreduce(), factors)


def _best(values: np.ndarray, feasible: np.ndarray) -> int:
    """Index of the largest value among the feasible entries (first one on ties)."""
    return int(np.argmax(np.where(feasible, values, -np.inf)))


def predicted_capacity(gpu: GpuSpec, model: ModelSpec, tp: int, slo: Slo, workload: WorkloadShape, *,
                       user_set: PredictorSet | None = None,
                       factors: CapacityFactors = DEFAULT_FACTORS) -> InstanceCapacity:
    where, kv_tokens, kv_batch = checked_kv_batch(gpu, model, tp, slo, workload, factors)
    mean_in, mean_out = workload.mean_input_tokens, workload.mean_output_tokens
    lm = latency_model(gpu, model, tp, user_set, factors)
    context = mean_in + mean_out / 2
    batches = np.arange(1, factors.max_num_seqs + 1, dtype=np.float64)
    prompt = max(1.0, round(mean_in))
    prompts = np.arange(1, max(1, math.floor(factors.max_num_batched_tokens / prompt)) + 1, dtype=np.float64)
    times = lm.iterations(np.concatenate([batches, prompts * prompt]), np.concatenate([batches, prompts]),
                          np.concatenate([np.full(len(batches), context), np.zeros(len(prompts))]))
    decode_ms, prefill_ms = times.iteration_ms[:len(batches)], times.iteration_ms[len(batches):]

    if decode_ms[0] > slo.tpot_p99_ms:
        raise InputError(f"SLO impossible for {where}: one decode step takes {decode_ms[0]:.1f} ms even for a single "
                         f"request, above the TPOT target {slo.tpot_p99_ms:g} ms", field="tpot_p99_ms",
                         fix="raise --tp, choose a faster GPU, or loosen --tpot-ms")
    batch_limit = min(factors.max_num_seqs, kv_batch)
    decode_ok = (decode_ms <= slo.tpot_p99_ms) & (batches <= batch_limit)
    best = _best(batches / decode_ms, decode_ok)
    max_batch = int(batches[best])
    decode_tps = max_batch / decode_ms[best] * 1e3
    if not decode_ok[batch_limit - 1]:
        decode_limit = "tpot"
    else:
        decode_limit = "kv_cache" if kv_batch < factors.max_num_seqs else "max_num_seqs"

    ttft_ms = slo.ttft_p99_s * 1e3
    check_prefill_meets_ttft(where, mean_in, prefill_ms[0] / 1e3, slo)
    chunk = _best(prompts * prompt / prefill_ms, prefill_ms <= ttft_ms)
    prefill_tps = prompts[chunk] * prompt / prefill_ms[chunk] * 1e3

    mixed_tps = mixed_tokens_per_s(mean_in, mean_out, prefill_tps, decode_tps)
    assumptions = {
        **workload_assumptions(workload, context, slo),
        "predictor": lm.predictor.describe(),
        "model": lm.describe(),
        "factors": {k: v for k, v in asdict(factors).items() if k in _ENGINE_FACTORS},
        "derived": {
            "weight_gib": model.weight_bytes / GIB,
            "kv_bytes_per_token": kv_bytes_per_token(model, tp),
            "interconnect": gpu.interconnect(tp),
            "decode_step_ms": float(decode_ms[best]),
            "decode_dense_ms_per_layer": float(times.dense_ms_per_layer[best]),
            "decode_attention_ms_per_layer": float(times.attention_ms_per_layer[best]),
            "decode_limited_by": decode_limit,
            "prefill_prompts_per_pass": int(prompts[chunk]),
            "ttft_mean_prompt_s": float(prefill_ms[0] / 1e3),
        },
    }
    return InstanceCapacity(
        gpu=gpu.key, model=model.key, tp=tp, prefill_tokens_per_s=float(prefill_tps),
        decode_tokens_per_s=float(decode_tps), mixed_tokens_per_s=float(mixed_tps), kv_tokens=kv_tokens,
        max_batch=max_batch, source=lm.predictor.source, assumptions=assumptions,
    )
