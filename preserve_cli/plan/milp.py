"""The integer program over windows × deployments (pool × model), solved with HiGHS.

Variables, per deployment d (a model m on a pool p) and window t:
  n[d,t]  integer replicas    up[d,t] ≥ 0  replicas added

  minimise  Σ price_d·hours·n + (startup_d + 2·churn)·up
  s.t.      Σ_d n[d,t] / r[d,t] ≥ 1                          capacity: r = replicas d needs for ALL of m's
                                                            traffic (max of prefill, decode, mixed terms);
                                                            routing x_d = (n_d/r_d) / Σ n/r then keeps every
                                                            deployment within its capacity
            min_p ≤ Σ_{d∈p} n[d,t] ≤ max_p                   pool bounds, shared by its models
            Σ_{pools of gpu g in region z} tp·n ≤ cap[g,z]  GPU availability
            n[t] − n[t−1] ≤ up[t]
            n[t] ≤ (1+s)·n[t−1] + 1,  n[t] ≥ (1−s)·n[t−1] − 1  max step change (s = 0: off)

Only deployments in a model's allowed regions exist, so residency holds by
construction; the cross-region split is the routing x. Eliminating x (rather
than x·r ≤ n with Σx = 1) and charging churn on additions only keep a week of
hourly windows solvable in about a second. When no plan exists, a second program
that may leave demand uncovered (and minimises only that) names the window,
model and limit.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix

from preserve_cli.errors import InputError
from preserve_cli.plan.allocate import need
from preserve_cli.plan.fleet import Fleet
from preserve_cli.plan.model import Deployment
from preserve_cli.timeutil import to_iso

# Solve to 1% of the bound (the multi-region example: 0.3 s); when that plan costs more
# than the cheapest-first fill, which is only a heuristic, solve again to 0.2% (the
# bundled example then takes 0.4 s and beats it).
MIP_REL_GAP = 0.01
MIP_REL_GAP_RETRY = 0.002
_EPS = 1e-6
# Uncovered share below this is solver tolerance (HiGHS works to ~1e-7 on rows scaled by r ~ 10..100).
_UNCOVERED_TOLERANCE = 1e-4


@dataclass
class MilpSolution:
    replicas: dict[str, np.ndarray]
    shares: dict[str, np.ndarray]          # deployment -> x per window
    binding: dict[str, list[str]]
    objective: float
    gap: float
    seconds: float


class _Layout:
    def __init__(self, n_deploy: int, n_models: int, windows: int) -> None:
        self.T = windows
        self.N = n_deploy * windows
        self.models = n_models
        self.size = 3 * self.N + n_models * windows

    def n(self, d: int, t: int) -> int:
        return d * self.T + t

    def up(self, d: int, t: int) -> int:
        return self.N + d * self.T + t

    def short(self, m: int, t: int) -> int:
        return 2 * self.N + m * self.T + t

    def below_previous(self, d: int, t: int) -> int:
        return 2 * self.N + self.models * self.T + d * self.T + t


class _Rows:
    """Sparse constraint rows collected as (row, col, value) triplets."""

    def __init__(self) -> None:
        self.rows: list[int] = []
        self.cols: list[int] = []
        self.vals: list[float] = []
        self.lower: list[float] = []
        self.upper: list[float] = []

    def add(self, terms: list[tuple[int, float]], lower: float, upper: float) -> None:
        r = len(self.lower)
        for col, val in terms:
            self.rows.append(r)
            self.cols.append(col)
            self.vals.append(val)
        self.lower.append(lower)
        self.upper.append(upper)

    def constraint(self, size: int) -> LinearConstraint:
        matrix = coo_matrix((self.vals, (self.rows, self.cols)), shape=(len(self.lower), size)).tocsr()
        return LinearConstraint(matrix, np.array(self.lower), np.array(self.upper))


@dataclass
class _Program:
    cost: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    integrality: np.ndarray
    rows: _Rows
    layout: _Layout


def _replica_cost(fleet: Fleet, deployments: list[Deployment]) -> np.ndarray:
    """$ per replica per window; a tie-breaker of 0.01% of the price by deployment
    order, because pools with equal prices would otherwise make many optimal plans
    that branch-and-bound must all rule out."""
    hours = fleet.planning.window_s / 3600
    return np.array([d.usd_per_hour * hours * (1 + 1e-4 * i / len(deployments)) for i, d in enumerate(deployments)])


def _build(fleet: Fleet, deployments: list[Deployment], models: list[str], need_all: np.ndarray,
           T: int, *, diagnose: bool, previous: np.ndarray | None = None) -> _Program:
    """The program; with `diagnose`, shortfall may be positive and is all that costs.

    `previous` (deployments × windows, NaN where unknown) is the plan in force:
    going below it costs what a start costs, so a re-plan only reshuffles
    replicas between pools when that saves more than the churn (AIBrix #637).
    """
    planning = fleet.planning
    lay = _Layout(len(deployments), len(models), T)
    cost = np.zeros(lay.size)
    lower = np.zeros(lay.size)
    upper = np.full(lay.size, np.inf)
    shortfall = slice(2 * lay.N, 2 * lay.N + lay.models * T)
    upper[shortfall] = 1 if diagnose else 0
    upper[shortfall.stop:] = 0  # below_previous: opened per window where a previous plan exists
    integrality = np.zeros(lay.size)
    rows = _Rows()
    price = _replica_cost(fleet, deployments)
    for i, d in enumerate(deployments):
        startup = planning.startup_cost_usd
        if startup is None:
            startup = d.usd_per_hour * d.pool.cold_start_s / 3600
        for t in range(T):
            cost[lay.n(i, t)] = 0 if diagnose else price[i]
            upper[lay.n(i, t)] = d.pool.max
            integrality[lay.n(i, t)] = 1
            if t == 0:
                upper[lay.up(i, t)] = 0
                continue
            # Churn is charged on additions only, twice: every replica added is removed again
            # later, and separate "removed" variables make the program several times slower
            # to solve for the same optimum.
            cost[lay.up(i, t)] = 0 if diagnose else startup + 2 * planning.churn_penalty_usd
            rows.add([(lay.n(i, t), 1), (lay.n(i, t - 1), -1), (lay.up(i, t), -1)], -np.inf, 0)
            s = planning.max_step_change
            if previous is not None and not np.isnan(previous[i, t]) and not diagnose:
                upper[lay.below_previous(i, t)] = np.inf
                cost[lay.below_previous(i, t)] = startup + 2 * planning.churn_penalty_usd
                rows.add([(lay.n(i, t), 1), (lay.below_previous(i, t), 1)], float(previous[i, t]), np.inf)
            if s > 0:
                rows.add([(lay.n(i, t), 1), (lay.n(i, t - 1), -(1 + s))], -np.inf, 1)
                rows.add([(lay.n(i, t), 1), (lay.n(i, t - 1), -(1 - s))], -1, np.inf)
    for m, model in enumerate(models):
        mine = [i for i, d in enumerate(deployments) if d.model == model]
        for t in range(T):
            cost[lay.short(m, t)] = 1 if diagnose else 0
            scale = max(need_all[i, t] for i in mine)
            if scale <= 0:
                continue
            # Σ n_i / r_i ≥ 1, scaled by max r so coefficients are ≥ 1 and well conditioned.
            rows.add([(lay.n(i, t), scale / need_all[i, t]) for i in mine if need_all[i, t] > 0]
                     + [(lay.short(m, t), scale)], scale, np.inf)
    for pool in fleet.pools:
        mine = [i for i, d in enumerate(deployments) if d.pool.name == pool.name]
        for t in range(T if mine else 0):
            rows.add([(lay.n(i, t), 1) for i in mine], pool.min, pool.max)
    for limit in fleet.gpu_limits:
        mine = [i for i, d in enumerate(deployments) if d.pool.gpu == limit.gpu and d.pool.region == limit.region]
        for t in range(T if mine else 0):
            rows.add([(lay.n(i, t), deployments[i].pool.tp) for i in mine], -np.inf, limit.max_gpus)
    return _Program(cost, lower, upper, integrality, rows, lay)


def _run(program: _Program, time_limit: float, gap: float = MIP_REL_GAP):
    with _native_stdout_silenced():
        return milp(program.cost, constraints=program.rows.constraint(program.layout.size),
                    integrality=program.integrality, bounds=Bounds(program.lower, program.upper),
                    options={"mip_rel_gap": gap, "time_limit": time_limit, "disp": False})


def solve_milp(fleet: Fleet, deployments: list[Deployment], prefill: dict[str, np.ndarray],
               decode: dict[str, np.ndarray], starts: np.ndarray,
               previous=None, baseline_cost: float | None = None) -> MilpSolution:
    """prefill/decode: tokens/s per model and window, headroom included; `previous`
    is the plan in force (guard.PreviousPlan: .get(deployment) -> {window_start_iso: replicas});
    `baseline_cost` the replica cost ($) of the cheapest-first plan, if it has one."""
    planning = fleet.planning
    T = len(starts)
    models = [m.name for m in fleet.models]
    need_all = np.zeros((len(deployments), T))
    resource = [[""] * T for _ in deployments]
    for i, d in enumerate(deployments):
        for t in range(T):
            result = need(d, float(prefill[d.model][t]), float(decode[d.model][t]))
            need_all[i, t] = result.replicas_for_all
            resource[i][t] = result.binding
    reference = None
    if previous:
        reference = np.full((len(deployments), T), np.nan)
        keys = [to_iso(s) for s in starts]
        for i, d in enumerate(deployments):
            for t, key in enumerate(keys):
                counts = previous.get(d.name) or {}
                if key in counts:
                    reference[i, t] = counts[key]
    began = time.perf_counter()
    program = _build(fleet, deployments, models, need_all, T, diagnose=False, previous=reference)
    result = _run(program, planning.solver_time_limit_s)
    if result.x is not None and baseline_cost is not None:
        lay = program.layout
        hours = planning.window_s / 3600
        replica_cost = sum(d.usd_per_hour * hours * float(np.rint(result.x[lay.n(i, 0):lay.n(i, 0) + T]).sum())
                           for i, d in enumerate(deployments))
        left = planning.solver_time_limit_s - (time.perf_counter() - began)
        if replica_cost > baseline_cost and left > 0:
            retry = _run(program, left, MIP_REL_GAP_RETRY)
            if retry.x is not None and retry.fun <= result.fun:
                result = retry
    seconds = time.perf_counter() - began
    if result.status == 2:  # infeasible: find out where and why
        diagnosis = _build(fleet, deployments, models, need_all, T, diagnose=True)
        found = _run(diagnosis, planning.solver_time_limit_s)
        if found.x is not None:
            _raise_if_uncovered(fleet, deployments, models, found.x, diagnosis.layout, starts, prefill, decode)
        raise InputError("no plan meets every limit (pool min/max, GPU limits, max_step_change) in every window",
                         file=fleet.source, field="pools / gpu_limits / planning.max_step_change",
                         fix="raise pool max or GPU limits, or raise planning.max_step_change")
    if result.x is None:
        raise InputError(f"the integer program found no plan within {planning.solver_time_limit_s:g}s ({result.message})",
                         file=fleet.source, field="planning.solver_time_limit_s",
                         fix="raise planning.solver_time_limit_s, shorten the horizon, or use planning.planner: greedy")
    lay = program.layout
    replicas = {d.name: np.rint(result.x[[lay.n(i, t) for t in range(T)]]).astype(np.int64)
                for i, d in enumerate(deployments)}
    # Routing: each deployment's share of the capacity serving its model, n_i / r_i normalised.
    served = {d.name: np.where(need_all[i] > 0, replicas[d.name] / np.where(need_all[i] > 0, need_all[i], 1), 0.0)
              for i, d in enumerate(deployments)}
    shares = {}
    for model in models:
        names = [d.name for d in deployments if d.model == model]
        total = sum(served[name] for name in names)
        for name in names:
            shares[name] = np.where(total > 0, served[name] / np.where(total > 0, total, 1), 0.0)
    binding = _binding(fleet, deployments, models, replicas, shares, need_all, resource, T)
    gap = float(getattr(result, "mip_gap", 0.0) or 0.0)
    return MilpSolution(replicas, shares, binding, float(result.fun), gap, seconds)


@contextlib.contextmanager
def _native_stdout_silenced():
    """HiGHS (C++) sometimes prints diagnostics straight to file descriptor 1 even
    with disp=False; --json promises stdout holds only the JSON document."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def _raise_if_uncovered(fleet, deployments, models, solution, lay, starts, prefill, decode) -> None:
    for m, model in enumerate(models):
        for t in range(lay.T):
            short = solution[lay.short(m, t)]
            if short > _UNCOVERED_TOLERANCE:
                pools = sorted({d.pool for d in deployments if d.model == model}, key=lambda p: p.name)
                limits = [f"{p.name} max {p.max}" for p in pools]
                limits += [f"{g.gpu}@{g.region} max_gpus {g.max_gpus}" for g in fleet.gpu_limits
                           if any(p.gpu == g.gpu and p.region == g.region for p in pools)]
                raise InputError(
                    f"window {to_iso(starts[t])}: model {model!r} needs {short * 100:.1f}% more capacity than "
                    f"its pools can give ({'; '.join(limits)}; planned demand {prefill[model][t]:,.0f} prefill + "
                    f"{decode[model][t]:,.0f} decode tokens/s)",
                    file=fleet.source, field="pools[].max / gpu_limits",
                    fix="raise a pool's max or a GPU limit, allow more regions, or lower planning.quantile/headroom")


def _binding(fleet, deployments, models, replicas, shares, need_all, resource, T) -> dict[str, list[str]]:
    """What limits each model in each window, in the order an SRE would look at it."""
    binding: dict[str, list[str]] = {m: [] for m in models}
    for model in models:
        mine = [i for i, d in enumerate(deployments) if d.model == model]
        for t in range(T):
            if all(need_all[i, t] <= 0 for i in mine):
                binding[model].append("idle")
                continue
            reasons = []
            for limit in fleet.gpu_limits:
                used = sum(int(replicas[d.name][t]) * d.pool.tp for d in deployments
                           if d.pool.gpu == limit.gpu and d.pool.region == limit.region)
                serves = any(deployments[i].pool.gpu == limit.gpu and deployments[i].pool.region == limit.region
                             for i in mine)
                if serves and used + min(deployments[i].pool.tp for i in mine) > limit.max_gpus:
                    reasons.append(f"gpu limit {limit.gpu}@{limit.region}")
            for i in mine:
                pool = deployments[i].pool
                total = sum(int(replicas[d.name][t]) for d in deployments if d.pool.name == pool.name)
                if total >= pool.max and need_all[i, t] > 0:
                    reasons.append(f"pool max {pool.name}")
            if reasons:
                binding[model].append(reasons[0])
                continue
            main = max(mine, key=lambda i: (shares[deployments[i].name][t], -i))
            needed = math.ceil(need_all[main, t] * shares[deployments[main].name][t] - _EPS)
            have = int(replicas[deployments[main].name][t])
            if have > needed:
                at_min = have <= deployments[main].pool.min
                binding[model].append("pool min" if at_min else "step change")
            else:
                binding[model].append(resource[main][t])
    return binding
