"""Library entry points: `simulate_fleet` (one scaler x router run) and `compare` (several, same trace and seed).

The fleet comes from fleet.yaml: the simulated model (`model`, default the fleet's first) and the
pools that serve it. Single-pool scalers (static, reactive, preserve, lt-u) manage `pool` (default:
the first pool serving the model); the plan scaler runs every pool its schedule names.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from preserve_cli.errors import InputError
from preserve_cli.loadpred.base import OutputLengthPredictor
from preserve_cli.plan.fleet import Fleet
from preserve_cli.simulate.engine import SimPool, SimResult, simulate
from preserve_cli.simulate.lengths import (
    LENGTH_MODES,
    length_mode_name,
    predicted_lengths,
)
from preserve_cli.simulate.metrics import (
    isolated_normalized_latency,
    summarize,
    timeline,
)
from preserve_cli.simulate.routers import make_router
from preserve_cli.simulate.scalers import ScalerSetup, make_scaler
from preserve_cli.simulate.timing import instance_timing
from preserve_cli.simulate.workload import Workload

# PreServe §5: the SLO on normalized latency is 3x the isolated single-request normalized latency.
NORMALIZED_SLO_FACTOR = 3.0


@dataclass(frozen=True)
class SimulationOptions:
    scaler: str = "static"
    router: str = "least-requests"
    lengths: str | OutputLengthPredictor = "true"
    seed: int = 0
    instances: int = 8                 # static fleet size; the reactive scaler's starting size
    model: str | None = None
    pool: str | None = None
    window_s: float = 600.0            # tier-1 window of the preserve and lt-u scalers (PreServe: 10 min)
    forecast: str = "oracle"
    capacity: str = "measured"         # per-instance mu of preserve and lt-u: measured (Alg. 1) or profile
    plan: str | None = None
    align: str = "absolute"
    normalized_slo_s: float | None = None
    timeline_window_s: float = 300.0   # PreServe aggregates its Fig. 8 in 5-minute bins


@dataclass
class SimRun:
    options: SimulationOptions
    result: SimResult
    metrics: dict
    timeline: list[dict] = field(default_factory=list)


def fleet_pools(fleet: Fleet, model: str | None) -> tuple[str, list[SimPool]]:
    """The simulated model's name and a SimPool per fleet pool that serves it."""
    from preserve_cli.profile.catalog import get_gpu, resolve_model

    if model is None:
        entry = fleet.models[0]
    else:
        try:
            entry = fleet.model(model)
        except KeyError:
            raise InputError(f"model {model!r} is not in the fleet", file=fleet.source or None, field="models",
                             fix=f"use one of: {', '.join(m.name for m in fleet.models)}") from None
    spec = resolve_model(entry.config)
    pools = []
    for pool in fleet.pools:
        if pool.serves(entry.name) and (entry.regions is None or pool.region in entry.regions):
            pools.append(SimPool(name=pool.name, gpu=pool.gpu, model=entry.config, tp=pool.tp,
                                 cold_start_s=float(pool.cold_start_s),
                                 usd_per_instance_hour=pool.usd_per_instance_hour,
                                 timing=instance_timing(get_gpu(pool.gpu), spec, pool.tp),
                                 min_replicas=pool.min, max_replicas=pool.max))
    return entry.name, pools


def _check(options: SimulationOptions) -> None:
    if isinstance(options.lengths, str) and options.lengths not in LENGTH_MODES:
        raise InputError(f"unknown length mode {options.lengths!r}", field="--lengths",
                         fix=f"use one of: {', '.join(LENGTH_MODES)}, or --length-predictor PATH")
    if options.instances < 1:
        raise InputError(f"{options.instances} instances", field="--instances", fix="run at least 1 instance")
    if not options.timeline_window_s > 0:
        raise InputError("timeline window must be > 0", field="--timeline-window", fix="write e.g. 5m")


def simulate_fleet(workload: Workload, fleet: Fleet, options: SimulationOptions,
                   capacity_cache: dict | None = None) -> SimRun:
    """Replay `workload` on `fleet` with one scaler and one router; metrics and timeline.

    `capacity_cache`: a dict reused across runs on the same workload (what `compare` passes), so the
    measured-capacity calibration replays run once."""
    _check(options)
    model, pools = fleet_pools(fleet, options.model)
    if options.scaler != "plan":
        chosen = [p for p in pools if options.pool in (None, p.name)]
        if not chosen:
            raise InputError(f"pool {options.pool!r} does not serve {model}", file=fleet.source or None,
                             field="pools", fix=f"use one of: {', '.join(p.name for p in pools)}")
        # A single-pool scaler decides the fleet size itself: pool min/max do not bind it.
        pools = [replace(chosen[0], min_replicas=0, max_replicas=1_000_000)]
    setup = ScalerSetup(pools=pools, workload=workload, slo=fleet.slo, model=model, instances=options.instances,
                        window_s=options.window_s, forecast=options.forecast, plan=options.plan, align=options.align,
                        capacity=options.capacity, capacity_cache=capacity_cache)
    scaler = make_scaler(options.scaler, setup)
    router = make_router(options.router)
    lengths = predicted_lengths(workload, options.lengths, options.seed)
    result = simulate(workload, pools, router, scaler, lengths)
    normalized_slo = options.normalized_slo_s
    if normalized_slo is None:
        prompt = round(_median(workload.input_tokens))
        output = max(1, round(_median(workload.output_tokens)))
        normalized_slo = NORMALIZED_SLO_FACTOR * isolated_normalized_latency(pools[0].timing, max(1, prompt), output)
    metrics = summarize(result, fleet.slo, normalized_slo)
    capacity = getattr(scaler, "capacity", None)
    if capacity is not None:
        metrics["instance_capacity"] = {"prefill_tokens_per_s": capacity.prefill_tokens_per_s,
                                        "decode_tokens_per_s": capacity.decode_tokens_per_s,
                                        "mixed_tokens_per_s": capacity.mixed_tokens_per_s, "source": capacity.source}
    metrics["lengths"] = length_mode_name(options.lengths)
    metrics["seed"] = options.seed
    return SimRun(options=options, result=result, metrics=metrics,
                  timeline=timeline(result, fleet.slo, options.timeline_window_s))


def _median(values) -> float:
    import numpy as np

    return float(np.median(values)) if len(values) else math.nan


def compare(workload: Workload, fleet: Fleet, combos: list[tuple[str, str]], options: SimulationOptions,
            progress=None) -> list[SimRun]:
    """Run every (scaler, router) pair on the same workload and seed."""
    if not combos:
        raise InputError("nothing to compare", field="--scalers/--routers", fix="name at least one scaler and router")
    runs = []
    cache: dict = {}
    for scaler, router in combos:
        runs.append(simulate_fleet(workload, fleet, replace(options, scaler=scaler, router=router), cache))
        if progress is not None:
            progress()
    return runs
