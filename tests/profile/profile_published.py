"""Published serving measurements and both capacity models' predictions for them.

Numbers are copied from shared/research/published-throughput.md (row numbers below) and the
sources it cites; the tests hard-code them here on purpose (the product never reads shared/).
Run `python tests/profile/profile_published.py` to print the predicted/published table that
docs/capacity-model.md shows (first-order and ONNX-predictor columns).

Kinds of rows:
* "ttft": batch-1 prefill latency of one prompt -> compare the prefill pass time.
* "throughput": vLLM v0.6.0 at QPS=inf on ShareGPT -> compare requests/s = mu_t / (I + O).
* "tpot": vLLM v0.6.0 TPOT at a request rate; the decode batch is estimated with Little's law
  from the published median end-to-end latency (SG rows) or solved for (V06 rows), and
  prefill passes stall decoding for the fraction rate * I / mu_p of the time.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from preserve_cli.profile.catalog import get_gpu, resolve_model
from preserve_cli.profile.first_order import (
    decode_step_seconds,
    first_order_capacity,
    prefill_seconds,
)
from preserve_cli.profile.predicted import latency_model, predicted_capacity
from preserve_cli.profile.slo import Slo, WorkloadShape

# ShareGPT sample of the vLLM v0.6.0 blog (V06): "Average input tokens: 202, average output tokens: 179".
SHAREGPT_V06 = WorkloadShape(202, 179)
# SGLang's vLLM-0.6.0 comparison (SG) publishes output tok/s / req/s = 194.3 tokens per request; its
# mean input is not published, so the V06 mean input (same dataset, another sample) stands in.
SHAREGPT_SG = WorkloadShape(202, 194.3)
# Throughput runs at QPS=inf have no latency limit; a loose SLO keeps the batch at vLLM's own limits.
UNCONSTRAINED = Slo(ttft_p99_s=60.0, tpot_p99_ms=1000.0)


@dataclass(frozen=True)
class PublishedRow:
    row: str            # row in published-throughput.md
    kind: str           # "ttft", "throughput" or "tpot"
    gpu: str
    model: str
    tp: int
    published: float    # seconds (ttft), requests/s (throughput) or ms (tpot)
    workload: WorkloadShape
    rate: float = 0.0               # requests/s offered (tpot rows)
    median_e2e_s: float | None = None  # published median end-to-end latency (tpot rows, SG)
    calibration: bool = False       # used to fit the per-step overhead factors
    note: str = ""


ROWS = (
    PublishedRow("26", "ttft", "a100-80gb", "llama-2-7b", 1, 0.1324, WorkloadShape(2048, 1),
                 note="TRT-LLM 0.9.0 FP16, ISL 2048, batch 1"),
    PublishedRow("26", "ttft", "a100-80gb", "llama-2-70b", 8, 0.2492, WorkloadShape(2048, 1),
                 note="TRT-LLM 0.9.0 FP16, TP8, ISL 2048, batch 1"),
    PublishedRow("SG", "tpot", "a100-80gb", "llama-3.1-8b", 1, 14.14, SHAREGPT_SG, rate=4, median_e2e_s=1.692,
                 calibration=True, note="vLLM 0.6.0 median TPOT at 4 req/s"),
    PublishedRow("SG", "tpot", "a100-80gb", "llama-3.1-8b", 1, 17.09, SHAREGPT_SG, rate=8, median_e2e_s=2.137,
                 calibration=True, note="vLLM 0.6.0 median TPOT at 8 req/s"),
    PublishedRow("SG", "tpot", "h100-80gb", "llama-3.1-70b", 4, 23.58, SHAREGPT_SG, rate=4, median_e2e_s=2.916,
                 calibration=True, note="vLLM 0.6.0 median TPOT at 4 req/s"),
    PublishedRow("SG", "tpot", "h100-80gb", "llama-3.1-70b", 4, 29.15, SHAREGPT_SG, rate=8, median_e2e_s=3.752,
                 calibration=True, note="vLLM 0.6.0 median TPOT at 8 req/s"),
    PublishedRow("30", "tpot", "a100-80gb", "llama-3-8b", 1, 17.0, SHAREGPT_V06, rate=8,
                 note="V06 TPOT read off chart, 8 req/s"),
    PublishedRow("32", "tpot", "h100-80gb", "llama-3-8b", 1, 10.5, SHAREGPT_V06, rate=16,
                 note="V06 TPOT read off chart, 16 req/s"),
    PublishedRow("33", "tpot", "h100-80gb", "llama-3-70b", 4, 30.0, SHAREGPT_V06, rate=8,
                 note="V06 TPOT read off chart, 8 req/s"),
    PublishedRow("30", "throughput", "a100-80gb", "llama-3-8b", 1, 19.0, SHAREGPT_V06, note="V06, 500 prompts"),
    PublishedRow("31", "throughput", "a100-80gb", "llama-3-70b", 4, 8.5, SHAREGPT_V06, note="V06, 500 prompts"),
    PublishedRow("32", "throughput", "h100-80gb", "llama-3-8b", 1, 36.9, SHAREGPT_V06, note="V06, 500 prompts"),
    PublishedRow("33", "throughput", "h100-80gb", "llama-3-70b", 4, 17.3, SHAREGPT_V06, note="V06, 500 prompts"),
    PublishedRow("34", "throughput", "a100-80gb", "llama-3.1-8b", 1, 21.27, SHAREGPT_SG, note="SG, 5000 prompts"),
    PublishedRow("35", "throughput", "h100-80gb", "llama-3.1-70b", 4, 19.04, SHAREGPT_SG, note="SG, 5000 prompts"),
)


@dataclass(frozen=True)
class CapacityModel:
    """What a comparison needs from a capacity model: prefill pass, decode step, capacity."""

    name: str
    prefill_s: object     # (gpu, model, tp, prompt tokens) -> seconds
    decode_step_s: object  # (gpu, model, tp, batch, context) -> seconds
    capacity: object      # (gpu, model, tp, slo, workload) -> InstanceCapacity


FIRST_ORDER = CapacityModel(
    "first-order", prefill_s=lambda g, m, tp, tokens: prefill_seconds(g, m, tp, tokens),
    decode_step_s=lambda g, m, tp, batch, context: decode_step_seconds(g, m, tp, batch, context),
    capacity=first_order_capacity)
def _onnx_seconds(g, m, tp: int, tokens: float, batch: float, context: float) -> float:
    return float(latency_model(g, m, tp).iterations(tokens, batch, context).iteration_ms[0]) / 1e3


ONNX = CapacityModel(
    "onnx", prefill_s=lambda g, m, tp, tokens: _onnx_seconds(g, m, tp, tokens, 1, 0),
    decode_step_s=lambda g, m, tp, batch, context: _onnx_seconds(g, m, tp, batch, batch, context),
    capacity=predicted_capacity)
MODELS = (FIRST_ORDER, ONNX)


def _predicted_tpot_ms(row: PublishedRow, how: CapacityModel) -> float:
    gpu, model = get_gpu(row.gpu), resolve_model(row.model)
    shape = row.workload
    capacity = how.capacity(gpu, model, row.tp, UNCONSTRAINED, shape)
    stall = row.rate * shape.mean_input_tokens / capacity.prefill_tokens_per_s
    context = shape.mean_input_tokens + shape.mean_output_tokens / 2

    def tpot(batch: float) -> float:
        return how.decode_step_s(gpu, model, row.tp, max(1, round(batch)), context) / (1 - stall)

    if row.median_e2e_s is not None:
        return tpot(row.rate * row.median_e2e_s) * 1e3
    batch = 1.0
    for _ in range(50):  # Little's law fixed point: batch = rate * output tokens * TPOT
        batch = min(256.0, row.rate * shape.mean_output_tokens * tpot(batch))
    return tpot(batch) * 1e3


def predict(row: PublishedRow, how: CapacityModel = FIRST_ORDER) -> float:
    gpu, model = get_gpu(row.gpu), resolve_model(row.model)
    if row.kind == "ttft":
        return how.prefill_s(gpu, model, row.tp, row.workload.mean_input_tokens)
    if row.kind == "throughput":
        capacity = how.capacity(gpu, model, row.tp, UNCONSTRAINED, row.workload)
        return capacity.mixed_tokens_per_s / (row.workload.mean_input_tokens + row.workload.mean_output_tokens)
    return _predicted_tpot_ms(row, how)


def ratio(row: PublishedRow, how: CapacityModel = FIRST_ORDER) -> float:
    """Predicted / published (for latencies below 1 means the model is optimistic)."""
    return predict(row, how) / row.published


def markdown_table() -> str:
    unit = {"ttft": "s", "throughput": "req/s", "tpot": "ms"}
    lines = ["| row | what | GPU x TP | model | published | first-order | ratio | ONNX | ratio | overheads fitted to |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for row in ROWS:
        cells = [f"{predict(row, how):.4g} {unit[row.kind]} | {ratio(row, how):.2f}" for how in MODELS]
        lines.append(
            f"| {row.row} | {row.kind} ({row.note}) | {row.tp}x{row.gpu} | {row.model} | "
            f"{row.published:.4g} {unit[row.kind]} | {' | '.join(cells)} | {'yes' if row.calibration else 'no'} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(markdown_table() + "\n")
