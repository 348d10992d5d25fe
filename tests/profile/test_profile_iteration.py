"""One iteration's time from the predictors, first-principles checks, and ONNX-based capacity."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from preserve_cli.errors import InputError
from preserve_cli.profile.catalog import get_gpu, resolve_model
from preserve_cli.profile.first_order import DEFAULT_FACTORS, reserve_bytes_per_gpu
from preserve_cli.profile.predicted import latency_model, predicted_capacity
from preserve_cli.profile.predictor_set import shipped_predictors
from preserve_cli.profile.slo import Slo, WorkloadShape
from preserve_cli.profile.specs import GIB

NETWORK = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "profiling" / "vidur" / "network"
CHAT = WorkloadShape(mean_input_tokens=1024, mean_output_tokens=256)


def test_llama2_7b_batch1_decode_on_h100_is_between_1x_and_2x_the_weight_streaming_time():
    gpu, model = get_gpu("h100-80gb"), resolve_model("llama-2-7b")
    floor_ms = model.weight_bytes / gpu.bandwidth_bytes_per_s * 1e3  # 13.5 GB at 3.35 TB/s = 4.02 ms
    step = latency_model(gpu, model, 1).iterations(tokens=1, batch=1, context=128)
    assert floor_ms < step.iteration_ms[0] < 2 * floor_ms


def test_kv_capacity_matches_the_design_formula():
    # DESIGN.md: M = (GPU memory x utilisation - weight bytes / TP) / (2 x layers x kv_heads x head_dim x bytes / TP),
    # with vLLM's activation/CUDA reserve per GPU taken from the usable memory (first_order.reserve_bytes_per_gpu).
    cases = (("h100-80gb", "llama-3-8b", 1), ("a100-80gb", "llama-2-70b", 4), ("h200", "qwen2.5-7b", 2))
    for gpu_name, model_name, tp in cases:
        gpu, model = get_gpu(gpu_name), resolve_model(model_name)
        reserve = reserve_bytes_per_gpu(model, tp, DEFAULT_FACTORS)
        per_gpu_free = gpu.memory_gib * GIB * 0.9 - model.weight_bytes / tp - reserve
        kv_per_token_per_gpu = 2 * model.num_hidden_layers * model.num_key_value_heads * model.head_dim * 2 / tp
        expected = math.floor(per_gpu_free / kv_per_token_per_gpu)
        capacity = predicted_capacity(gpu, model, tp, Slo(), CHAT)
        assert abs(capacity.kv_tokens - expected) <= 1
        # Without the reserve, DESIGN's bare formula is within 3% (the reserve is ~1-2 GiB per GPU).
        bare = (gpu.memory_gib * GIB * 0.9 - model.weight_bytes / tp) / kv_per_token_per_gpu
        assert 0.95 * bare < capacity.kv_tokens <= bare


def test_dense_time_is_the_sum_of_the_nine_operators_and_grows_with_tokens():
    times = latency_model(get_gpu("a100-80gb"), resolve_model("llama-3-8b"), 1).iterations([1, 512, 4096], 1, 0)
    total = sum(times.dense_operator_ms.values())
    np.testing.assert_allclose(times.dense_ms_per_layer, total)
    assert len(times.dense_operator_ms) == 9
    assert times.dense_ms_per_layer[0] < times.dense_ms_per_layer[1] < times.dense_ms_per_layer[2]
    # At 4096 tokens the layer is compute-bound: 2 x 4096 x 218M weights at 312 TFLOP/s is 5.7 ms, a
    # GEMM efficiency of 0.6-0.9 puts the measured-like time between 6 and 10 ms.
    assert 6.0 < times.dense_ms_per_layer[2] < 10.0


def test_attention_is_flop_bound_in_prefill_and_kv_bound_in_decode():
    lm = latency_model(get_gpu("h100-80gb"), resolve_model("llama-3-8b"), 1)
    prefill = lm.iterations([1024, 2048], 1, 0).attention_ms_per_layer
    assert 3.5 < prefill[1] / prefill[0] < 4.5  # causal FLOPs ~ tokens^2
    decode = lm.iterations(64, 64, [1000, 4000]).attention_ms_per_layer
    assert 3.5 < decode[1] / decode[0] < 4.1  # KV bytes ~ context
    # 64 sequences x 4001 tokens x 2 (K, V) x 8 KV heads x 128 x 2 bytes at 0.74 x 3.35 TB/s
    kv_bytes = 64 * 4001 * 2 * 8 * 128 * 2
    assert decode[1] == pytest.approx(kv_bytes / (3.35e12 * 0.74) * 1e3, rel=1e-6)


def test_allreduce_follows_the_vidur_measurements():
    allreduce = shipped_predictors().allreduce()
    h100 = get_gpu("h100-80gb")
    frame = pd.read_csv(NETWORK / "h100_dgx" / "all_reduce.csv")
    for workers in (2, 4, 8):
        rows = frame[(frame.num_workers == workers) & (frame.devices_per_node == workers) & (frame["size"] >= 2**20)]
        predicted = allreduce.ms(h100, workers, rows["size"].to_numpy(float))
        error = np.abs(predicted / rows["time_stats.all_reduce.median"].to_numpy() - 1)
        assert error.mean() < 0.06, workers
    assert allreduce.ms(h100, 1, np.array([1e6]))[0] == 0
    assert "measured" in allreduce.source(h100, 4) and "pcie" in allreduce.source(get_gpu("l40s"), 2)
    comm = latency_model(h100, resolve_model("llama-2-70b"), 4).iterations([1, 4096], [1, 1], 0).comm_ms_per_layer
    assert 0 < comm[0] < comm[1]


def test_iteration_rejects_fewer_tokens_than_sequences():
    lm = latency_model(get_gpu("h100-80gb"), resolve_model("llama-3-8b"), 1)
    with pytest.raises(InputError, match="tokens >= batch"):
        lm.iterations(4, 8, 0)


def test_onnx_capacity_meets_the_slo_it_reports():
    capacity = predicted_capacity(get_gpu("a100-80gb"), resolve_model("llama-3-8b"), 1, Slo(2.0, 40.0), CHAT)
    derived = capacity.assumptions["derived"]
    assert derived["decode_step_ms"] <= 40.0 and derived["decode_limited_by"] == "tpot"
    assert capacity.max_batch < DEFAULT_FACTORS.max_num_seqs
    assert capacity.decode_tokens_per_s == pytest.approx(capacity.max_batch / derived["decode_step_ms"] * 1e3)
    assert derived["ttft_mean_prompt_s"] <= 2.0
    assert capacity.prefill_tokens_per_s > capacity.mixed_tokens_per_s > capacity.decode_tokens_per_s
    loose = predicted_capacity(get_gpu("a100-80gb"), resolve_model("llama-3-8b"), 1, Slo(2.0, 200.0), CHAT)
    assert loose.decode_tokens_per_s > capacity.decode_tokens_per_s


def test_onnx_capacity_says_which_predictor_and_refuses_impossible_slos():
    capacity = predicted_capacity(get_gpu("l40s"), resolve_model("llama-3-8b"), 1, Slo(), CHAT)
    assert capacity.source == f"onnx:{shipped_predictors().id}:scaled-from-a40"
    assert capacity.assumptions["predictor"]["extrapolated"] is True
    with pytest.raises(InputError, match="SLO impossible.*TPOT"):
        predicted_capacity(get_gpu("l4"), resolve_model("llama-2-13b"), 2, Slo(2.0, 10.0), CHAT)
    with pytest.raises(InputError, match="does not fit"):
        predicted_capacity(get_gpu("h100-80gb"), resolve_model("llama-2-70b"), 1, Slo(), CHAT)


def test_plan_uses_onnx_capacities_by_default(tmp_path):
    from preserve_cli.plan.capacity import capacity_provider
    from preserve_cli.plan.fleet import read_fleet

    fleet_file = tmp_path / "fleet.yaml"
    fleet_file.write_text(
        "slo: {ttft_p99_s: 2.0, tpot_p99_ms: 100}\n"
        "models:\n  chat: {config: llama-3.1-8b, series: [all]}\n"
        "pools:\n  - {name: h200-a, gpu: h200, region: r, tp: 1, min: 0, max: 4, usd_per_hour: 4.0, cold_start_s: 60}\n"
        "planning: {window: 1h, horizon: 1d, quantile: 0.9, headroom: 0.1, max_step_change: 0.5}\n")
    fleet = read_fleet(fleet_file)
    [entry] = fleet.models
    capacity = capacity_provider(fleet, None)("h200", entry, 1, CHAT)
    assert capacity.model == "chat"
    assert capacity.source == f"onnx:{shipped_predictors().id}:scaled-from-h100-80gb"
