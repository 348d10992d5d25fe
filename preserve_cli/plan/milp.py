"""The integer program over windows × deployments (pool × model), solved with HiGHS.

Variables, per deployment d (a model m on a pool p) and window t:
  n[d,t]  integer replicas                 x[d,t]  share of m's traffic routed to d (0..1)
  up/down[d,t] ≥ 0  replicas added/removed  short[m,t] ≥ 0  uncovered share (must end 0)

  minimise  Σ price_d·hours·n + startup_d·up + churn·(up + down) + BIG·short
  s.t.      Σ_d x[d,t] + short[m,t] = 1                      every model's demand is routed
            r[d,t]·x[d,t] ≤ n[d,t]                          capacity: r = replicas d needs for ALL of m's
                                                            traffic (max of prefill, decode, mixed terms)
            min_p ≤ Σ_{d∈p} n[d,t] ≤ max_p                   pool bounds, shared by its models
            Σ_{pools of gpu g in region z} tp·n ≤ cap[g,z]  GPU availability
            n[t] − n[t−1] ≤ up[t],  n[t−1] − n[t] ≤ down[t]
            n[t] ≤ (1+s)·n[t−1] + 1,  n[t] ≥ (1−s)·n[t−1] − 1  max step change (s = 0: off)

Only deployments in a model's allowed regions exist, so residency holds by
construction; the cross-region split is x. `short` keeps the program feasible
so that an impossible fleet is diagnosed (window, model, limit) instead of
reported as "infeasible".
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix

from preserve_cli.errors import InputError
from preserve_cli.plan.allocate import need
from preserve_cli.plan.fleet import Fleet
from preserve_cli.plan.model import Deployment
from preserve_cli.timeutil import to_iso

# $ per unit of uncovered traffic share in one window: far above any real cost,
# so the solver only leaves demand uncovered when no integer plan covers it.
_UNCOVERED_PENALTY = 1e7
_EPS = 1e-6


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
        self.size = 4 * self.N + n_models * windows

    def n(self, d: int, t: int) -> int:
        return d * self.T + t

    def x(self, d: int, t: int) -> int:
        return self.N + d * self.T + t

    def up(self, d: int, t: int) -> int:
        return 2 * self.N + d * self.T + t

    def down(self, d: int, t: int) -> int:
        return 3 * self.N + d * self.T + t

    def short(self, m: int, t: int) -> int:
        return 4 * self.N + m * self.T + t


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


def solve_milp(fleet: Fleet, deployments: list[Deployment], prefill: dict[str, np.ndarray],
               decode: dict[str, np.ndarray], starts: np.ndarray) -> MilpSolution:
    """prefill/decode: tokens/s per model and window, headroom included."""
    import time

    planning = fleet.planning
    T = len(starts)
    models = [m.name for m in fleet.models]
    lay = _Layout(len(deployments), len(models), T)
    hours = planning.window_s / 3600
    need_all = np.zeros((len(deployments), T))
    resource = [[""] * T for _ in deployments]
    for i, d in enumerate(deployments):
        for t in range(T):
            result = need(d, float(prefill[d.model][t]), float(decode[d.model][t]))
            need_all[i, t] = result.replicas_for_all
            resource[i][t] = result.binding

    cost = np.zeros(lay.size)
    lower = np.zeros(lay.size)
    upper = np.full(lay.size, np.inf)
    integrality = np.zeros(lay.size)
    rows = _Rows()
    for i, d in enumerate(deployments):
        startup = planning.startup_cost_usd
        if startup is None:
            startup = d.usd_per_hour * d.pool.cold_start_s / 3600
        for t in range(T):
            cost[lay.n(i, t)] = d.usd_per_hour * hours
            upper[lay.n(i, t)] = d.pool.max
            integrality[lay.n(i, t)] = 1
            upper[lay.x(i, t)] = 1
            if t == 0:
                upper[lay.up(i, t)] = upper[lay.down(i, t)] = 0
                continue
            cost[lay.up(i, t)] = startup + planning.churn_penalty_usd
            cost[lay.down(i, t)] = planning.churn_penalty_usd
            rows.add([(lay.n(i, t), 1), (lay.n(i, t - 1), -1), (lay.up(i, t), -1)], -np.inf, 0)
            rows.add([(lay.n(i, t - 1), 1), (lay.n(i, t), -1), (lay.down(i, t), -1)], -np.inf, 0)
            s = planning.max_step_change
            if s > 0:
                rows.add([(lay.n(i, t), 1), (lay.n(i, t - 1), -(1 + s))], -np.inf, 1)
                rows.add([(lay.n(i, t), 1), (lay.n(i, t - 1), -(1 - s))], -1, np.inf)
        for t in range(T):
            if need_all[i, t] > 0:
                rows.add([(lay.x(i, t), need_all[i, t]), (lay.n(i, t), -1)], -np.inf, 0)
    for m, model in enumerate(models):
        mine = [i for i, d in enumerate(deployments) if d.model == model]
        for t in range(T):
            cost[lay.short(m, t)] = _UNCOVERED_PENALTY
            upper[lay.short(m, t)] = 1
            rows.add([(lay.x(i, t), 1) for i in mine] + [(lay.short(m, t), 1)], 1, 1)
    for pool in fleet.pools:
        mine = [i for i, d in enumerate(deployments) if d.pool.name == pool.name]
        if not mine:
            continue
        for t in range(T):
            rows.add([(lay.n(i, t), 1) for i in mine], pool.min, pool.max)
    for limit in fleet.gpu_limits:
        mine = [i for i, d in enumerate(deployments) if d.pool.gpu == limit.gpu and d.pool.region == limit.region]
        if not mine:
            continue
        for t in range(T):
            rows.add([(lay.n(i, t), deployments[i].pool.tp) for i in mine], -np.inf, limit.max_gpus)

    began = time.perf_counter()
    with _native_stdout_silenced():
        result = milp(cost, constraints=rows.constraint(lay.size), integrality=integrality,
                      bounds=Bounds(lower, upper),
                      options={"mip_rel_gap": 0.01, "time_limit": planning.solver_time_limit_s, "disp": False})
    seconds = time.perf_counter() - began
    if result.x is None:
        raise InputError(f"the integer program found no plan within {planning.solver_time_limit_s:g}s ({result.message})",
                         file=fleet.source, field="planning.solver_time_limit_s",
                         fix="raise planning.solver_time_limit_s, shorten the horizon, or use planning.planner: greedy")
    solution = result.x
    _raise_if_uncovered(fleet, deployments, models, solution, lay, starts, prefill, decode)
    replicas = {d.name: np.rint(solution[[lay.n(i, t) for t in range(T)]]).astype(np.int64)
                for i, d in enumerate(deployments)}
    shares = {d.name: np.clip(solution[[lay.x(i, t) for t in range(T)]], 0, 1) for i, d in enumerate(deployments)}
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
            if short > _EPS:
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
