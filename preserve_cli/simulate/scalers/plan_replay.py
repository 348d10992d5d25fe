"""Replay a schedule.yaml written by `preserve plan`: replicas per deployment per window.

Each deployment of the simulated model becomes a pool (matched by its `pool` field). Window times
are UTC; `align="absolute"` puts them on the workload's own clock (the plan must overlap the
trace), `align="start"` moves the plan's first window to the workload's first arrival (replaying
a plan made for next week against last week's log). With time compression the plan's clock is
compressed the same way. Each pool holds, at any time, the larger of the replicas of the window in
force and of the window `cold_start_s` ahead, so new instances are ready when their window starts
(the cold-start lead `preserve plan` applies to its segments). Before the first window the first
window's replicas apply, after the last the last window's.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from preserve_cli.errors import InputError
from preserve_cli.fileio import read_input_yaml
from preserve_cli.timeutil import parse_iso

ALIGNS = ("absolute", "start")


@dataclass(frozen=True)
class Schedule:
    starts_epoch_s: list[float]
    replicas: dict[str, list[int]]      # pool -> replicas per window
    deployments: dict[str, dict]        # pool -> its schedule.yaml entry
    path: str


def read_schedule(path: str, model: str) -> Schedule:
    document = read_input_yaml(path, expected="the plan/schedule.yaml `preserve plan` writes")
    if not isinstance(document, dict) or document.get("schema") != "preserve.dev/schedule/v1":
        raise InputError("not a preserve schedule (schema preserve.dev/schedule/v1)", file=path, field="schema",
                         fix="give the plan/schedule.yaml that `preserve plan` writes")
    deployments = {}
    for name, entry in (document.get("deployments") or {}).items():
        if isinstance(entry, dict) and entry.get("model") == model:
            if not isinstance(entry.get("pool"), str):
                raise InputError("deployment without a pool name", file=path, field=f"deployments.{name}.pool",
                                 fix="give the plan/schedule.yaml that `preserve plan` writes")
            deployments[name] = entry
    if not deployments:
        raise InputError(f"no deployment of model {model!r}", file=path, field="deployments",
                         fix="plan for this model, or pass --model with a model the plan serves")
    windows = document.get("windows") or []
    if not isinstance(windows, list) or not windows:
        raise InputError("no windows", file=path, field="windows", fix="re-run `preserve plan`")
    starts, replicas = [], {entry["pool"]: [] for entry in deployments.values()}
    for k, window in enumerate(windows):
        if not isinstance(window, dict):
            raise InputError("expected a mapping with start and replicas", file=path, field=f"windows[{k}]",
                             fix="give the plan/schedule.yaml that `preserve plan` writes")
        starts.append(float(parse_iso(str(window.get("start")), file=path, field=f"windows[{k}].start")
                            .astype("datetime64[s]").astype("int64")))
        counts = window.get("replicas") or {}
        for name, entry in deployments.items():
            value = counts.get(name, 0)
            if not isinstance(value, int) or value < 0:
                raise InputError(f"{value!r} is not a replica count", file=path, field=f"windows[{k}].replicas.{name}",
                                 fix="write a whole number >= 0")
            replicas[entry["pool"]].append(value)
    return Schedule(starts, replicas, {e["pool"]: e for e in deployments.values()}, path)


class PlanReplayScaler:
    name = "plan"

    def __init__(self, schedule: Schedule, workload, cold_start_s: dict[str, float], align: str = "absolute",
                 interval_s: float = 5.0) -> None:
        if align not in ALIGNS:
            raise InputError(f"unknown alignment {align!r}", field="--align", fix=f"use one of: {', '.join(ALIGNS)}")
        anchor = schedule.starts_epoch_s[0] if align == "start" else workload.start_epoch_s
        step = workload.time_compression
        self.starts = [(s - anchor) / step for s in schedule.starts_epoch_s]
        if align == "absolute":
            last = self.starts[-1] + (self.starts[-1] - self.starts[-2] if len(self.starts) > 1 else 0)
            if last <= 0 or self.starts[0] >= workload.span_s:
                raise InputError("the plan's windows do not overlap the workload's time span", file=schedule.path,
                                 field="windows", fix="pass --align start to replay the plan from the first request")
        self.schedule = schedule
        self.cold = cold_start_s
        self.interval_s = interval_s

    def _replicas(self, pool: str, t: float) -> int:
        k = max(0, bisect.bisect_right(self.starts, t) - 1)
        return self.schedule.replicas[pool][k]

    def target(self, pool: str, t: float) -> int:
        return max(self._replicas(pool, t), self._replicas(pool, t + self.cold[pool]))

    def start(self, sim) -> dict[str, int]:
        return {pool: self._replicas(pool, 0.0) for pool in self.schedule.replicas}

    def tick(self, sim, now: float) -> None:
        for pool in self.schedule.replicas:
            target = self.target(pool, now)
            if target != len(sim.members(pool)):
                sim.set_target(pool, target, now, "plan")
