"""What-if questions on a plan, answered without editing any file.

`preserve plan --scale-demand 1.3 --slo tpot_p99_ms=50 --pool h100-eastus.max=32 --gpu a100-80gb=h200`
changes the fleet and the forecast in memory only; `--compare` plans the unchanged
inputs too (same forecast, so the delta is the what-if's alone) and reports the
difference in replicas, GPU-hours and $ per deployment.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from preserve_cli.errors import InputError
from preserve_cli.forecast.schema import Forecast
from preserve_cli.plan.fleet import Fleet, Pool
from preserve_cli.plan.model import Plan

SLO_KEYS = ("ttft_p99_s", "tpot_p99_ms")
# Pool fields a what-if may set, and whether each is a whole number.
POOL_FIELDS = {"min": True, "max": True, "tp": True, "cold_start_s": True, "usd_per_hour": False}


@dataclass(frozen=True)
class WhatIf:
    scale_demand: float = 1.0
    slo: dict[str, float] = field(default_factory=dict)
    pools: tuple[tuple[str, str, float], ...] = ()     # (pool name, field, value), applied in order
    gpus: dict[str, str] = field(default_factory=dict)  # old GPU type -> new GPU type

    @property
    def active(self) -> bool:
        return self.scale_demand != 1.0 or bool(self.slo or self.pools or self.gpus)

    def describe(self) -> list[str]:
        """One phrase per change, for notes and the compare table's title."""
        parts = []
        if self.scale_demand != 1.0:
            parts.append(f"demand ×{self.scale_demand:g}")
        parts += [f"slo {key}={value:g}" for key, value in self.slo.items()]
        parts += [f"pool {name}.{name_field}={value:g}" for name, name_field, value in self.pools]
        parts += [f"gpu {old}→{new}" for old, new in self.gpus.items()]
        return parts


def _number(text: str, flag: str, *, positive: bool, integer: bool = False) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{text!r} is not a number", field=flag, fix=f"write a number, e.g. {flag} …=2") from None
    if not np.isfinite(value) or value < 0 or (positive and value == 0):
        raise InputError(f"{text!r} must be {'> 0' if positive else '≥ 0'}", field=flag, fix="give a finite value in range")
    if integer and not value.is_integer():
        raise InputError(f"{text!r} is not a whole number", field=flag, fix="write a whole number")
    return value


