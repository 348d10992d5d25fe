"""Capacities for every GPU x model x TP combination the user asked for.

`method` picks how each capacity is computed (METHODS). Names are resolved first, so an
unknown GPU or model fails the whole request. A combination that cannot serve (weights do not
fit, TP does not divide the heads, SLO out of reach) is skipped with its reason: one infeasible
corner of a sweep should not hide the others, and the caller reports every skip. When nothing
is feasible the first reason is raised.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from preserve_cli.errors import InputError
from preserve_cli.profile.catalog import get_gpu, resolve_model
from preserve_cli.profile.first_order import (
    DEFAULT_FACTORS,
    CapacityFactors,
    check_request,
    first_order_capacity,
)
from preserve_cli.profile.schema import InstanceCapacity
from preserve_cli.profile.slo import Slo, WorkloadShape
from preserve_cli.profile.specs import GpuSpec, ModelSpec

CapacityFunction = Callable[..., InstanceCapacity]


def _onnx(gpu: GpuSpec, model: ModelSpec, tp: int, slo: Slo, workload: WorkloadShape, factors: CapacityFactors,
          user_set) -> InstanceCapacity:
    from preserve_cli.profile.predicted import predicted_capacity

    return predicted_capacity(gpu, model, tp, slo, workload, user_set=user_set, factors=factors)


def _first_order(gpu: GpuSpec, model: ModelSpec, tp: int, slo: Slo, workload: WorkloadShape,
                 factors: CapacityFactors, user_set) -> InstanceCapacity:
    return first_order_capacity(gpu, model, tp, slo, workload, factors)


# How a capacity is computed: ONNX predictors trained on measured timings (default), or the
# analytical first-order roofline (docs/capacity-model.md).
METHODS: dict[str, CapacityFunction] = {"onnx": _onnx, "first-order": _first_order}
DEFAULT_METHOD = "onnx"


def capacity_method(name: str) -> CapacityFunction:
    if name not in METHODS:
        raise InputError(f"unknown method {name!r}", field="--method", fix=f"use one of: {', '.join(METHODS)}")
    return METHODS[name]


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
                 workload: WorkloadShape, factors: CapacityFactors = DEFAULT_FACTORS, *,
                 method: str = DEFAULT_METHOD, predictors: str | None = None) -> ProfileResult:
    compute = capacity_method(method)
    if not gpus or not models or not tps:
        raise InputError("nothing to profile", field="gpu/model/tp", fix="give at least one --gpu, --model and --tp")
    if predictors and method != "onnx":
        raise InputError("--predictors needs the onnx method", field="--method", fix="drop --method first-order")
    user_set = None
    if predictors:
        from preserve_cli.profile.predictor_set import PredictorSet

        user_set = PredictorSet.load(predictors)
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
                    capacities.append(compute(gpu, model, tp, slo, workload, factors, user_set))
                except InputError as exc:
                    first_error = first_error or exc
                    skipped.append(SkippedCombination(gpu.key, model.key, tp, exc.one_line()))
    if not capacities and first_error is not None:
        if len(skipped) == 1:
            raise first_error
        raise InputError(f"none of the {len(skipped)} combinations can serve; first: {first_error.problem}",
                         field=first_error.field, fix=first_error.fix)
    return ProfileResult(sorted(capacities, key=lambda c: c.key), skipped)
