"""How a plan in force fared against the traffic that actually came.

For each plan window and model, with the ACTUAL prefill P and decode D tokens of
that window and n_d planned replicas of each deployment d serving the model:

    L_d = P / (mu_p,d · W) + D / (mu_d,d · W)     instances d would need for ALL of it
    capacity use u = 1 / Σ_d (n_d / L_d)          (prefill and decode time-share a GPU)

the same coverage rule the planner fills (plan/allocate.py): routing in proportion
to n_d / L_d loads every deployment to u. schedule.yaml does not carry the mixed
rate mu_t; with the actual token mix the time-share sum is what an instance
serves (the profile's mu_t is this sum at the planned mix, profile/predicted.py).

* u > 1 (+ tolerance): under-provisioned; demand was (u − 1) above capacity and a
  share 1 − 1/u of it could not be served within the SLO.
* idle GPU-hours = GPU-hours × (1 − min(u, 1)); idle $ likewise.
* forecast error = (planned quantile − actual) / actual per metric; a quantile
  forecast should be above the actual in about `quantile` of the windows.
Windows the logs do not cover (or only partly: `value / coverage` estimates the
whole window) are counted, never silently dropped.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from preserve_cli.audit.schedule import PlannedSchedule
from preserve_cli.demand.schema import Demand
from preserve_cli.errors import InputError
from preserve_cli.plan.allocate import load_terms
from preserve_cli.timeutil import to_iso

METRICS = ("prefill_tokens", "decode_tokens")


def _finite(value: float | None, digits: int = 4) -> float | None:
    """JSON has no infinity: demand in a window with no replicas reads as null capacity use."""
    return round(value, digits) if value is not None and math.isfinite(value) else None


@dataclass(frozen=True)
class WindowAudit:
    start: str
    model: str
    actual: dict[str, float]        # tokens in the window (whole-window estimate)
    planned: dict[str, float]       # the plan's forecast quantile
    capacity_use: float             # u: actual load / planned capacity
    gpu_hours: float
    idle_gpu_hours: float
    idle_usd: float
    forecast_error: dict[str, float | None]  # (planned − actual) / actual; None where actual is 0
    under_provisioned: bool

    @property
    def over_capacity(self) -> float:
        """How far demand went above capacity: 0.25 = 25% more than the plan could serve."""
        return max(0.0, self.capacity_use - 1.0)

    @property
    def unserved_share(self) -> float:
        return max(0.0, 1.0 - 1.0 / self.capacity_use) if self.capacity_use > 0 else 0.0


@dataclass(frozen=True)
class Thresholds:
    max_under_windows: int | None = None   # exit 4 above this many under-provisioned windows
    max_shortfall: float | None = None     # exit 4 when a window's unserved share exceeds this (0.1 = 10%)
    tolerance: float = 0.0                 # capacity use up to 1 + tolerance is not under-provisioned


@dataclass
class AuditResult:
    plan: str
    window_s: int
    quantile: float
    windows: list[WindowAudit]
    unobserved: dict[str, int]              # model -> plan windows the logs did not cover
    partial_windows: int                    # windows estimated from partial coverage
    thresholds: Thresholds
    notes: list[str] = field(default_factory=list)

    @property
    def under(self) -> list[WindowAudit]:
        return [w for w in self.windows if w.under_provisioned]

    def crossed(self) -> list[str]:
        """Thresholds crossed, one phrase each (empty: exit 0)."""
        found = []
        t = self.thresholds
        if t.max_under_windows is not None and len(self.under) > t.max_under_windows:
            found.append(f"{len(self.under)} under-provisioned windows > --max-under-windows {t.max_under_windows}")
        worst = max((w.unserved_share for w in self.windows), default=0.0)
        if t.max_shortfall is not None and worst > t.max_shortfall:
            found.append(f"worst window left {worst:.1%} of demand unserved > --max-shortfall {t.max_shortfall:g}")
        return found

    def summary(self) -> dict:
        gpu_hours = sum(w.gpu_hours for w in self.windows)
        idle = sum(w.idle_gpu_hours for w in self.windows)
        worst = max(self.windows, key=lambda w: w.capacity_use, default=None)
        errors = {}
        for metric in METRICS:
            actual = np.array([w.actual[metric] for w in self.windows])
            planned = np.array([w.planned[metric] for w in self.windows])
            total = actual.sum()
            errors[metric] = {
                "wape": float(np.abs(planned - actual).sum() / total) if total > 0 else None,
                "bias": float((planned - actual).sum() / total) if total > 0 else None,
                "covered_share": float((actual <= planned).mean()) if len(actual) else None,
            }
        return {
            "windows_audited": len(self.windows),
            "windows_unobserved": sum(self.unobserved.values()),
            "windows_partial": self.partial_windows,
            "under_provisioned_windows": len(self.under),
            "worst_window": None if worst is None else {
                "start": worst.start, "model": worst.model, "capacity_use": _finite(worst.capacity_use),
                "over_capacity": _finite(worst.over_capacity), "unserved_share": _finite(worst.unserved_share)},
            "unserved_tokens": round(sum(w.unserved_share * sum(w.actual.values()) for w in self.windows)),
            "gpu_hours": round(gpu_hours, 3),
            "idle_gpu_hours": round(idle, 3),
            "idle_share": round(idle / gpu_hours, 4) if gpu_hours else None,
            "idle_usd": round(sum(w.idle_usd for w in self.windows), 2),
            "mean_capacity_use": _finite(float(np.mean([w.capacity_use for w in self.windows]))),
            "forecast": {"quantile": self.quantile, **{m: {k: (round(v, 4) if v is not None else None)
                                                           for k, v in e.items()} for m, e in errors.items()}},
        }

    def to_dict(self) -> dict:
        windows = []
        for w in self.windows:
            entry = asdict(w)
            entry.update(capacity_use=_finite(w.capacity_use, 6), over_capacity=_finite(w.over_capacity, 6),
                         unserved_share=_finite(w.unserved_share, 6))
            windows.append(entry)
        return {"plan": self.plan, "window_s": self.window_s, "summary": self.summary(),
                "thresholds": {**asdict(self.thresholds), "crossed": self.crossed()},
                "windows": windows, "notes": self.notes}


def model_series(schedule: PlannedSchedule, demand: Demand, series_of: dict[str, tuple[str, ...]] | None,
                 notes: list[str]) -> dict[str, list[str]]:
    """Which demand series each planned model served (the fleet's `series:`, else by name)."""
    available = demand.keys()
    found = {}
    for model in schedule.models:
        wanted = [s for s in (series_of or {}).get(model, (model,)) if s in available]
        if not wanted and len(schedule.models) == 1 and len(available) == 1:
            wanted = available
            notes.append(f"model {model} audited against the only demand series, {available[0]!r}")
        if not wanted:
            raise InputError(f"no demand series for model {model!r} (the logs have {', '.join(available)})",
                             field="--fleet", fix="pass the plan's fleet file with --fleet: its models' "
                             "series: lists say which series each model serves")
        found[model] = wanted
    return found


def _actual(demand: Demand, keys: list[str], start: np.datetime64) -> tuple[dict[str, float] | None, bool]:
    """Tokens of the window summed over the model's series; None when any series did not observe it."""
    totals = {m: 0.0 for m in METRICS}
    partial = False
    for key in keys:
        series = demand.series[key]
        index = np.searchsorted(series.starts, start)
        if index >= len(series.starts) or series.starts[index] != start or series.coverage[index] <= 0:
            return None, False
        partial = partial or series.coverage[index] < 1
        for metric in METRICS:
            value = float(series.full_window_estimate(metric)[index])
            if math.isnan(value):
                return None, False
            totals[metric] += value
    return totals, partial


def capacity_use(schedule: PlannedSchedule, model: str, k: int, prefill: float, decode: float) -> float:
    """u = 1 / Σ_d n_d / L_d for `prefill` and `decode` tokens in window k (0: no demand; inf: no replicas)."""
    if prefill + decode <= 0:
        return 0.0
    share = 0.0  # Σ n_d / L_d: how many times over the planned replicas cover the demand
    for d in schedule.serving(model):
        load = max(load_terms(prefill / schedule.window_s, decode / schedule.window_s, d.prefill_tokens_per_s,
                              d.decode_tokens_per_s).values())
        share += int(schedule.replicas[d.name][k]) / load
    return 1.0 / share if share > 0 else math.inf


def audit_plan(schedule: PlannedSchedule, demand: Demand, *, thresholds: Thresholds = Thresholds(),
               series_of: dict[str, tuple[str, ...]] | None = None) -> AuditResult:
    if demand.window_s != schedule.window_s:
        raise InputError(f"demand windows are {demand.window_s}s, the plan's {schedule.window_s}s",
                         field="LOGS", fix="the audit aggregates the logs at the plan's window; pass raw logs "
                         "or a demand.csv with the plan's window")
    notes: list[str] = []
    mapping = model_series(schedule, demand, series_of, notes)
    hours = schedule.window_s / 3600
    windows: list[WindowAudit] = []
    unobserved = {m: 0 for m in schedule.models}
    partial_windows = 0
    for model in schedule.models:
        serving = schedule.serving(model)
        for k, start in enumerate(schedule.starts):
            actual, partial = _actual(demand, mapping[model], start)
            if actual is None:
                unobserved[model] += 1
                continue
            partial_windows += partial
            use = capacity_use(schedule, model, k, actual["prefill_tokens"], actual["decode_tokens"])
            gpu_hours = sum(int(schedule.replicas[d.name][k]) * d.tp * hours for d in serving)
            cost = sum(int(schedule.replicas[d.name][k]) * d.usd_per_instance_hour * hours for d in serving)
            idle_share = 1.0 - min(use, 1.0)
            planned = {m: float(schedule.planned[model][m][k]) for m in METRICS}
            errors = {m: (planned[m] - actual[m]) / actual[m] if actual[m] > 0 else None for m in METRICS}
            windows.append(WindowAudit(
                start=to_iso(start), model=model, actual=actual, planned=planned, capacity_use=use,
                gpu_hours=gpu_hours, idle_gpu_hours=gpu_hours * idle_share, idle_usd=cost * idle_share,
                forecast_error=errors, under_provisioned=use > 1.0 + thresholds.tolerance))
    if not windows:
        first, last = to_iso(schedule.starts[0]), to_iso(schedule.starts[-1])
        raise InputError(f"the logs cover none of the plan's windows ({first} .. {last})", field="LOGS",
                         fix="pass the traffic that came while the plan was in force")
    skipped = sum(unobserved.values())
    if skipped:
        notes.append(f"{skipped} plan window(s) not covered by the logs were not audited")
    if partial_windows:
        notes.append(f"{partial_windows} window(s) only partly covered by the logs: estimated as value / coverage")
    if any(math.isinf(w.capacity_use) for w in windows):
        notes.append("demand came in a window with no replicas planned (capacity use infinite)")
    return AuditResult(plan=schedule.path, window_s=schedule.window_s, quantile=schedule.quantile, windows=windows,
                       unobserved=unobserved, partial_windows=partial_windows, thresholds=thresholds, notes=notes)