def _split(item: str, flag: str, example: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key.strip() or not value.strip():
        raise InputError(f"{item!r} is not KEY=VALUE", field=flag, fix=f"write e.g. {flag} {example}")
    return key.strip(), value.strip()


def parse_whatif(scale_demand: float | None = None, slo: list[str] | None = None, pools: list[str] | None = None,
                 gpus: list[str] | None = None) -> WhatIf:
    """Flags as typed on the command line -> WhatIf (InputError naming the flag on bad input)."""
    scale = 1.0 if scale_demand is None else _number(str(scale_demand), "--scale-demand", positive=True)
    slo_values: dict[str, float] = {}
    for item in slo or []:
        key, value = _split(item, "--slo", "tpot_p99_ms=50")
        if key not in SLO_KEYS:
            raise InputError(f"unknown SLO {key!r}", field="--slo", fix=f"use one of {', '.join(SLO_KEYS)}")
        slo_values[key] = _number(value, "--slo", positive=True)
    pool_changes = []
    for item in pools or []:
        key, value = _split(item, "--pool", "h100-eastus.max=32")
        name, dot, pool_field = key.rpartition(".")
        if not dot or not name or pool_field not in POOL_FIELDS:
            raise InputError(f"{key!r} is not POOL.FIELD", field="--pool",
                             fix=f"write POOL.FIELD=VALUE with FIELD one of {', '.join(POOL_FIELDS)}")
        integer = POOL_FIELDS[pool_field]
        pool_changes.append((name, pool_field, _number(value, "--pool", positive=pool_field in ("max", "tp"),
                                                         integer=integer)))
    swaps: dict[str, str] = {}
    for item in gpus or []:
        old, new = _split(item, "--gpu", "a100-80gb=h200")
        swaps[old] = new
    return WhatIf(scale_demand=scale, slo=slo_values, pools=tuple(pool_changes), gpus=swaps)


def apply_to_fleet(fleet: Fleet, whatif: WhatIf, notes: list[str]) -> Fleet:
    """The fleet as the what-if has it; the file is not touched."""
    from preserve_cli.profile.catalog import get_gpu

    slo = dataclasses.replace(fleet.slo, **whatif.slo) if whatif.slo else fleet.slo
    by_name: dict[str, Pool] = {p.name: p for p in fleet.pools}
    for old, new in whatif.gpus.items():
        if not any(p.gpu == old for p in fleet.pools):
            used = sorted({p.gpu for p in fleet.pools})
            raise InputError(f"no pool uses GPU {old!r}", file=fleet.source, field="--gpu",
                             fix=f"name a GPU the fleet uses: {', '.join(used)}")
        try:
            get_gpu(new)
        except InputError as exc:
            raise InputError(exc.problem, field="--gpu", fix=exc.fix) from None
        for name, pool in by_name.items():
            if pool.gpu == old:
                by_name[name] = dataclasses.replace(pool, gpu=new)
                notes.append(f"what-if: pool {name} runs {new} instead of {old} at the pool's price "
                             f"${pool.usd_per_hour:g}/GPU-hour (set --pool {name}.usd_per_hour=… for the new GPU's)")
    for name, pool_field, value in whatif.pools:
        if name not in by_name:
            raise InputError(f"no pool named {name!r}", file=fleet.source, field="--pool",
                             fix=f"use one of {', '.join(by_name)}")
        by_name[name] = dataclasses.replace(by_name[name], **{pool_field: int(value) if POOL_FIELDS[pool_field]
                                                                 else float(value)})
    for name, pool in by_name.items():
        if pool.min > pool.max:
            raise InputError(f"pool {name}: min {pool.min} is above max {pool.max}", field="--pool",
                             fix=f"set --pool {name}.min or .max so that min ≤ max")
    limits = tuple(dataclasses.replace(limit, gpu=whatif.gpus.get(limit.gpu, limit.gpu)) for limit in fleet.gpu_limits)
    if whatif.active:
        notes.append("what-if (fleet and forecast changed in memory, no file edited): " + ", ".join(whatif.describe()))
    return dataclasses.replace(fleet, slo=slo, pools=tuple(by_name[p.name] for p in fleet.pools), gpu_limits=limits)


def apply_to_forecast(forecast: Forecast, whatif: WhatIf) -> Forecast:
    """Every quantile of every series and metric times scale_demand (requests too: same request mix)."""
    if whatif.scale_demand == 1.0:
        return forecast
    series = [dataclasses.replace(s, quantiles={q: v * whatif.scale_demand for q, v in s.quantiles.items()})
              for s in forecast.series]
    return dataclasses.replace(forecast, series=series)


@dataclass(frozen=True)
class DeploymentDelta:
    name: str
    peak_before: int
    peak_after: int
    replica_hours_before: float
    replica_hours_after: float
    gpu_hours_before: float
    gpu_hours_after: float
    cost_before: float
    cost_after: float

    def to_dict(self) -> dict:
        return {key: (round(value, 3) if isinstance(value, float) else value)
                for key, value in dataclasses.asdict(self).items()}


@dataclass(frozen=True)
class PlanComparison:
    changes: list[str]
    deployments: list[DeploymentDelta]
    base_problem: str | None = None   # why the unchanged inputs have no plan (then "before" figures are 0)

    def total(self, attribute: str) -> float:
        return sum(getattr(d, attribute) for d in self.deployments)

    def to_dict(self) -> dict:
        totals = {}
        for what in ("gpu_hours", "cost"):
            before, after = self.total(f"{what}_before"), self.total(f"{what}_after")
            key = "cost_usd" if what == "cost" else what
            totals[key] = {"base": round(before, 3), "what_if": round(after, 3), "delta": round(after - before, 3)}
        if self.base_problem is not None:
            totals = {key: {"base": None, "what_if": value["what_if"], "delta": None} for key, value in totals.items()}
        return {"changes": self.changes, "base_problem": self.base_problem, "totals": totals,
                "deployments": [d.to_dict() for d in self.deployments]}


def compare_plans(base: Plan | None, what_if: Plan, whatif: WhatIf, *, base_problem: str | None = None) -> PlanComparison:
    """Per deployment (union of both plans' deployments): peak replicas, replica-hours, GPU-hours and $.
    `base` None: the unchanged inputs had no feasible plan (`base_problem` says why)."""
    hours = what_if.window_s / 3600

    def figures(plan: Plan | None, name: str) -> tuple[int, float, float, float]:
        if plan is None or name not in plan.replicas:
            return 0, 0.0, 0.0, 0.0
        r = plan.replicas[name]
        return int(r.max()), float(r.sum()) * hours, plan.gpu_hours(name), plan.cost_usd(name)

    base_names = [d.name for d in base.deployments] if base is not None else []
    names = list(dict.fromkeys(base_names + [d.name for d in what_if.deployments]))
    rows = []
    for name in names:
        b, a = figures(base, name), figures(what_if, name)
        rows.append(DeploymentDelta(name, b[0], a[0], b[1], a[1], b[2], a[2], b[3], a[3]))
    return PlanComparison(changes=whatif.describe(), deployments=rows, base_problem=base_problem)
