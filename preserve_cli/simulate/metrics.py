"""Metrics of one run, and the per-window timeline.

* TTFT = first token - arrival; TPOT = (finish - first token) / (output - 1), for outputs > 1;
  end-to-end = finish - arrival; normalized latency = end-to-end / output tokens (PreServe §5).
* `slo_attainment`: share of requests with TTFT <= the fleet's TTFT target and (outputs > 1)
  TPOT <= its TPOT target; both targets are the fleet's `slo:` p99 values, applied per request.
* `normalized_slo_attainment`: share with normalized latency <= `normalized_slo_s`, by default
  3 x the normalized latency of the workload's median request served alone (PreServe §5 sets
  its SLO at 3 x the isolated single-request normalized latency).
* GPU-hours and $ count every instance from launch (cold start included) to stop, on the
  simulated clock (a time-compressed replay runs the fleet for the compressed time).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from preserve_cli.profile.slo import Slo
from preserve_cli.simulate.engine import SimResult
from preserve_cli.simulate.timing import InstanceTiming

PERCENTILES = (50, 90, 99)


@dataclass(frozen=True)
class RequestTimes:
    arrival: np.ndarray
    ttft: np.ndarray
    tpot: np.ndarray          # NaN for one-token outputs
    e2e: np.ndarray
    normalized: np.ndarray
    served: np.ndarray        # bool: run (not rejected) and finished


def request_times(result: SimResult) -> RequestTimes:
    req = result.requests
    arrival = np.asarray(req.arrival)
    first = np.asarray(req.first_token)
    finish = np.asarray(req.finish)
    output = np.asarray(req.output, dtype=np.float64)
    served = ~result.rejected & np.isfinite(finish)
    e2e = finish - arrival
    with np.errstate(invalid="ignore", divide="ignore"):
        tpot = np.where(output > 1, (finish - first) / (output - 1), np.nan)
    return RequestTimes(arrival=arrival, ttft=first - arrival, tpot=tpot, e2e=e2e, normalized=e2e / output,
                        served=served)


def isolated_normalized_latency(timing: InstanceTiming, prompt: int, output: int) -> float:
    """End-to-end / output of one request alone on an idle instance (prefill, then output - 1 steps)."""
    timing.ensure_prompt_tokens(prompt)
    steps = max(0, output - 1)
    return (timing.prefill_s([prompt]) + timing.decode_s(1, prompt, steps)) / max(1, output)


def _percentiles(values: np.ndarray, prefix: str, unit: str) -> dict[str, float | None]:
    values = values[np.isfinite(values)]
    return {f"p{q}_{prefix}_{unit}": (float(np.percentile(values, q)) if values.size else None) for q in PERCENTILES}


def slo_met(times: RequestTimes, slo: Slo) -> np.ndarray:
    tpot_ok = np.isnan(times.tpot) | (times.tpot <= slo.tpot_p99_ms / 1e3)
    return times.served & (times.ttft <= slo.ttft_p99_s) & tpot_ok


def instance_seconds(result: SimResult) -> tuple[float, float, float]:
    """(instance-seconds, GPU-hours, $) over the run."""
    seconds = gpu_hours = usd = 0.0
    for inst in result.instances:
        alive = max(0.0, inst.stopped_at - inst.launched_at)
        seconds += alive
        gpu_hours += alive * inst.pool.tp / 3600
        usd += alive * inst.pool.usd_per_instance_hour / 3600
    return seconds, gpu_hours, usd


def summarize(result: SimResult, slo: Slo, normalized_slo_s: float) -> dict:
    times = request_times(result)
    served = times.served
    seconds, gpu_hours, usd = instance_seconds(result)
    changes = [a for a in result.actions if a.reason != "initial fleet"]
    normalized = times.normalized[served]
    out = {
        "scaler": result.scaler,
        "router": result.router,
        "requests": int(served.sum()),
        "rejected_too_long": int(result.rejected.sum()),
        "aborted": int(sum(result.requests.aborted)),
        "unfinished": int((~result.rejected & ~np.asarray(result.requests.aborted)
                           & ~np.isfinite(np.asarray(result.requests.finish))).sum()),
        **_percentiles(times.normalized[served], "normalized_latency", "s"),
        **_percentiles(times.ttft[served], "ttft", "s"),
        **_percentiles(times.tpot[served], "tpot", "s"),
        **_percentiles(times.e2e[served], "e2e", "s"),
        "mean_ttft_s": float(times.ttft[served].mean()) if served.any() else None,
        "slo_attainment": float(slo_met(times, slo)[served].mean()) if served.any() else None,
        "normalized_slo_s": normalized_slo_s,
        "normalized_slo_attainment": float((normalized <= normalized_slo_s).mean()) if served.any() else None,
        "gpu_hours": gpu_hours,
        "cost_usd": usd,
        "mean_instances": seconds / result.end_s if result.end_s > 0 else 0.0,
        "peak_instances": _peak_instances(result),
        "scaling_actions": len(changes),
        "instances_launched": sum(a.change for a in changes if a.change > 0),
        "instances_removed": -sum(a.change for a in changes if a.change < 0),
        "preemptions": int(sum(result.requests.preemptions)),
        "simulated_s": result.end_s,
    }
    return out


def _peak_instances(result: SimResult) -> int:
    edges = sorted([(i.launched_at, 1) for i in result.instances] + [(i.stopped_at, -1) for i in result.instances],
                   key=lambda e: (e[0], e[1]))
    count = peak = 0
    for _, change in edges:
        count += change
        peak = max(peak, count)
    return peak


def timeline(result: SimResult, slo: Slo, window_s: float) -> list[dict]:
    """One row per window of the simulated clock: traffic, latency, SLO and fleet size."""
    times = request_times(result)
    n_windows = max(1, math.ceil(result.end_s / window_s))
    starts = np.arange(n_windows) * window_s
    index = np.minimum((times.arrival // window_s).astype(np.int64), n_windows - 1)
    met = slo_met(times, slo)
    launched = np.array([i.launched_at for i in result.instances])
    stopped = np.array([i.stopped_at for i in result.instances])
    tp = np.array([i.pool.tp for i in result.instances], dtype=np.float64)
    overlap = np.clip(np.minimum(stopped[:, None], starts[None, :] + window_s)
                      - np.maximum(launched[:, None], starts[None, :]), 0.0, None) if len(launched) else \
        np.zeros((0, n_windows))
    rows = []
    for k in range(n_windows):
        mine = (index == k) & times.served
        normalized = times.normalized[mine]
        rows.append({
            "window_start_s": float(starts[k]),
            "arrivals": int((index == k).sum()),
            "served": int(mine.sum()),
            "p99_normalized_latency_s": float(np.percentile(normalized, 99)) if normalized.size else None,
            "p99_ttft_s": float(np.percentile(times.ttft[mine], 99)) if normalized.size else None,
            "slo_attainment": float(met[mine].mean()) if normalized.size else None,
            "mean_instances": float(overlap[:, k].sum() / window_s),
            "gpu_hours": float((overlap[:, k] * tp).sum() / 3600),
        })
    return rows
