"""Read a plan back from its schedule.yaml (docs/formats.md): what `audit` and `report` look at.

schedule.yaml holds everything needed to judge a plan after the fact: replicas per
deployment and window, each deployment's per-instance capacity and price, and the
planned demand (the forecast quantile) per model and window. No fleet file needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from preserve_cli.errors import InputError
from preserve_cli.fileio import read_input_yaml
from preserve_cli.timeutil import parse_iso

SCHEDULE_SCHEMA = "preserve.dev/schedule/v1"


@dataclass(frozen=True)
class PlannedDeployment:
    name: str
    model: str
    pool: str
    gpu: str
    region: str
    tp: int
    usd_per_instance_hour: float
    prefill_tokens_per_s: float   # per instance, at the SLO
    decode_tokens_per_s: float


@dataclass
class PlannedSchedule:
    path: str
    window_s: int
    quantile: float
    headroom: float
    starts: np.ndarray                          # datetime64[s] UTC, one per window
    deployments: dict[str, PlannedDeployment]
    replicas: dict[str, np.ndarray]             # deployment -> replicas per window
    planned: dict[str, dict[str, np.ndarray]]   # model -> metric -> planned quantile, tokens per window
    notes: list[str] = field(default_factory=list)

    @property
    def models(self) -> list[str]:
        return sorted(self.planned)

    def serving(self, model: str) -> list[PlannedDeployment]:
        return [d for d in self.deployments.values() if d.model == model]


def _need(value: Any, path: str, where: str, kind: type | tuple[type, ...]) -> Any:
    if not isinstance(value, kind) or isinstance(value, bool):
        raise InputError(f"missing or not {getattr(kind, '__name__', 'a number')}", file=path, field=where,
                         fix="pass an unedited schedule.yaml written by `preserve plan`")
    return value


def read_schedule(path: str | Path) -> PlannedSchedule:
    """schedule.yaml, or a plan folder holding one -> PlannedSchedule (InputError naming the field)."""
    path = Path(path)
    if path.is_dir():
        path = path / "schedule.yaml"
    name = str(path)
    document = read_input_yaml(name, expected="a schedule.yaml written by `preserve plan`")
    if not isinstance(document, dict) or document.get("schema") != SCHEDULE_SCHEMA:
        raise InputError(f"not a preserve schedule (schema {SCHEDULE_SCHEMA})", file=name, field="schema",
                         fix="pass plan/schedule.yaml as written by `preserve plan`")
    number = (int, float)
    window_s = int(_need(document.get("window_s"), name, "window_s", int))
    deployments = {}
    for dep_name, entry in _need(document.get("deployments"), name, "deployments", dict).items():
        where = f"deployments.{dep_name}"
        entry = _need(entry, name, where, dict)
        capacity = _need(entry.get("capacity_per_instance"), name, f"{where}.capacity_per_instance", dict)
        deployments[dep_name] = PlannedDeployment(
            name=dep_name, model=str(_need(entry.get("model"), name, f"{where}.model", str)),
            pool=str(entry.get("pool", dep_name)), gpu=str(entry.get("gpu", "")), region=str(entry.get("region", "")),
            tp=int(_need(entry.get("tp"), name, f"{where}.tp", int)),
            usd_per_instance_hour=float(_need(entry.get("usd_per_instance_hour"), name,
                                              f"{where}.usd_per_instance_hour", number)),
            prefill_tokens_per_s=float(_need(capacity.get("prefill_tokens_per_s"), name,
                                             f"{where}.capacity_per_instance.prefill_tokens_per_s", number)),
            decode_tokens_per_s=float(_need(capacity.get("decode_tokens_per_s"), name,
                                            f"{where}.capacity_per_instance.decode_tokens_per_s", number)),
        )
    windows = _need(document.get("windows"), name, "windows", list)
    if not windows:
        raise InputError("the schedule has no windows", file=name, field="windows", fix="pass a complete schedule.yaml")
    starts = []
    replicas = {d: np.zeros(len(windows), dtype=np.int64) for d in deployments}
    models = sorted({d.model for d in deployments.values()})
    planned = {m: {"prefill_tokens": np.zeros(len(windows)), "decode_tokens": np.zeros(len(windows))} for m in models}
    for k, window in enumerate(windows):
        where = f"windows[{k}]"
        window = _need(window, name, where, dict)
        starts.append(parse_iso(str(window.get("start", "")), file=name, field=f"{where}.start"))
        counts = _need(window.get("replicas"), name, f"{where}.replicas", dict)
        for dep_name in deployments:
            replicas[dep_name][k] = int(_need(counts.get(dep_name), name, f"{where}.replicas.{dep_name}", int))
        demand = _need(window.get("demand"), name, f"{where}.demand", dict)
        for model in models:
            entry = _need(demand.get(model), name, f"{where}.demand.{model}", dict)
            for metric in ("prefill_tokens", "decode_tokens"):
                planned[model][metric][k] = float(_need(entry.get(metric), name, f"{where}.demand.{model}.{metric}",
                                                        number))
    start_array = np.array(starts, dtype="datetime64[s]")
    if len(start_array) > 1 and (np.diff(start_array).astype(np.int64) != window_s).any():
        raise InputError("windows are not consecutive", file=name, field="windows",
                         fix="pass an unedited schedule.yaml written by `preserve plan`")
    return PlannedSchedule(path=name, window_s=window_s, quantile=float(document.get("quantile", 0.9)),
                           headroom=float(document.get("headroom", 0.0)), starts=start_array,
                           deployments=deployments, replicas=replicas, planned=planned,
                           notes=[str(n) for n in document.get("notes") or []])
