"""Safe updates: compare a new plan with the schedule in force, refuse big drops.

`preserve plan --previous plan/schedule.yaml` diffs the new plan against the
previous one window by window (matched by window start and deployment name),
and shows the change per deployment. The guard itself looks at each MODEL: a
window where a model's replicas (summed over the pools serving it) fall by
more than `planning.max_drop` (default 50%) is refused with exit code 3 and
nothing written, unless `--force` — a nightly job should never silently halve
a service because of one bad forecast. Moving replicas between pools (the
integer program re-balancing after a small change in demand) is shown in the
diff but not refused: the model keeps its capacity.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from preserve_cli.errors import GuardRefused, InputError
from preserve_cli.fileio import read_input_yaml
from preserve_cli.plan.model import Plan
from preserve_cli.timeutil import parse_iso, to_iso


@dataclass
class DeploymentDiff:
    name: str
    windows_compared: int
    windows_changed: int
    gpu_hours_before: float
    gpu_hours_after: float
    largest_increase: int
    largest_drop_share: float   # 0..1, the biggest relative decrease in a window
    largest_drop_at: str        # window start of that decrease


@dataclass
class PlanDiff:
    deployments: list[DeploymentDiff] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"deployments": [vars(d) for d in self.deployments], "added": self.added, "removed": self.removed,
                "violations": self.violations}


@dataclass
class PreviousPlan:
    replicas: dict[str, dict[str, int]]   # deployment -> window start (ISO) -> replicas
    model_of: dict[str, str]              # deployment -> model

    def get(self, name: str, default=None):
        return self.replicas.get(name, default)


def read_previous(path: str) -> PreviousPlan:
    """previous schedule.yaml -> replicas per deployment and window, and each deployment's model"""
    document = read_input_yaml(path, expected="a schedule.yaml written by `preserve plan`")
    if not isinstance(document, dict) or document.get("schema") != "preserve.dev/schedule/v1":
        raise InputError("not a preserve schedule (schema preserve.dev/schedule/v1)", file=path, field="schema",
                         fix="pass the schedule.yaml of the plan now in force")
    windows = document.get("windows")
    if not isinstance(windows, list):
        raise InputError("no windows list", file=path, field="windows", fix="pass an unedited schedule.yaml")
    previous: dict[str, dict[str, int]] = {}
    for i, window in enumerate(windows):
        if not isinstance(window, dict) or not isinstance(window.get("replicas"), dict) or "start" not in window:
            raise InputError("window without start/replicas", file=path, field=f"windows[{i}]",
                             fix="pass an unedited schedule.yaml")
        start = to_iso(parse_iso(str(window["start"]), file=path, field=f"windows[{i}].start"))
        for name, count in window["replicas"].items():
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise InputError(f"replicas {count!r} is not a whole number", file=path,
                                 field=f"windows[{i}].replicas.{name}", fix="pass an unedited schedule.yaml")
            previous.setdefault(str(name), {})[start] = count
    deployments = document.get("deployments")
    if not isinstance(deployments, dict):
        raise InputError("no deployments map", file=path, field="deployments", fix="pass an unedited schedule.yaml")
    model_of = {}
    for name in previous:
        entry = deployments.get(name)
        if not isinstance(entry, dict) or not isinstance(entry.get("model"), str):
            raise InputError(f"deployment {name!r} has no model", file=path, field=f"deployments.{name}.model",
                             fix="pass an unedited schedule.yaml")
        model_of[name] = entry["model"]
    return PreviousPlan(previous, model_of)


def diff_plans(previous: PreviousPlan, plan: Plan, max_drop: float) -> PlanDiff:
    result = PlanDiff()
    starts = [to_iso(s) for s in plan.starts]
    hours = plan.window_s / 3600
    current = {d.name: d for d in plan.deployments}
    before_all = previous.replicas
    result.added = sorted(set(current) - set(before_all))
    result.removed = sorted(set(before_all) - set(current))
    for name in sorted(set(before_all) & set(current)):
        compared = [(k, before_all[name][s]) for k, s in enumerate(starts) if s in before_all[name]]
        if not compared:
            continue
        after = plan.replicas[name]
        tp = current[name].pool.tp
        drops = [((before - int(after[k])) / before if before > 0 else 0.0, k) for k, before in compared]
        worst, worst_k = max(drops, key=lambda item: (item[0], -item[1]))
        result.deployments.append(DeploymentDiff(
            name=name, windows_compared=len(compared),
            windows_changed=sum(1 for k, before in compared if int(after[k]) != before),
            gpu_hours_before=round(sum(before for _, before in compared) * tp * hours, 3),
            gpu_hours_after=round(float(np.sum([after[k] for k, _ in compared])) * tp * hours, 3),
            largest_increase=max(0, max(int(after[k]) - before for k, before in compared)),
            largest_drop_share=round(max(0.0, worst), 4), largest_drop_at=starts[worst_k]))
    models = sorted(set(previous.model_of.values()) | {d.model for d in plan.deployments})
    for model in models:
        for k, start in enumerate(starts):
            before = sum(counts[start] for name, counts in before_all.items()
                         if previous.model_of.get(name) == model and start in counts)
            after = sum(int(plan.replicas[d.name][k]) for d in plan.deployments if d.model == model)
            if before > 0 and (before - after) / before > max_drop:
                result.violations.append(
                    f"model {model} drops from {before} to {after} replicas at {start} "
                    f"({(before - after) / before * 100:.0f}% > {max_drop * 100:.0f}%)")
                break
    return result


def enforce(diff: PlanDiff, previous_path: str, *, force: bool) -> None:
    if diff.violations and not force:
        more = f" (+{len(diff.violations) - 1} more)" if len(diff.violations) > 1 else ""
        raise GuardRefused(f"refusing the new plan: {diff.violations[0]}{more}", file=previous_path,
                           field="planning.max_drop",
                           fix="check the forecast and inputs; pass --force to apply anyway, or raise planning.max_drop")
