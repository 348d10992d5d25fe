"""First-order (roofline) capacity of one serving instance: a TP group of GPUs running vLLM.

Formulas, factors and the check against published measurements: docs/capacity-model.md.
In short, per instance of `tp` GPUs serving `model` for a workload of mean input I and
mean output O tokens:

* KV capacity  M = (tp * memory * gpu_memory_utilization - weights - tp * reserve) / kv_bytes_per_token
* decode step  t(B) = max(bytes(B) / (tp * HBM * bw_eff), flops(B) / (tp * peak * mfu))
                      + 2 * layers * allreduce(B * hidden * 2 bytes) + overhead(B)
  with bytes(B) = weights + B * C * kv_bytes_per_token and C = I + O/2 (mean decode context);
  max_batch = largest B <= max_num_seqs with t(B) <= TPOT and B * (I + O) <= M;  mu_d = B / t(B).
* prefill: compute-bound, n prompts of I tokens per pass (n * I <= max_num_batched_tokens and
  the pass within the TTFT target); mu_p = n * I / t_prefill(n).
* mixed: mu_t = (rho + 1) / (rho / mu_p + 1 / mu_d), rho = I / O (prefill and decode time-share).

A later stage replaces this with predictors trained on measured timings; this module is the
honest, sourced baseline and the fallback when no measurements exist.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from preserve_cli.errors import InputError
from preserve_cli.profile.schema import InstanceCapacity
from preserve_cli.profile.slo import Slo, WorkloadShape
from preserve_cli.profile.specs import GIB, GpuSpec, ModelSpec

SOURCE = "first-order"


@dataclass(frozen=True)
class CapacityFactors:
    """Efficiency and engine factors; each default says where it comes from."""

    # vLLM EngineArgs default (vllm/engine/arg_utils.py: gpu_memory_utilization = 0.90).
    gpu_memory_utilization: float = 0.90
    # Achieved / datasheet HBM bandwidth of the dense layers at 1-8 tokens (weight-streaming GEMMs):
    # median 0.741 over the vidur profiles (compute/{a100,h100,a40}/meta-llama/*/mlp.csv,
    # qkv + out + up + down projections, TP 1-8; A100 0.72, H100 0.75, A40 0.77).
    bandwidth_efficiency: float = 0.74
    # Achieved / dense-BF16-peak FLOP/s of the same layers at >= 2048 tokens: median 0.728 over
    # the same vidur profiles (A100 0.73, H100 0.71, A40 0.76). Also used for attention FLOPs.
    mfu: float = 0.73
    # Per-iteration time the roofline misses: vLLM's CPU work (scheduling, input preparation,
    # sampling, output processing) and per-sequence kernel costs (paged-attention launches, KV
    # reads below streaming efficiency): a fixed part plus a part per running sequence. Fitted to
    # vLLM 0.6.0's published median TPOT at 4 and 8 req/s (sgl-project/sglang
    # benchmark/benchmark_vllm_060/README.md: Llama-3.1-8B on 1xA100-80G, Llama-3.1-70B on
    # 4xH100), where Little's law on the published median E2E latency gives the batch; see
    # docs/capacity-model.md "Calibration". Magnitude check: the vLLM v0.6.0 blog profiled CPU
    # work at 62% of a Llama-3-8B step on one H100 before that release.
    step_overhead_ms: float = 2.0
    per_sequence_overhead_ms: float = 0.1
    # NCCL all-reduce: fixed latency plus bytes over the link. 0.03 ms = median small-message
    # (<= 64 KiB) latency in vidur network/{a100,h100}_dgx/all_reduce.csv (0.021-0.046 ms);
    # 0.6 = achieved / datasheet one-direction bandwidth there at 64 MiB (A100 8-GPU 0.68 ms).
    allreduce_latency_ms: float = 0.03
    link_efficiency: float = 0.6
    # vLLM defaults: at most 256 running sequences (EngineArgs.max_num_seqs); a prefill budget of
    # max(max_model_len, 2048) tokens per step when chunked prefill is off (vLLM 0.6), i.e. 8192 for
    # 8k-context models. vLLM also profiles peak activation memory with a dummy batch of that many
    # tokens before sizing the KV cache (vllm-project/vllm issue #8185).
    max_num_seqs: int = 256
    max_num_batched_tokens: int = 8192
    # Memory outside weights, KV and the activation peak, per GPU: CUDA sees ~0.46 GiB less than
    # nvidia-smi reports (79.19 vs 79.65 GiB on an 80 GB H100), vLLM logs "non_torch_memory takes
    # 0.16GiB" and CUDA graphs "took 0.13-0.21 GiB" (vLLM startup logs quoted in
    # kubernetes-sigs/gateway-api-inference-extension PR #550 and vllm-project/vllm PR #11349).
    non_torch_reserve_gib: float = 1.0


DEFAULT_FACTORS = CapacityFactors()


def check_tp(model: ModelSpec, tp: int) -> None:
    if isinstance(tp, bool) or not isinstance(tp, int) or tp < 1:
        raise InputError(f"{tp!r} is not a positive integer", field="tp", fix="use 1, 2, 4 or 8")
    if model.num_attention_heads % tp:
        raise InputError(f"tp {tp} does not divide the {model.num_attention_heads} attention heads of {model.key}",
                         field="tp", fix="use a tp that divides num_attention_heads (1, 2, 4, 8)")


def kv_bytes_per_token(model: ModelSpec, tp: int) -> float:
    """KV bytes per token for the whole TP group; vLLM replicates KV heads when tp > kv_heads."""
    return model.kv_bytes_per_token * max(1.0, tp / model.num_key_value_heads)


def reserve_bytes_per_gpu(model: ModelSpec, tp: int, factors: CapacityFactors) -> float:
    """Activation peak of the profiling pass plus non-torch memory, per GPU.

    Largest live tensors of a forward pass of max_num_batched_tokens tokens: the gate/up MLP
    output and its activation (3 * intermediate / tp) and a few hidden-size buffers (4 * hidden),
    plus float32 logits for max_num_seqs sequences.
    """
    tokens = factors.max_num_batched_tokens
    activations = tokens * (3 * model.intermediate_size / tp + 4 * model.hidden_size) * model.dtype_bytes
    logits = factors.max_num_seqs * model.vocab_size * 4 / tp
    return activations + logits + factors.non_torch_reserve_gib * GIB


def _usable_bytes_per_gpu(gpu: GpuSpec, factors: CapacityFactors) -> float:
    return gpu.memory_bytes * factors.gpu_memory_utilization


def _min_tp_that_fits(gpu: GpuSpec, model: ModelSpec, factors: CapacityFactors) -> int | None:
    usable = _usable_bytes_per_gpu(gpu, factors)
    for tp in (1, 2, 4, 8, 16):
        fits = model.weight_bytes / tp + reserve_bytes_per_gpu(model, tp, factors) < usable
        if fits and model.num_attention_heads % tp == 0:
            return tp
    return None


def kv_capacity_tokens(gpu: GpuSpec, model: ModelSpec, tp: int, factors: CapacityFactors = DEFAULT_FACTORS) -> int:
    """M: tokens of KV cache the TP group holds after weights and the activation reserve."""
    check_tp(model, tp)
    usable = _usable_bytes_per_gpu(gpu, factors)
    free_per_gpu = usable - model.weight_bytes / tp - reserve_bytes_per_gpu(model, tp, factors)
    if free_per_gpu <= 0:
        need = _min_tp_that_fits(gpu, model, factors)
        fix = f"raise --tp to {need} or more" if need else "use a GPU with more memory"
        raise InputError(
            f"model does not fit on {tp}x{gpu.key}: {model.key} has {model.weight_bytes / GIB:.1f} GiB of weights, "
            f"{tp}x{gpu.key} offers {tp * usable / GIB:.1f} GiB at gpu_memory_utilization "
            f"{factors.gpu_memory_utilization}", field="tp", fix=fix)
    return int(tp * free_per_gpu // kv_bytes_per_token(model, tp))


def allreduce_seconds(gpu: GpuSpec, tp: int, message_bytes: float, factors: CapacityFactors = DEFAULT_FACTORS) -> float:
    """One ring all-reduce: latency + 2 (tp - 1) / tp of the message over one link direction."""
    if tp <= 1:
        return 0.0
    link = gpu.link_bytes_per_s(tp) * factors.link_efficiency
    return factors.allreduce_latency_ms / 1e3 + 2 * (tp - 1) / tp * message_bytes / link


def _overhead_seconds(sequences: int, factors: CapacityFactors) -> float:
    return (factors.step_overhead_ms + factors.per_sequence_overhead_ms * sequences) / 1e3


def decode_step_seconds(gpu: GpuSpec, model: ModelSpec, tp: int, batch: int, context_tokens: float,
                        factors: CapacityFactors = DEFAULT_FACTORS) -> float:
    """One decode iteration for `batch` sequences whose mean context is `context_tokens`."""
    bytes_read = model.weight_bytes + batch * context_tokens * kv_bytes_per_token(model, tp)
    memory_time = bytes_read / (tp * gpu.bandwidth_bytes_per_s * factors.bandwidth_efficiency)
    compute_time = batch * model.flops_per_token(context_tokens) / (tp * gpu.peak_flops * factors.mfu)
    # Megatron-style TP: one all-reduce after attention, one after the MLP, in every layer.
    communication = 2 * model.num_hidden_layers * allreduce_seconds(
        gpu, tp, batch * model.hidden_size * model.dtype_bytes, factors)
    return max(memory_time, compute_time) + communication + _overhead_seconds(batch, factors)


def prefill_seconds(gpu: GpuSpec, model: ModelSpec, tp: int, prompt_tokens: float, prompts: int = 1,
                    factors: CapacityFactors = DEFAULT_FACTORS) -> float:
    """One prefill pass over `prompts` prompts of `prompt_tokens` tokens each (compute-bound)."""
    tokens = prompts * prompt_tokens
    # Each prompt token attends to prompt_tokens / 2 earlier tokens on average (causal mask);
    # the LM head runs once per prompt.
    flops = tokens * model.flops_per_token(prompt_tokens / 2, include_lm_head=False) \
        + prompts * 2.0 * model.vocab_size * model.hidden_size
    compute = flops / (tp * gpu.peak_flops * factors.mfu)
    communication = 2 * model.num_hidden_layers * allreduce_seconds(
        gpu, tp, tokens * model.hidden_size * model.dtype_bytes, factors)
    return compute + communication + _overhead_seconds(prompts, factors)


def check_request(slo: Slo, workload: WorkloadShape, tps: tuple[int, ...] = ()) -> None:
    """Reject SLO targets, workload means and TP degrees that no combination could use."""
    for name, value in (("ttft_p99_s", slo.ttft_p99_s), ("tpot_p99_ms", slo.tpot_p99_ms)):
        if not value > 0:
            raise InputError(f"{value!r} is not a positive number", field=name, fix="write a positive SLO target")
    for name, value in (("mean_input_tokens", workload.mean_input_tokens),
                        ("mean_output_tokens", workload.mean_output_tokens)):
        if not value >= 1:
            raise InputError(f"{value!r} is below one token", field=name, fix="write a mean of at least 1 token")
    for tp in tps:
        if isinstance(tp, bool) or not isinstance(tp, int) or tp < 1:
            raise InputError(f"{tp!r} is not a positive integer", field="tp", fix="use 1, 2, 4 or 8")


def check_model_request(model: ModelSpec, slo: Slo, workload: WorkloadShape) -> None:
    check_request(slo, workload)
    total = workload.mean_input_tokens + workload.mean_output_tokens
    if total > model.max_position_embeddings:
        raise InputError(f"a mean request of {total:g} tokens exceeds the {model.max_position_embeddings}-token "
                         f"context of {model.key}", field="mean_input_tokens",
                         fix="use shorter requests or a model with a longer context")


def _largest(limit: int, fits) -> int:
    """Largest n in [1, limit] with fits(n), given fits is monotone (true then false); 0 if none."""
    low, high = 0, limit
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return low


def checked_kv_batch(gpu: GpuSpec, model: ModelSpec, tp: int, slo: Slo, workload: WorkloadShape,
                     factors: CapacityFactors) -> tuple[str, int, int]:
    """Validate the request and return (description, KV-cache tokens M, mean requests that fit in M).

    Shared by every capacity model: whatever predicts iteration times, the KV cache
    bounds the batch the same way."""
    check_tp(model, tp)
    check_model_request(model, slo, workload)
    where = f"{model.key} on {tp}x{gpu.key}"
    mean_in, mean_out = workload.mean_input_tokens, workload.mean_output_tokens
    kv_tokens = kv_capacity_tokens(gpu, model, tp, factors)
    kv_batch = math.floor(kv_tokens / (mean_in + mean_out))
    if kv_batch < 1:
        raise InputError(f"SLO impossible for {where}: its KV cache holds {kv_tokens} tokens, less than one mean "
                         f"request ({mean_in + mean_out:g} tokens)", field="tp", fix="raise --tp or use a larger GPU")
    return where, kv_tokens, kv_batch


def check_prefill_meets_ttft(where: str, mean_in: float, single_prefill_s: float, slo: Slo) -> None:
    """A lone mean prompt must prefill within the TTFT target, whatever the model of its time."""
    if single_prefill_s > slo.ttft_p99_s:
        raise InputError(f"SLO impossible for {where}: prefilling a mean prompt of {mean_in:g} tokens takes "
                         f"{single_prefill_s:.2f} s, above the TTFT target {slo.ttft_p99_s:g} s", field="ttft_p99_s",
                         fix="raise --tp, choose a faster GPU, or loosen --ttft-s")


def mixed_tokens_per_s(mean_in: float, mean_out: float, prefill_tps: float, decode_tps: float) -> float:
    """mu_t: prefill and decode time-share the GPU at the workload's token mix rho = in/out."""
    rho = mean_in / mean_out
    return (rho + 1) / (rho / prefill_tps + 1 / decode_tps)


