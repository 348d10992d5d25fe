"""AIBrix GPU-optimizer profile JSON (vllm-project/aibrix python/aibrix/aibrix/gpu_optimizer/
optimizer/profiling/gen_profile.py; example result/simulator-llama2-7b-a100.json):

    {"gpu": deployment, "cost": $/hour, "tputs": [[max requests/s within the SLO per (output, input)
     bucket]], "indexes": [[output buckets], [input buckets]], "created": unix time,
     "e2e": [[mean end-to-end latency, s]], "ttft": [[s]], "slos": {"percentile": 99, "ttft": s, "tpot": s}}

Rows are output buckets, columns input buckets (the layout gen_profile.py writes). A bucket's
throughput is what one instance sustains for requests of that shape: the capacity the planner
uses, mu_t / (input + output) requests/s; 0 where the SLO cannot be met, as AIBrix writes it.
Latency: TTFT of one prompt alone plus output x the decode step at the capacity's batch.
`created` is SOURCE_DATE_EPOCH when set (reproducible-builds convention), else 0, so the same
inputs give the same bytes.
"""

from __future__ import annotations

import os
from pathlib import Path

from preserve_cli.errors import InputError
from preserve_cli.fileio import atomic_path, dump_json
from preserve_cli.profile.exports.common import ExportRequest
from preserve_cli.profile.predicted import predicted_capacity
from preserve_cli.profile.slo import WorkloadShape

# The buckets of AIBrix's published example profile (powers of two).
OUTPUT_BUCKETS = (4, 8, 16, 32, 64, 128, 256, 512)
INPUT_BUCKETS = (128, 256, 512, 1024, 2048)


def aibrix_profile(request: ExportRequest) -> dict:
    tputs, e2e, ttft = [], [], []
    for output in OUTPUT_BUCKETS:
        rows = ([], [], [])
        for prompt in INPUT_BUCKETS:
            try:
                capacity = predicted_capacity(request.gpu, request.model, request.tp, request.slo,
                                              WorkloadShape(prompt, output), user_set=request.user_set)
            except InputError:
                rows[0].append(0.0), rows[1].append(0.0), rows[2].append(0.0)
                continue
            derived = capacity.assumptions["derived"]
            first_token = derived["ttft_mean_prompt_s"]
            rows[0].append(capacity.mixed_tokens_per_s / (prompt + output))
            rows[1].append(first_token + output * derived["decode_step_ms"] / 1e3)
            rows[2].append(first_token)
        tputs.append(rows[0]), e2e.append(rows[1]), ttft.append(rows[2])
    return {
        "gpu": request.deployment or request.gpu.key, "cost": request.usd_per_hour, "tputs": tputs,
        "indexes": [list(OUTPUT_BUCKETS), list(INPUT_BUCKETS)],
        "created": float(os.environ.get("SOURCE_DATE_EPOCH", "0")), "e2e": e2e, "ttft": ttft,
        "slos": {"percentile": 99, "ttft": request.slo.ttft_p99_s, "tpot": request.slo.tpot_p99_ms / 1e3},
    }


def export_aibrix(request: ExportRequest, target: Path) -> list[Path]:
    with atomic_path(target) as tmp:
        tmp.write_text(dump_json(aibrix_profile(request)), encoding="utf-8")
    return [target]
