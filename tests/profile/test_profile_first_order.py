"""First-order capacity model: KV capacity, decode/prefill rates, SLO checks, capacity.yaml."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

from preserve_cli.errors import InputError
from preserve_cli.profile.catalog import get_gpu, resolve_model
from preserve_cli.profile.first_order import (
    DEFAULT_FACTORS,
    allreduce_seconds,
    decode_step_seconds,
    first_order_capacity,
    kv_capacity_tokens,
)
from preserve_cli.profile.schema import (
    capacities_to_yaml,
    read_capacities,
    write_capacities,
)
from preserve_cli.profile.slo import Slo, WorkloadShape

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
CHAT = WorkloadShape(mean_input_tokens=1024, mean_output_tokens=256)
SLO = Slo(ttft_p99_s=2.0, tpot_p99_ms=100)


def capacity(gpu="h100-80gb", model="llama-3-8b", tp=1, slo=SLO, workload=CHAT):
    return first_order_capacity(get_gpu(gpu), resolve_model(model), tp, slo, workload)


def test_kv_capacity_worked_by_hand():
    # Llama-3-8B on one H100 SXM 80GB, vLLM defaults:
    usable = 79.65 * 2**30 * 0.9                 # nvidia-smi 81559 MiB = 79.65 GiB x gpu_memory_utilization 0.9
    weights = 8_030_261_248 * 2                  # parameters x 2 bytes (bf16)
    activations = 8192 * (3 * 14336 + 4 * 4096) * 2   # profiling pass of 8192 tokens
    logits = 256 * 128256 * 4                    # fp32 logits for 256 sequences
    non_torch = 2**30                            # CUDA context, workspaces, graphs
    kv_per_token = 2 * 32 * 8 * 128 * 2          # K and V x layers x KV heads x head_dim x 2 bytes = 131072
    expected = math.floor((usable - weights - activations - logits - non_torch) / kv_per_token)
    assert expected == 448_093
    assert kv_capacity_tokens(get_gpu("h100-80gb"), resolve_model("llama-3-8b"), 1) == expected
    assert capacity().kv_tokens == expected


def test_70b_does_not_fit_on_one_80gb_gpu_but_fits_at_tp_2_and_4():
    with pytest.raises(InputError) as error:
        capacity(model="llama-2-70b", tp=1)
    message = error.value.one_line()
    assert "does not fit on 1xh100-80gb" in message and "raise --tp to 2" in message
    for tp in (2, 4):
        assert capacity(model="llama-2-70b", tp=tp).kv_tokens > 0
    assert capacity(model="llama-2-70b", tp=4).kv_tokens > 10 * capacity(model="llama-2-70b", tp=2).kv_tokens


def test_decode_rate_grows_with_memory_bandwidth():
    h100, a100, a40 = (capacity(gpu=g).decode_tokens_per_s for g in ("h100-80gb", "a100-80gb", "a40"))
    assert h100 > a100 > a40
    assert capacity(gpu="h200").decode_tokens_per_s > h100


def test_tighter_tpot_lowers_decode_rate_and_batch():
    loose, medium, tight = (capacity(slo=Slo(2.0, tpot)) for tpot in (100, 40, 25))
    assert loose.decode_tokens_per_s > medium.decode_tokens_per_s > tight.decode_tokens_per_s
    assert loose.max_batch >= medium.max_batch > tight.max_batch
    assert tight.assumptions["derived"]["decode_limited_by"] == "tpot"


def test_prefill_rate_follows_tflops():
    rates = {g: capacity(gpu=g).prefill_tokens_per_s for g in ("h100-80gb", "a100-80gb", "l40s", "a40")}
    tflops = {g: get_gpu(g).bf16_dense_tflops for g in rates}
    for gpu in ("h100-80gb", "l40s", "a40"):
        assert rates[gpu] / rates["a100-80gb"] == pytest.approx(tflops[gpu] / tflops["a100-80gb"], rel=0.05)


def test_max_batch_respects_tpot_kv_and_engine_limits():
    for model, gpu, tp in (("llama-2-7b", "a100-80gb", 1), ("llama-3-8b", "l4", 2), ("llama-2-70b", "h100-80gb", 4)):
        result = capacity(gpu=gpu, model=model, tp=tp)
        spec = resolve_model(model)
        context = CHAT.mean_input_tokens + CHAT.mean_output_tokens / 2
        assert result.max_batch * (CHAT.mean_input_tokens + CHAT.mean_output_tokens) <= result.kv_tokens
        assert result.max_batch <= DEFAULT_FACTORS.max_num_seqs
        step = decode_step_seconds(get_gpu(gpu), spec, tp, result.max_batch, context)
        assert step <= SLO.tpot_p99_ms / 1e3
        assert result.decode_tokens_per_s == pytest.approx(result.max_batch / step)
        if result.assumptions["derived"]["decode_limited_by"] == "tpot":
            assert decode_step_seconds(get_gpu(gpu), spec, tp, result.max_batch + 1, context) > SLO.tpot_p99_ms / 1e3


def test_decode_step_at_batch_one_is_a_weight_read_plus_overhead():
    gpu, model = get_gpu("a100-80gb"), resolve_model("llama-2-7b")
    step = decode_step_seconds(gpu, model, 1, 1, 1000)
    weight_read = (model.weight_bytes + 1000 * model.kv_bytes_per_token) / (2.039e12 * 0.74)
    assert step == pytest.approx(weight_read + (2.0 + 0.1) / 1e3)
    assert decode_step_seconds(gpu, model, 1, 64, 1000) > step


def test_tensor_parallel_all_reduce_cost():
    h100 = get_gpu("h100-80gb")
    assert allreduce_seconds(h100, 1, 1e6) == 0
    assert allreduce_seconds(h100, 2, 1e6) == pytest.approx(0.03e-3 + 1e6 / (450e9 * 0.6))
    assert allreduce_seconds(get_gpu("l40s"), 2, 1e8) > 10 * allreduce_seconds(h100, 2, 1e8)  # PCIe vs NVLink


def test_mixed_rate_time_shares_prefill_and_decode():
    result = capacity()
    rho = CHAT.mean_input_tokens / CHAT.mean_output_tokens
    expected = (rho + 1) / (rho / result.prefill_tokens_per_s + 1 / result.decode_tokens_per_s)
    assert result.mixed_tokens_per_s == pytest.approx(expected)
    assert result.decode_tokens_per_s < result.mixed_tokens_per_s < result.prefill_tokens_per_s


def test_impossible_ttft_names_the_gpu():
    with pytest.raises(InputError) as error:
        capacity(gpu="l4", model="llama-2-70b", tp=8, slo=Slo(0.2, 100), workload=WorkloadShape(4000, 10))
    assert "SLO impossible" in str(error.value) and "8xl4" in str(error.value)
    assert error.value.field == "ttft_p99_s"


def test_impossible_tpot_names_the_gpu():
    with pytest.raises(InputError) as error:
        capacity(gpu="a40", model="llama-2-13b", tp=1, slo=Slo(2.0, 20))
    assert "SLO impossible" in str(error.value) and "1xa40" in str(error.value)


def test_bad_inputs_are_rejected():
    with pytest.raises(InputError, match="context"):
        capacity(model="llama-2-7b", workload=WorkloadShape(4000, 500))
    with pytest.raises(InputError, match="divide"):
        capacity(model="qwen2.5-7b", tp=8)
    with pytest.raises(InputError, match="below one token"):
        capacity(workload=WorkloadShape(1024, 0))
    with pytest.raises(InputError, match="positive"):
        capacity(slo=Slo(0, 100))


def test_result_is_self_describing_and_deterministic():
    first, second = capacity(), capacity()
    assert first == second
    assert capacities_to_yaml([first]) == capacities_to_yaml([second])
    assert first.source == "first-order"
    assumptions = first.assumptions
    assert assumptions["workload"]["mean_input_tokens"] == 1024
    assert assumptions["factors"]["mfu"] == DEFAULT_FACTORS.mfu
    assert assumptions["factors"]["bandwidth_efficiency"] == DEFAULT_FACTORS.bandwidth_efficiency
    assert assumptions["slo"]["tpot_p99_ms"] == 100


def test_capacity_yaml_round_trips(tmp_path):
    results = [capacity(model="llama-2-70b", tp=4), capacity(gpu="a100-80gb")]
    path = tmp_path / "capacity.yaml"
    write_capacities(results, path)
    back = {c.key: c for c in read_capacities(path)}
    for original in results:
        loaded = back[original.key]
        for name in ("prefill_tokens_per_s", "decode_tokens_per_s", "mixed_tokens_per_s"):
            assert getattr(loaded, name) == pytest.approx(getattr(original, name), rel=1e-5)
        assert (loaded.kv_tokens, loaded.max_batch, loaded.source) == (original.kv_tokens, original.max_batch,
                                                                      "first-order")
        assert loaded.assumptions["derived"]["interconnect"] == original.assumptions["derived"]["interconnect"]


@pytest.mark.parametrize(("folder", "gpu"), [("a100_dgx", "a100-80gb"), ("h100_dgx", "h100-80gb")])
def test_all_reduce_model_matches_vidur_measurements(folder, gpu):
    # vidur network profiles (NCCL all-reduce, `size` in bytes: vidur collectives_wrapper.py writes size * 2
    # for fp16 elements); intra-node rows only (num_workers == devices_per_node).
    path = SHARED / "data" / "profiling" / "vidur" / "network" / folder / "all_reduce.csv"
    with path.open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["num_workers"] == r["devices_per_node"]]
    checked = 0
    for row in rows:
        size = float(row["size"])
        if 2**20 <= size <= 2**26:
            tp = int(row["num_workers"])
            measured = float(row["time_stats.all_reduce.median"]) / 1e3
            predicted = allreduce_seconds(get_gpu(gpu), tp, size)
            assert 0.5 <= predicted / measured <= 2.0, (tp, size, measured, predicted)
            checked += 1
    assert checked > 100


def test_kv_capacity_close_to_a_vllm_startup_log():
    # vLLM log quoted in kubernetes-sigs/gateway-api-inference-extension PR #550: Llama-2-7B ("model weights
    # take 12.55GiB") on an 80 GB GPU at gpu_memory_utilization 0.90 -> "# cuda blocks: 7191" x 16 tokens.
    model = resolve_model("llama-2-7b")
    assert model.weight_bytes / 2**30 == pytest.approx(12.55, abs=0.01)
    assert kv_capacity_tokens(get_gpu("h100-80gb"), model, 1) == pytest.approx(7191 * 16, rel=0.05)