def workload_assumptions(workload: WorkloadShape, context: float, slo: Slo) -> dict:
    """The workload and SLO a capacity was computed for (recorded in capacity.yaml)."""
    return {
        "workload": {"mean_input_tokens": workload.mean_input_tokens, "mean_output_tokens": workload.mean_output_tokens,
                     "mean_decode_context_tokens": context},
        "slo": {"ttft_p99_s": slo.ttft_p99_s, "tpot_p99_ms": slo.tpot_p99_ms},
    }


def first_order_capacity(gpu: GpuSpec, model: ModelSpec, tp: int, slo: Slo, workload: WorkloadShape,
                         factors: CapacityFactors = DEFAULT_FACTORS) -> InstanceCapacity:
    """Capacity of one `tp` x `gpu` instance serving `model` within `slo` for `workload`."""
    where, kv_tokens, kv_batch = checked_kv_batch(gpu, model, tp, slo, workload, factors)
    mean_in, mean_out = workload.mean_input_tokens, workload.mean_output_tokens

    context = mean_in + mean_out / 2
    tpot_s = slo.tpot_p99_ms / 1e3
    step_one = decode_step_seconds(gpu, model, tp, 1, context, factors)
    if step_one > tpot_s:
        raise InputError(f"SLO impossible for {where}: one decode step takes {step_one * 1e3:.1f} ms even for a "
                         f"single request, above the TPOT target {slo.tpot_p99_ms:g} ms", field="tpot_p99_ms",
                         fix="raise --tp, choose a faster GPU, or loosen --tpot-ms")
    batch_limit = min(factors.max_num_seqs, kv_batch)
    max_batch = _largest(batch_limit, lambda b: decode_step_seconds(gpu, model, tp, b, context, factors) <= tpot_s)
    step = decode_step_seconds(gpu, model, tp, max_batch, context, factors)
    decode_tps = max_batch / step
    if max_batch < batch_limit:
        decode_limit = "tpot"
    else:
        decode_limit = "kv_cache" if kv_batch < factors.max_num_seqs else "max_num_seqs"

    single_prefill = prefill_seconds(gpu, model, tp, mean_in, 1, factors)
    check_prefill_meets_ttft(where, mean_in, single_prefill, slo)
    prompts_limit = max(1, math.floor(factors.max_num_batched_tokens / mean_in))
    prompts = _largest(prompts_limit, lambda n: prefill_seconds(gpu, model, tp, mean_in, n, factors) <= slo.ttft_p99_s)
    prefill_tps = prompts * mean_in / prefill_seconds(gpu, model, tp, mean_in, prompts, factors)

    mixed_tps = mixed_tokens_per_s(mean_in, mean_out, prefill_tps, decode_tps)
    assumptions = {
        **workload_assumptions(workload, context, slo),
        "factors": asdict(factors),
        "derived": {
            "weight_gib": model.weight_bytes / GIB,
            "kv_bytes_per_token": kv_bytes_per_token(model, tp),
            "interconnect": gpu.interconnect(tp),
            "decode_step_ms": step * 1e3,
            "decode_limited_by": decode_limit,
            "prefill_prompts_per_pass": prompts,
            "ttft_mean_prompt_s": single_prefill,
        },
    }
    return InstanceCapacity(
        gpu=gpu.key, model=model.key, tp=tp, prefill_tokens_per_s=prefill_tps, decode_tokens_per_s=decode_tps,
        mixed_tokens_per_s=mixed_tps, kv_tokens=kv_tokens, max_batch=max_batch, source=SOURCE,
        assumptions=assumptions,
    )
