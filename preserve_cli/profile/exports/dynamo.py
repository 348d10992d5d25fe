"""NVIDIA Dynamo SLA-planner interpolation data (ai-dynamo/dynamo docs/architecture/pre_deployment_profiling.md).

    <out>/selected_prefill_interpolation/raw_data.npz
        prefill_isl           input sequence lengths
        prefill_ttft          TTFT (ms) of one request of that length alone (batch 1)
        prefill_thpt_per_gpu  prompt tokens/s per GPU at that length
    <out>/selected_decode_interpolation/raw_data.npz
        max_kv_tokens         [M], KV tokens of the engine (one element)
        x_kv_usage            active KV fraction in [0, 1] of each point
        y_context_length      mean context (ISL + OSL/2) of each point
        z_itl                 inter-token latency (ms) of each point
        z_thpt_per_gpu        generated tokens/s per GPU of each point

Grids follow Dynamo's profiler: 16 prefill lengths from 100 tokens up to the context limit;
decode points on a (KV usage x context) grid, where a point holds floor(usage x M / context)
running requests. Points needing more requests than vLLM runs at once (max_num_seqs) or fewer
than one are left out, as a real sweep could not measure them. Prompts longer than vLLM's
per-step token budget (max_num_batched_tokens) are left out of the prefill grid for the same
reason: the predictors time one pass.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from preserve_cli.profile.exports.common import ExportRequest, write_npz
from preserve_cli.profile.first_order import DEFAULT_FACTORS, kv_capacity_tokens

GRID_POINTS = 16
KV_USAGE = np.round(np.arange(0.05, 1.0001, 0.05), 2)


def context_limit(request: ExportRequest) -> int:
    return int(min(request.model.max_position_embeddings, DEFAULT_FACTORS.max_num_batched_tokens))


def prefill_table(request: ExportRequest) -> dict[str, np.ndarray]:
    limit = context_limit(request)
    step = max(1, (limit - 100) // GRID_POINTS)
    isl = np.arange(100, limit + 1, step, dtype=np.float64)[:GRID_POINTS]
    ttft = request.latency().iterations(isl, 1.0, 0.0).iteration_ms
    return {"prefill_isl": isl, "prefill_ttft": ttft, "prefill_thpt_per_gpu": isl / (ttft / 1e3) / request.tp}


def decode_table(request: ExportRequest) -> dict[str, np.ndarray]:
    kv_tokens = kv_capacity_tokens(request.gpu, request.model, request.tp)
    limit = context_limit(request)
    contexts = np.unique(np.linspace(100, limit, GRID_POINTS).round())
    usage, context = (grid.ravel() for grid in np.meshgrid(KV_USAGE, contexts, indexing="ij"))
    batch = np.floor(usage * kv_tokens / context)
    keep = (batch >= 1) & (batch <= DEFAULT_FACTORS.max_num_seqs)
    usage, context, batch = usage[keep], context[keep], batch[keep]
    itl = request.latency().iterations(batch, batch, context).iteration_ms
    return {"max_kv_tokens": np.array([float(kv_tokens)]), "x_kv_usage": usage, "y_context_length": context,
            "z_itl": itl, "z_thpt_per_gpu": batch / (itl / 1e3) / request.tp}


def export_dynamo(request: ExportRequest, target: Path) -> list[Path]:
    prefill = target / "selected_prefill_interpolation" / "raw_data.npz"
    decode = target / "selected_decode_interpolation" / "raw_data.npz"
    write_npz(prefill, prefill_table(request))
    write_npz(decode, decode_table(request))
    return [prefill, decode]
