"""`preserve plan` as a library call: run whichever stages the inputs need.

inputs may be: nothing (the bundled example demand), a forecast.csv, a
demand.csv, a ServeGen folder, requests Parquet, or raw request logs.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from preserve_cli.demand.schema import Demand, demand_to_csv
from preserve_cli.emit.registry import DEFAULT_EMITTERS, render_all
from preserve_cli.errors import InputError
from preserve_cli.forecast.schema import Forecast, forecast_to_csv, read_forecast
from preserve_cli.plan.capacity import capacity_provider
from preserve_cli.plan.fleet import Fleet, read_fleet
from preserve_cli.plan.guard import PlanDiff, diff_plans, enforce, read_previous
from preserve_cli.plan.model import Plan
from preserve_cli.plan.planner import make_plan
from preserve_cli.plan.whatif import (
    PlanComparison,
    WhatIf,
    apply_to_fleet,
    apply_to_forecast,
    compare_plans,
)


def default_fleet_path() -> Path:
    return Path(str(resources.files("preserve_cli.plan") / "default_fleet.yaml"))


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sniff_kind(path: str) -> str:
    """forecast | demand | other, from the first line of a CSV."""
    p = Path(path)
    if p.is_file() and p.suffix == ".csv":
        with p.open("rb") as handle:
            first = handle.readline().decode("utf-8", "replace").strip()
        if first.startswith("series,metric,"):
            return "forecast"
        if first.startswith("series,window_start,"):
            return "demand"
    return "other"


@dataclass
class PlanRun:
    plan: Plan
    files: dict[str, str]
    stages: list[str] = field(default_factory=list)
    demand: Demand | None = None
    forecast: Forecast | None = None
    diff: PlanDiff | None = None
    comparison: PlanComparison | None = None  # --compare: the what-if plan against the unchanged inputs


def build_forecast(inputs: list[str], fleet: Fleet, *, horizon_s: int | None, forecast_model: str,
                   stages: list[str]) -> tuple[Forecast, Demand | None, str]:
    """Inputs -> forecast (at the fleet's window and quantile), running the stages needed."""
    planning = fleet.planning
    horizon = horizon_s or planning.horizon_s
    if horizon % planning.window_s:
        raise InputError("horizon is not a whole number of windows", field="--horizon",
                         fix="make the horizon a multiple of planning.window")
    if len(inputs) == 1 and sniff_kind(inputs[0]) == "forecast":
        stages.append("read forecast")
        forecast = read_forecast(inputs[0])
        return forecast, None, _sha256(forecast_to_csv(forecast))
    # Imported here: reading a ready forecast needs neither DuckDB nor Prophet.
    from preserve_cli.demand.sources import load_demand
    from preserve_cli.forecast import forecast_demand

    if not inputs and fleet.demand:
        inputs = [fleet.demand]
        stages.append("the fleet's demand")
    elif not inputs:
        from preserve_cli.data import example_demand_path
        inputs = [str(example_demand_path())]
        stages.append("bundled example demand")
    demand, _summary = load_demand(inputs, planning.window_s)
    stages.append("demand")
    quantiles = tuple(sorted({0.5, 0.9, planning.quantile}))
    forecast = forecast_demand(demand, horizon, quantiles=quantiles, model=forecast_model, holidays=planning.holidays)
    stages.append("forecast")
    return forecast, demand, _sha256(demand_to_csv(demand))


def run_plan(inputs: list[str], *, fleet_path: str | None = None, capacity_path: str | None = None,
             horizon_s: int | None = None, forecast_model: str = "auto",
             emit: list[str] | None = None, previous: str | None = None, force: bool = False,
             whatif: WhatIf | None = None, compare: bool = False) -> PlanRun:
    """Plan from inputs; with `previous`, diff against it and raise GuardRefused
    (exit 3) on a drop beyond planning.max_drop unless `force` (the exception
    carries the diff as `.diff`).

    `whatif` changes the fleet and forecast in memory (plan/whatif.py); with
    `compare` the unchanged inputs are planned too, from the same forecast, and
    `PlanRun.comparison` holds the difference."""
    fleet_file = fleet_path or str(default_fleet_path())
    fleet = read_fleet(fleet_file)
    previous_plan = read_previous(previous) if previous else None
    stages: list[str] = []
    forecast, demand, input_hash = build_forecast(inputs, fleet, horizon_s=horizon_s,
                                                  forecast_model=forecast_model, stages=stages)
    forecast_file = inputs[0] if inputs else "bundled example"
    whatif_notes: list[str] = []
    base_fleet, base_forecast = fleet, forecast
    if whatif is not None and whatif.active:
        fleet = apply_to_fleet(fleet, whatif, whatif_notes)
        forecast = apply_to_forecast(forecast, whatif)
        if whatif.slo and capacity_path:
            whatif_notes.append("what-if: entries of --capacity keep their measured capacities whatever the SLO")
    provider = capacity_provider(fleet, capacity_path)
    plan = make_plan(forecast, fleet, provider, forecast_file=forecast_file, previous=previous_plan)
    plan.notes = whatif_notes + plan.notes
    stages.append("plan")
    comparison = None
    if compare:
        try:
            base = make_plan(base_forecast, base_fleet, capacity_provider(base_fleet, capacity_path),
                             forecast_file=forecast_file, previous=previous_plan)
        except InputError as infeasible:
            # The what-if may be exactly what makes the plan feasible (a larger pool): say so, keep the plan.
            comparison = compare_plans(None, plan, whatif or WhatIf(), base_problem=infeasible.one_line())
        else:
            comparison = compare_plans(base, plan, whatif or WhatIf())
        stages.append("base plan for --compare")
    plan.inputs = {
        "demand_or_forecast_sha256": input_hash,
        "fleet_sha256": _sha256(Path(fleet_file).read_text(encoding="utf-8")),
    }
    if capacity_path:
        plan.inputs["capacity_sha256"] = _sha256(Path(capacity_path).read_text(encoding="utf-8"))
    diff = None
    if previous_plan is not None:
        diff = diff_plans(previous_plan, plan, fleet.planning.max_drop)
        try:
            enforce(diff, previous, force=force)
        except InputError as refused:
            refused.diff = diff  # type: ignore[attr-defined]
            raise
    files = render_all(plan, list(DEFAULT_EMITTERS) if emit is None else emit)
    stages.append("emit")
    return PlanRun(plan=plan, files=files, stages=stages, demand=demand, forecast=forecast, diff=diff,
                   comparison=comparison)


def stdout_document(files: dict[str, str], wanted: str | None, emitter: str) -> str:
    """The one file `-o -` prints: the emitter's only file, or the one named after ':' in --emit."""
    if wanted is not None:
        if wanted not in files:
            raise InputError(f"emitter {emitter!r} writes no file {wanted!r} (it writes {', '.join(files)})",
                             field="--emit", fix=f"write --emit {emitter}:FILE with FILE one of {', '.join(files)}")
        return files[wanted]
    if len(files) != 1:
        raise InputError(f"-o - prints one document but emitter {emitter!r} writes {len(files)} files "
                         f"({', '.join(files)})", field="--emit",
                         fix=f"pick one with --emit {emitter}:{next(iter(files))}, or write them to a directory")
    return next(iter(files.values()))


def write_outputs(files: dict[str, str], directory: str | Path) -> list[Path]:
    """Write every file or none: render into a temp dir, then move each into place."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise InputError("output path exists and is not a directory", file=str(directory),
                         fix="pass a directory for -o (it is created if missing)")
    directory.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".preserve-", dir=directory))
    try:
        for relative, text in files.items():
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        written = []
        for relative in files:
            final = directory / relative
            final.parent.mkdir(parents=True, exist_ok=True)
            (staging / relative).replace(final)
            written.append(final)
        return written
    finally:
        shutil.rmtree(staging, ignore_errors=True)
