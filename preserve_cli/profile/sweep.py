"""Capacities for every GPU x model x TP combination the user asked for.

Names are resolved first, so an unknown GPU or model fails the whole request. A combination
that cannot serve (weights do not fit, TP does not divide the heads, SLO out of reach) is
skipped with its reason: one infeasible corner of a sweep should not hide the others, and
the caller reports every skip. When nothing is feasible the first reason is raised.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from preserve_cli.errors import InputError
from preserve_cli.profile.catalog import get_gpu, resolve_model
from preserve_cli.profile.first_order import DEFAULT_FACTORS, CapacityFactors, check_request, first_order_capacity
from preserve_cli.profile.schema import InstanceCapacity
from preserve_cli.profile.slo import Slo, WorkloadShape


@dataclass(frozen=True)
class SkippedCombination:
    gpu: str
    model: str
    tp: int
    reason: str


@dataclass(frozen=True)
class ProfileResult:
    capacities: list[InstanceCapacity]
    skipped: list[SkippedCombination] = field(default_factory=list)


def profile_grid(gpus: Sequence[str], models: Sequence[str], tps: Sequence[int], slo: Slo,
                 workload: WorkloadShape, factors: CapacityFactors = DEFAULT_FACTORS) -> ProfileResult:
    if not gpus or not models or not tps:
        raise InputError("nothing to profile", field="gpu/model/tp", fix="give at least one --gpu, --model and --tp")
    check_request(slo, workload, tuple(tps))
    gpu_specs = [get_gpu(name) for name in dict.fromkeys(gpus)]
    model_specs = [resolve_model(name) for name in dict.fromkeys(models)]
    capacities: list[InstanceCapacity] = []
    skipped: list[SkippedCombination] = []
    first_error: InputError | None = None
    for gpu in gpu_specs:
        for model in model_specs:
            for tp in sorted(set(tps)):
                try:
                    capacities.append(first_order_capacity(gpu, model, tp, slo, workload, factors))
                except InputError as exc:
                    first_error = first_error or exc
                    skipped.append(SkippedCombination(gpu.key, model.key, tp, exc.one_line()))
    if not capacities and first_error is not None:
        if len(skipped) == 1:
            raise first_error
        raise InputError(f"none of the {len(skipped)} combinations can serve; first: {first_error.problem}",
                         field=first_error.field, fix=first_error.fix)
    return ProfileResult(sorted(capacities, key=lambda c: c.key), skipped)
