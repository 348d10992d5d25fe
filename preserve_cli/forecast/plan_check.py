"""Judge forecasts by the plans they lead to: GPU-hours, and windows the plan could not serve.

For each model and backtest origin, the forecast from that origin (all series and
metrics) goes through the planner (`preserve_cli.plan.planner.make_plan`) with the
fleet's settings, the planning window set to the demand's. The plan's replicas are
then checked against the demand that actually came, with the planner's own capacity
model (`preserve_cli.plan.allocate.need`): a window is a miss when the replicas of a
fleet model serve less than all of its actual prefill and decode tokens, i.e.
sum_i n_i / r_i(actual) < 1. The plan's headroom counts as capacity (it is what the
fleet would run).

A forecast so high that the fleet cannot hold its plan (the planner's "pool max"
error) gets no plan: an operator would run every pool at max, so its GPU-hours are
counted at max for the horizon, and every window of that origin counts as a miss
(the plan failed). How often that happened is reported per model.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from preserve_cli.errors import InputError
from preserve_cli.forecast.backtest import Backtest, Scored
from preserve_cli.forecast.schema import Forecast

EPS = 1e-9   # the planner's own tolerance for "covered"
# The cheapest-first planner by default: the integer program took 177 s for the 56
# plans of a 7-origin hourly day-ahead backtest of 8 models here (2-core machine),
# the greedy one a few seconds; both size replicas from the same forecast quantile.
GREEDY = "greedy"


@dataclass
class PlanScore:
    model: str
    origins: int = 0
    infeasible_origins: int = 0
    gpu_hours: float = 0.0
    windows: int = 0          # windows with an actual to compare with
    missed: int = 0
    examples: list[str] = field(default_factory=list)   # the first infeasibility messages

    @property
    def miss_share(self) -> float:
        return self.missed / self.windows if self.windows else float("nan")


@dataclass(frozen=True)
class PlanCheck:
    fleet: str
    quantile: float
    scores: list[PlanScore]
    skipped: str = ""         # why plans were not judged at all (empty when they were)


def plan_fleet(fleet_path: str | Path | None, window_s: int, planner: str | None = GREEDY,
               series_keys: list[str] | None = None):
    """The fleet plans are made with: its planning window set to the demand's, and the
    planner set to `planner` (None: the fleet's own). The bundled example fleet (no
    `fleet_path`) serves one model; given a demand of one series, it serves that one."""
    from preserve_cli.plan.fleet import read_fleet
    from preserve_cli.plan.pipeline import default_fleet_path

    fleet = read_fleet(fleet_path or default_fleet_path())
    planning = dataclasses.replace(fleet.planning, window_s=window_s)
    if planner is not None:
        planning = dataclasses.replace(planning, planner=planner)
    fleet = dataclasses.replace(fleet, planning=planning)
    if fleet_path is None and series_keys and len(series_keys) == 1 and len(fleet.models) == 1:
        fleet = dataclasses.replace(fleet, models=(dataclasses.replace(fleet.models[0], series=tuple(series_keys)),))
    return fleet


def check_plans(backtest: Backtest, fleet_path: str | Path | None = None, *,
                planner: str | None = GREEDY) -> PlanCheck:
    from preserve_cli.plan.capacity import capacity_provider

    keys = sorted({r.forecast.key for r in backtest.results})
    fleet = plan_fleet(fleet_path, backtest.window_s, planner, keys)
    source = str(fleet_path) if fleet_path else f"the bundled example fleet, serving {', '.join(keys)}"
    quantile = fleet.planning.quantile
    if quantile not in backtest.levels:
        return PlanCheck(source, quantile, [], f"the backtest has no p{quantile * 100:g} (planning.quantile)")
    capacity_of = capacity_provider(fleet, None)
    results = []
    for model in backtest.models:
        result = PlanScore(model)
        for origin in backtest.origins:
            items = [r for r in backtest.of(model) if r.origin == origin]
            if not items:
                continue
            try:
                _judge_origin(items, fleet, capacity_of, result)
            except InputError as exc:
                if not _is_capacity_limit(exc):
                    return PlanCheck(source, quantile, [], exc.one_line())
                _count_infeasible(items, fleet, result, exc.problem)
        results.append(result)
    return PlanCheck(source, quantile, results)


def _is_capacity_limit(exc: InputError) -> bool:
    """The planner's "the pools cannot hold this demand" errors (greedy: pools[].max;
    integer program: pools[].max / gpu_limits, or no plan meeting every limit)."""
    return any(part in (exc.field or "") for part in ("pools[].max", "pools / gpu_limits"))


def _actual(items: list[Scored], keys: list[str], metric: str) -> np.ndarray:
    parts = [r.actual for r in items if r.forecast.key in keys and r.forecast.metric == metric]
    return np.sum(parts, axis=0) if parts else np.full(len(items[0].actual), np.nan)


def _judge_origin(items: list[Scored], fleet, capacity_of, result: PlanScore) -> None:
    from preserve_cli.plan.allocate import need
    from preserve_cli.plan.planner import make_plan, series_for_model

    forecast = Forecast(window_s=items[0].forecast.window_s, series=[r.forecast for r in items])
    plan = make_plan(forecast, fleet, capacity_of, forecast_file="backtest forecast")
    result.origins += 1
    result.gpu_hours += sum(plan.gpu_hours(d.name) for d in plan.deployments)
    window_s = plan.window_s
    for entry in fleet.models:
        keys = series_for_model(forecast, entry, fleet, [])
        prefill = _actual(items, keys, "prefill_tokens") / window_s
        decode = _actual(items, keys, "decode_tokens") / window_s
        serving = [d for d in plan.deployments if d.model == entry.name]
        for k in range(len(plan.starts)):
            if np.isnan(prefill[k]) or np.isnan(decode[k]):
                continue
            result.windows += 1
            served = 0.0
            for d in serving:
                replicas_for_all = need(d, float(prefill[k]), float(decode[k])).replicas_for_all
                served += float(plan.replicas[d.name][k]) / replicas_for_all if replicas_for_all > 0 else np.inf
            if served < 1 - EPS:
                result.missed += 1


def _count_infeasible(items: list[Scored], fleet, result: PlanScore, problem: str) -> None:
    windows = len(items[0].actual)
    result.origins += 1
    result.infeasible_origins += 1
    result.gpu_hours += sum(p.max * p.tp for p in fleet.pools) * windows * fleet.planning.window_s / 3600
    known = np.ones(windows, dtype=bool)
    for r in items:
        if r.forecast.metric in ("prefill_tokens", "decode_tokens"):
            known &= ~np.isnan(r.actual)
    result.windows += int(known.sum())
    result.missed += int(known.sum())
    if len(result.examples) < 2:
        result.examples.append(problem)
