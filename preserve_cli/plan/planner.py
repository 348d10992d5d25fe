"""forecast + capacity + fleet -> Plan."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from preserve_cli.errors import InputError
from preserve_cli.forecast.schema import Forecast, quantile_column
from preserve_cli.plan.allocate import allocate_window, routing_shares
from preserve_cli.plan.fleet import Fleet, ModelEntry
from preserve_cli.plan.model import Deployment, ModelDemand, Plan
from preserve_cli.plan.smoothing import limit_step_change, schedule_segments
from preserve_cli.profile.schema import InstanceCapacity
from preserve_cli.profile.slo import WorkloadShape

# (gpu, model entry, tp, workload) -> capacity of one instance
CapacityProvider = Callable[[str, ModelEntry, int, WorkloadShape], InstanceCapacity]


def series_for_model(forecast: Forecast, model: ModelEntry, fleet: Fleet, notes: list[str]) -> list[str]:
    available = forecast.keys()
    wanted = [s for s in model.series if s in available]
    if wanted:
        return wanted
    if len(fleet.models) == 1 and len(available) == 1 and model.series == (model.name,):
        notes.append(f"model {model.name} plans for the only demand series, {available[0]!r}")
        return available
    raise InputError(
        f"no demand series for model {model.name!r} (looked for {', '.join(model.series)}; "
        f"the demand has {', '.join(available)})",
        file=fleet.source, field=f"models.{model.name}.series",
        fix="list the demand series that belong to this model under series:",
    )


def _summed_quantile(forecast: Forecast, keys: list[str], metric: str, q: float, starts: np.ndarray,
                     file: str) -> tuple[np.ndarray, str]:
    total = np.zeros(len(starts))
    models = []
    for key in keys:
        s = forecast.get(key, metric)
        if q not in s.quantiles:
            have = ", ".join(quantile_column(x) for x in sorted(s.quantiles))
            raise InputError(f"the forecast has no {quantile_column(q)} column (it has {have})", file=file,
                             field=quantile_column(q),
                             fix=f"re-run `preserve forecast --quantiles 0.5,{q:g}` or set planning.quantile to one it has")
        if len(s.starts) != len(starts) or (s.starts != starts).any():
            raise InputError(f"series {key!r} {metric} covers other windows than the plan", file=file,
                             field="window_start", fix="forecast every series over the same windows")
        values = s.quantiles[q]
        if np.isnan(values).any():
            raise InputError(f"series {key!r} {metric} has empty {quantile_column(q)} cells", file=file,
                             field=quantile_column(q), fix="forecast every window of the horizon")
        total += values
        models.append(s.model)
    return total, "+".join(sorted(set(models)))


def _workload(forecast: Forecast, keys: list[str]) -> WorkloadShape:
    """Mean tokens per request over the horizon (p50), the shape capacity is computed for."""
    sums = {}
    for metric in ("requests", "prefill_tokens", "decode_tokens"):
        sums[metric] = 0.0
        for key in keys:
            try:
                sums[metric] += float(np.nansum(forecast.get(key, metric).quantiles[0.5]))
            except KeyError:
                sums[metric] = float("nan")
    if not sums["requests"] > 0 or np.isnan(sums["requests"]):
        raise InputError("cannot derive tokens per request: the forecast has no requests series",
                         field="requests", fix="forecast the requests metric too (preserve forecast does by default)")
    return WorkloadShape(mean_input_tokens=sums["prefill_tokens"] / sums["requests"],
                         mean_output_tokens=sums["decode_tokens"] / sums["requests"])


def deployment_name(pool_name: str, model: str, fleet: Fleet) -> str:
    models_served = [m.name for m in fleet.models if any(p.name == pool_name and p.serves(m.name) for p in fleet.pools)]
    return pool_name if len(models_served) == 1 else f"{pool_name}-{model}"


def make_plan(forecast: Forecast, fleet: Fleet, capacity_of: CapacityProvider, *,
              forecast_file: str = "forecast", previous=None) -> Plan:
    """`previous` (guard.PreviousPlan, optional): the plan in force; the integer
    program then charges for going below it, so re-plans do not swing."""
    planning = fleet.planning
    if forecast.window_s != planning.window_s:
        raise InputError(f"forecast windows are {forecast.window_s}s but planning.window is {planning.window_s}s",
                         file=fleet.source, field="planning.window",
                         fix="forecast with the plan's window, or set planning.window to match")
    notes: list[str] = []
    first = forecast.series[0]
    starts = first.starts
    q = planning.quantile
    deployments: list[Deployment] = []
    demand: dict[str, ModelDemand] = {}
    for model in fleet.models:
        keys = series_for_model(forecast, model, fleet, notes)
        prefill, used = _summed_quantile(forecast, keys, "prefill_tokens", q, starts, forecast_file)
        decode, _ = _summed_quantile(forecast, keys, "decode_tokens", q, starts, forecast_file)
        if len(keys) > 1:
            notes.append(f"model {model.name}: {quantile_column(q)} of {len(keys)} series summed (conservative)")
        demand[model.name] = ModelDemand(model.name, prefill, decode, used)
        shape = _workload(forecast, keys)
        for pool in fleet.pools:
            if pool.serves(model.name) and (model.regions is None or pool.region in model.regions):
                deployments.append(Deployment(
                    name=deployment_name(pool.name, model.name, fleet), pool=pool, model=model.name,
                    capacity=capacity_of(pool.gpu, model, pool.tp, shape)))
    n = len(starts)
    scale = (1 + planning.headroom) / planning.window_s
    prefill_rate = {m: d.prefill_tokens * scale for m, d in demand.items()}
    decode_rate = {m: d.decode_tokens * scale for m, d in demand.items()}
    solver: dict[str, float | str] = {"planner": planning.planner}
    if planning.planner == "milp":
        from preserve_cli.plan.milp import solve_milp

        baseline = _greedy_cost(fleet, deployments, prefill_rate, decode_rate, starts)
        solution = solve_milp(fleet, deployments, prefill_rate, decode_rate, starts, previous,
                              baseline_cost=baseline if isinstance(baseline, float) else None)
        required = replicas = solution.replicas
        binding = solution.binding
        routing = {m.name: [_normalised({d.name: float(solution.shares[d.name][k]) for d in deployments
                                         if d.model == m.name},
                                        deployments, replicas, k, prefill_rate[m.name][k], decode_rate[m.name][k])
                            for k in range(n)] for m in fleet.models}
        solver.update(seconds=round(solution.seconds, 3), mip_gap=round(solution.gap, 5))
        solver["cheapest_first_cost_usd"] = baseline
    else:
        required, replicas, binding, routing = greedy_plan(fleet, deployments, prefill_rate, decode_rate, starts)
    segments = {d.name: schedule_segments(starts, planning.window_s, replicas[d.name], d.pool.cold_start_s)
                for d in deployments}
    return Plan(fleet=fleet, window_s=planning.window_s, starts=starts, deployments=deployments, demand=demand,
                required=required, replicas=replicas, routing=routing, binding=binding, segments=segments,
                notes=notes + list(forecast.notes), solver=solver)


def greedy_plan(fleet: Fleet, deployments: list[Deployment], prefill_rate: dict[str, np.ndarray],
                decode_rate: dict[str, np.ndarray], starts: np.ndarray):
    """Cheapest-first per window (the pipeline's first planner), then step smoothing.

    Pool max is shared by the models of a pool; GPU limits are NOT enforced here
    (the integer program does that).
    """
    n = len(starts)
    required = {d.name: np.zeros(n, dtype=np.int64) for d in deployments}
    binding: dict[str, list[str]] = {m.name: [] for m in fleet.models}
    for k in range(n):
        pool_room = {p.name: p.max for p in fleet.pools}
        for model in fleet.models:
            serving = [d for d in deployments if d.model == model.name]
            room = {d.name: pool_room[d.pool.name] for d in serving}
            counts, why = allocate_window(serving, prefill_rate[model.name][k], decode_rate[model.name][k], room,
                                          model=model.name, window_start=starts[k], fleet_file=fleet.source)
            for d in serving:
                required[d.name][k] = counts[d.name]
                pool_room[d.pool.name] -= counts[d.name]
            binding[model.name].append(why)
    planning = fleet.planning
    replicas = {d.name: limit_step_change(required[d.name], planning.max_step_change, d.pool.max) for d in deployments}
    routing: dict[str, list[dict[str, float]]] = {}
    for model in fleet.models:
        serving = [d for d in deployments if d.model == model.name]
        routing[model.name] = [
            routing_shares(serving, {d.name: int(replicas[d.name][k]) for d in serving},
                           prefill_rate[model.name][k], decode_rate[model.name][k]) for k in range(n)]
    return required, replicas, binding, routing


def _greedy_cost(fleet, deployments, prefill_rate, decode_rate, starts) -> float | str:
    """$ of the cheapest-first plan for the same demand, for comparison; or why there is none."""
    try:
        _, replicas, _, _ = greedy_plan(fleet, deployments, prefill_rate, decode_rate, starts)
    except InputError as exc:
        return f"infeasible: {exc.problem}"
    hours = fleet.planning.window_s / 3600
    over = _gpu_limit_excess(fleet, deployments, replicas)
    cost = round(sum(float(replicas[d.name].sum()) * d.usd_per_hour * hours for d in deployments), 2)
    return f"{cost} (exceeds {over})" if over else cost


def _gpu_limit_excess(fleet, deployments, replicas) -> str:
    for limit in fleet.gpu_limits:
        used = sum(replicas[d.name] * d.pool.tp for d in deployments
                   if d.pool.gpu == limit.gpu and d.pool.region == limit.region)
        if len(deployments) and np.max(used, initial=0) > limit.max_gpus:
            return f"gpu limit {limit.gpu}@{limit.region}: {int(np.max(used))} > {limit.max_gpus}"
    return ""


def _normalised(shares: dict[str, float], deployments, replicas, k, prefill_per_s, decode_per_s) -> dict[str, float]:
    total = sum(shares.values())
    if total > 0 and (prefill_per_s > 0 or decode_per_s > 0):
        return {name: value / total for name, value in shares.items()}
    serving = [d for d in deployments if d.name in shares]
    return routing_shares(serving, {d.name: int(replicas[d.name][k]) for d in serving}, prefill_per_s, decode_per_s)
