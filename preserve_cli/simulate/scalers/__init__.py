"""Scalers: decide how many instances each pool runs. One module per scaler, registered by name.

A scaler has `name`, `interval_s` (0: never ticks), optionally `needs_anticipator = True`,
`start(sim) -> {pool: instances}` (the warm fleet at t = 0) and `tick(sim, now)`, which calls
`sim.set_target`, `sim.launch` or `sim.drain`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from preserve_cli.errors import InputError
from preserve_cli.simulate.scalers.context import pool_capacity, window_forecast
from preserve_cli.simulate.scalers.lt_u import LtuScaler
from preserve_cli.simulate.scalers.plan_replay import PlanReplayScaler, read_schedule
from preserve_cli.simulate.scalers.preserve import PreServeScaler
from preserve_cli.simulate.scalers.reactive import ReactiveScaler
from preserve_cli.simulate.scalers.static import StaticScaler


@dataclass(frozen=True)
class ScalerSetup:
    """Everything a scaler may need; each factory takes what it uses."""

    pools: list            # SimPool, the first is the one single-pool scalers manage
    workload: object
    slo: object
    model: str
    instances: int = 8
    window_s: float = 600.0
    forecast: str = "oracle"
    plan: str | None = None
    align: str = "absolute"
    capacity: str = "measured"
    capacity_cache: dict | None = None   # shared by the runs of one comparison (same workload)


def _static(s: ScalerSetup):
    return StaticScaler(s.instances, s.pools[0].name)


def _reactive(s: ScalerSetup):
    return ReactiveScaler(s.pools[0].name, s.instances)


def _capacity(s: ScalerSetup):
    return pool_capacity(s.pools[0], s.workload, s.slo, s.capacity, s.window_s, s.capacity_cache)


def _preserve(s: ScalerSetup):
    return PreServeScaler(s.pools[0].name, _capacity(s), window_forecast(s.workload, s.window_s, s.forecast))


def _lt_u(s: ScalerSetup):
    return LtuScaler(s.pools[0].name, _capacity(s), window_forecast(s.workload, s.window_s, s.forecast),
                     s.pools[0].cold_start_s)


def _plan(s: ScalerSetup):
    if not s.plan:
        raise InputError("the plan scaler needs a schedule", field="--plan",
                         fix="pass --plan plan/schedule.yaml (written by `preserve plan`)")
    schedule = read_schedule(s.plan, s.model)
    known = {p.name for p in s.pools}
    for pool in schedule.replicas:
        if pool not in known:
            raise InputError(f"pool {pool!r} is not in the fleet", file=s.plan, field=f"deployments.{pool}",
                             fix="pass the fleet.yaml the plan was made from (--fleet)")
    return PlanReplayScaler(schedule, s.workload, {p.name: p.cold_start_s for p in s.pools}, s.align)


SCALERS: dict[str, Callable[[ScalerSetup], object]] = {
    "static": _static, "reactive": _reactive, "preserve": _preserve, "lt-u": _lt_u, "plan": _plan,
}


def make_scaler(name: str, setup: ScalerSetup):
    factory = SCALERS.get(name)
    if factory is None:
        raise InputError(f"unknown scaler {name!r}", field="--scaler", fix=f"use one of: {', '.join(SCALERS)}")
    return factory(setup)
