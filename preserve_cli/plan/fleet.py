"""The fleet file: SLO, models, GPU pools and planning settings.

    slo: {ttft_p99_s: 2.0, tpot_p99_ms: 100}
    models:
      llama-3-70b: {config: llama-3-70b, series: [m-large]}   # catalog name or HF config.json path
    pools:
      - {name: h100-eastus, gpu: h100-80gb, region: eastus, tp: 4, min: 1, max: 16,
         usd_per_hour: 3.00, cold_start_s: 120}
    planning: {window: 1h, horizon: 7d, quantile: 0.9, headroom: 0.1, max_step_change: 0.5, timezone: UTC}
    kubernetes: {namespace: llm}

* `usd_per_hour` is per GPU; an instance (a TP group) costs `usd_per_hour × tp`.
* `min`/`max` bound the pool's replicas (instances), summed over the models it serves.
* A pool serves every model unless it lists `models:`; a model may be served only
  from the regions it lists under `regions:` (data residency, latency).
* `gpu_limits` caps the GPUs of one type in one region, shared by every pool there.
* A model's demand series is the one with the model's name, or those in its
  `series:` list; with one model and one series the two are matched.
* `planning.holidays` (optional): country codes (`[US, GB]`, `US-CA`) or a CSV of dates
  (`date` column, path relative to this file); the forecast learns a day-off effect from
  the holidays in the demand's history, counted in `planning.timezone`
  (`preserve_cli/forecast/holidays.py`).
Every problem is an InputError naming the file and the field path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from preserve_cli.durations import parse_duration
from preserve_cli.errors import InputError
from preserve_cli.fileio import read_input_yaml
from preserve_cli.forecast.holidays import HolidayCalendar, parse_holidays
from preserve_cli.profile.slo import DEFAULT_TPOT_P99_MS, DEFAULT_TTFT_P99_S, Slo

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")  # RFC 1123 label: usable as a k8s object name


@dataclass(frozen=True)
class Pool:
    name: str
    gpu: str
    region: str
    tp: int
    min: int
    max: int
    usd_per_hour: float       # per GPU
    cold_start_s: int
    models: tuple[str, ...] | None = None  # None: serves every model

    @property
    def usd_per_instance_hour(self) -> float:
        return self.usd_per_hour * self.tp

    def serves(self, model: str) -> bool:
        return self.models is None or model in self.models


@dataclass(frozen=True)
class ModelEntry:
    name: str
    config: str                 # catalog name or path to a config.json
    series: tuple[str, ...]     # demand series keys that belong to this model
    regions: tuple[str, ...] | None = None  # None: any region may serve it


@dataclass(frozen=True)
class GpuLimit:
    """At most `max_gpus` GPUs of type `gpu` in `region`, over all pools there."""

    gpu: str
    region: str
    max_gpus: int


@dataclass(frozen=True)
class Planning:
    window_s: int = 3600
    horizon_s: int = 7 * 86400
    quantile: float = 0.9
    headroom: float = 0.1
    max_step_change: float = 0.5
    timezone: str = "UTC"
    planner: str = "milp"            # milp (integer program) | greedy (cheapest-first, per window)
    # $ per replica added; None: the instance's price for its cold start (paid while it loads).
    startup_cost_usd: float | None = None
    churn_penalty_usd: float = 0.01  # per replica added or removed: breaks ties towards steady plans
    max_drop: float = 0.5            # --previous guard: refuse a window losing more than this share
    solver_time_limit_s: float = 10.0  # then the best plan found is used and its gap reported
    holidays: HolidayCalendar | None = None  # days off the forecast learns (counted in `timezone`)


@dataclass(frozen=True)
class Fleet:
    slo: Slo
    models: tuple[ModelEntry, ...]
    pools: tuple[Pool, ...]
    planning: Planning
    gpu_limits: tuple[GpuLimit, ...] = ()
    namespace: str = "default"
    demand: str | None = None   # demand source used when `preserve plan` gets no inputs (path as resolved)
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def model(self, name: str) -> ModelEntry:
        for entry in self.models:
            if entry.name == name:
                return entry
        raise KeyError(name)


class _FleetReader:
    """Validates one fleet document, raising InputError with the field path."""

    def __init__(self, path: str) -> None:
        self.path = path

    def error(self, field_path: str, problem: str, fix: str) -> InputError:
        return InputError(problem, file=self.path, field=field_path, fix=fix)

    def mapping(self, value: Any, field_path: str) -> dict:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.error(field_path, f"expected a mapping, found {type(value).__name__}",
                             "write key: value pairs (see docs/formats.md)")
        return value

    def number(self, value: Any, field_path: str, *, low: float, high: float | None = None,
               integer: bool = False, low_inclusive: bool = True) -> float | int:
        ok = not isinstance(value, bool) and isinstance(value, (int, float))
        if ok and integer and not float(value).is_integer():
            ok = False
        if ok:
            ok = (value >= low) if low_inclusive else (value > low)
            ok = ok and (high is None or value <= high)
        if not ok:
            bound = f"{'≥' if low_inclusive else '>'} {low}" + (f" and ≤ {high}" if high is not None else "")
            kind = "a whole number" if integer else "a number"
            raise self.error(field_path, f"{value!r} is not {kind} {bound}", f"write {kind} {bound}")
        return int(value) if integer else float(value)

    def duration(self, value: Any, field_path: str) -> int:
        try:
            return parse_duration(value, field=field_path)
        except InputError as exc:
            raise self.error(field_path, exc.problem, exc.fix or "write e.g. 1h") from None

    def name(self, value: Any, field_path: str) -> str:
        if not isinstance(value, str) or not _NAME.match(value) or len(value) > 63:
            raise self.error(field_path, f"{value!r} is not a valid name",
                             "use lower-case letters, digits and '-', at most 63 characters (a Kubernetes name)")
        return value

    def read(self, document: Any) -> Fleet:
        top = self.mapping(document, "(top level)")
        allowed_top = {"slo", "models", "pools", "planning", "kubernetes", "gpu_limits", "demand"}
        unknown = set(top) - allowed_top
        if unknown:
            raise self.error(sorted(unknown)[0], "unknown key", f"allowed keys: {', '.join(sorted(allowed_top))}")
        slo_doc = self.mapping(top.get("slo"), "slo")
        slo = Slo(
            ttft_p99_s=self.number(slo_doc.get("ttft_p99_s", DEFAULT_TTFT_P99_S), "slo.ttft_p99_s", low=0, low_inclusive=False),
            tpot_p99_ms=self.number(slo_doc.get("tpot_p99_ms", DEFAULT_TPOT_P99_MS), "slo.tpot_p99_ms", low=0, low_inclusive=False),
        )
        models_doc = self.mapping(top.get("models"), "models")
        if not models_doc:
            raise self.error("models", "no models", "list at least one model, e.g. models: {llama-3-8b: {config: llama-3-8b}}")
        models = []
        for name, spec in models_doc.items():
            where = f"models.{name}"
            self.name(name, where)
            spec = self.mapping(spec, where)
            series = spec.get("series", [name])
            if isinstance(series, str):
                series = [series]
            if not isinstance(series, list) or not all(isinstance(s, str) and s for s in series):
                raise self.error(f"{where}.series", "expected a list of series names", "write series: [name, ...]")
            regions = spec.get("regions")
            if regions is not None:
                if isinstance(regions, str):
                    regions = [regions]
                if not isinstance(regions, list) or not regions or not all(isinstance(r, str) for r in regions):
                    raise self.error(f"{where}.regions", "expected a list of region names", "write regions: [eastus, ...]")
                regions = tuple(regions)
            models.append(ModelEntry(name=name, config=str(spec.get("config", name)), series=tuple(series),
                                     regions=regions))
        pools_doc = top.get("pools")
        if not isinstance(pools_doc, list) or not pools_doc:
            raise self.error("pools", "expected a non-empty list of pools", "list pools as - {name: ..., gpu: ..., ...}")
        model_names = {m.name for m in models}
        pools = [self.pool(p, f"pools[{i}]", model_names) for i, p in enumerate(pools_doc)]
        names = [p.name for p in pools]
        for i, name in enumerate(names):
            if names.index(name) != i:
                raise self.error(f"pools[{i}].name", f"duplicate pool name {name!r}", "give every pool its own name")
        for model in models:
            if not any(p.serves(model.name) and (model.regions is None or p.region in model.regions) for p in pools):
                raise self.error(f"models.{model.name}", "no pool serves this model in its allowed regions",
                                 "add the model to a pool's models: list (in one of its regions), or widen regions:")
        return Fleet(slo=slo, models=tuple(models), pools=tuple(pools), planning=self.planning(top.get("planning")),
                     gpu_limits=self.gpu_limits(top.get("gpu_limits"), pools),
                     demand=self.demand_path(top.get("demand")),
                     namespace=self.name(self.mapping(top.get("kubernetes"), "kubernetes").get("namespace", "default"),
                                         "kubernetes.namespace"),
                     source=self.path)

    def pool(self, doc: Any, where: str, model_names: set[str]) -> Pool:
        doc = self.mapping(doc, where)
        allowed = {"name", "gpu", "region", "tp", "min", "max", "usd_per_hour", "cold_start_s", "models"}
        unknown = set(doc) - allowed
        if unknown:
            raise self.error(f"{where}.{sorted(unknown)[0]}", "unknown key", f"allowed keys: {', '.join(sorted(allowed))}")
        for required in ("name", "gpu", "max", "usd_per_hour"):
            if required not in doc:
                raise self.error(f"{where}.{required}", "missing", f"every pool needs {required}")
        minimum = self.number(doc.get("min", 0), f"{where}.min", low=0, integer=True)
        maximum = self.number(doc["max"], f"{where}.max", low=1, integer=True)
        if minimum > maximum:
            raise self.error(f"{where}.min", f"min {minimum} is above max {maximum}", "set min ≤ max")
        models = doc.get("models")
        if models is not None:
            if isinstance(models, str):
                models = [models]
            if not isinstance(models, list) or not models:
                raise self.error(f"{where}.models", "expected a list of model names", "write models: [name, ...]")
            for m in models:
                if m not in model_names:
                    raise self.error(f"{where}.models", f"unknown model {m!r}", f"use one of {', '.join(sorted(model_names))}")
            models = tuple(models)
        return Pool(
            name=self.name(doc["name"], f"{where}.name"), gpu=str(doc["gpu"]),
            region=str(doc.get("region", "default")),
            tp=self.number(doc.get("tp", 1), f"{where}.tp", low=1, high=64, integer=True),
            min=minimum, max=maximum,
            usd_per_hour=self.number(doc["usd_per_hour"], f"{where}.usd_per_hour", low=0),
            cold_start_s=self.number(doc.get("cold_start_s", 0), f"{where}.cold_start_s", low=0, high=86400, integer=True),
            models=models,
        )

    def demand_path(self, value: Any) -> str | None:
        """A fleet may name its own demand (relative to the fleet file) for runs without inputs."""
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            raise self.error("demand", "expected a path", "write demand: my-demand.csv (relative to this file)")
        path = Path(self.path).parent / value
        if not path.exists():
            raise self.error("demand", f"{value!r} does not exist (looked at {path})",
                             "write a path relative to the fleet file")
        return str(path)

    def gpu_limits(self, doc: Any, pools: list[Pool]) -> tuple[GpuLimit, ...]:
        if doc is None:
            return ()
        if not isinstance(doc, list):
            raise self.error("gpu_limits", "expected a list", "write - {gpu: h100-80gb, region: eastus, max_gpus: 64}")
        limits = []
        seen = set()
        for i, entry in enumerate(doc):
            where = f"gpu_limits[{i}]"
            entry = self.mapping(entry, where)
            unknown = set(entry) - {"gpu", "region", "max_gpus"}
            if unknown:
                raise self.error(f"{where}.{sorted(unknown)[0]}", "unknown key", "allowed keys: gpu, region, max_gpus")
            for key in ("gpu", "region", "max_gpus"):
                if key not in entry:
                    raise self.error(f"{where}.{key}", "missing", "every GPU limit needs gpu, region and max_gpus")
            limit = GpuLimit(gpu=str(entry["gpu"]), region=str(entry["region"]),
                             max_gpus=self.number(entry["max_gpus"], f"{where}.max_gpus", low=0, integer=True))
            if (limit.gpu, limit.region) in seen:
                raise self.error(where, f"second limit for {limit.gpu} in {limit.region}", "keep one limit per GPU type and region")
            seen.add((limit.gpu, limit.region))
            floor = sum(p.min * p.tp for p in pools if p.gpu == limit.gpu and p.region == limit.region)
            if floor > limit.max_gpus:
                raise self.error(f"{where}.max_gpus", f"the pools' min replicas already need {floor} GPUs",
                                 "raise max_gpus or lower the pools' min")
            limits.append(limit)
        return tuple(limits)

    def planning(self, doc: Any) -> Planning:
        doc = self.mapping(doc, "planning")
        allowed = {"window", "horizon", "quantile", "headroom", "max_step_change", "timezone", "planner",
                   "startup_cost_usd", "churn_penalty_usd", "max_drop", "solver_time_limit_s", "holidays"}
        unknown = set(doc) - allowed
        if unknown:
            raise self.error(f"planning.{sorted(unknown)[0]}", "unknown key", f"allowed keys: {', '.join(sorted(allowed))}")
        defaults = Planning()
        window_s = self.duration(doc.get("window", defaults.window_s), "planning.window")
        if not 600 <= window_s <= 86400:
            raise self.error("planning.window", f"window {window_s}s is outside 10m..1d", "use a window from 10m to 1d")
        horizon_s = self.duration(doc.get("horizon", defaults.horizon_s), "planning.horizon")
        if horizon_s % window_s:
            raise self.error("planning.horizon", "horizon is not a whole number of windows", "make the horizon a multiple of the window")
        timezone = str(doc.get("timezone", defaults.timezone))
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise self.error("planning.timezone", f"unknown time zone {timezone!r}", "use an IANA name like UTC or Europe/Berlin") from None
        return Planning(
            window_s=window_s, horizon_s=horizon_s,
            quantile=self.number(doc.get("quantile", defaults.quantile), "planning.quantile", low=0, high=0.999, low_inclusive=False),
            headroom=self.number(doc.get("headroom", defaults.headroom), "planning.headroom", low=0, high=10),
            max_step_change=self.number(doc.get("max_step_change", defaults.max_step_change), "planning.max_step_change", low=0, high=100),
            timezone=timezone,
            planner=self.choice(doc.get("planner", defaults.planner), "planning.planner", ("milp", "greedy")),
            startup_cost_usd=None if doc.get("startup_cost_usd") is None else
            self.number(doc["startup_cost_usd"], "planning.startup_cost_usd", low=0),
            churn_penalty_usd=self.number(doc.get("churn_penalty_usd", defaults.churn_penalty_usd),
                                          "planning.churn_penalty_usd", low=0),
            max_drop=self.number(doc.get("max_drop", defaults.max_drop), "planning.max_drop", low=0, high=1),
            solver_time_limit_s=self.number(doc.get("solver_time_limit_s", defaults.solver_time_limit_s),
                                            "planning.solver_time_limit_s", low=0, low_inclusive=False),
            holidays=self.holidays(doc.get("holidays"), timezone),
        )

    def holidays(self, value: Any, timezone: str) -> HolidayCalendar | None:
        """planning.holidays: country codes (a string or a list) or a CSV of dates (relative to this file)."""
        if value is None:
            return None
        if isinstance(value, list) and value and all(isinstance(v, str) and v.strip() for v in value):
            spec = ",".join(value)
        elif isinstance(value, str) and value.strip():
            spec = value
        else:
            raise self.error("planning.holidays", f"expected country codes or a CSV path, got {value!r}",
                             "write holidays: [US, GB] or holidays: days-off.csv (relative to this file)")
        try:
            return parse_holidays(spec, timezone, field="planning.holidays", timezone_field="planning.timezone",
                                  base_dir=Path(self.path).parent)
        except InputError as error:
            if error.file is not None:      # a problem inside the CSV file: it names its own file and line
                raise
            raise self.error("planning.holidays", error.problem, error.fix or "") from None

    def choice(self, value: Any, field_path: str, options: tuple[str, ...]) -> str:
        if value not in options:
            raise self.error(field_path, f"{value!r} is not one of {', '.join(options)}", f"use one of {', '.join(options)}")
        return value


def read_fleet(path: str | Path) -> Fleet:
    path = str(path)
    document = read_input_yaml(path, expected="a fleet YAML file (see examples/fleet.yaml)")
    return _FleetReader(path).read(document)
