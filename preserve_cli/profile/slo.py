"""Service-level objectives and the workload shape capacities are computed for.

Default SLO: TTFT p99 2 s and TPOT p99 100 ms, the MLPerf Inference latency
constraints for the llama3_1-8b Server scenario (mlcommons/inference
`loadgen/mlperf.conf`, quoted in shared/research/published-throughput.md). The
llama2-70b Server scenario uses 2 s / 200 ms; tighten or loosen per service.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_TTFT_P99_S = 2.0
DEFAULT_TPOT_P99_MS = 100.0


@dataclass(frozen=True)
class Slo:
    ttft_p99_s: float = DEFAULT_TTFT_P99_S
    tpot_p99_ms: float = DEFAULT_TPOT_P99_MS


@dataclass(frozen=True)
class WorkloadShape:
    """Mean tokens per request; capacity depends on it (KV per request, prefill chunk sizes).

    The planner derives it from the demand history (prefill_tokens / requests and
    decode_tokens / requests).
    """

    mean_input_tokens: float
    mean_output_tokens: float
