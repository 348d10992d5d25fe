"""Fit operator-time predictors and write them as a predictor set (ONNX files + manifest.json).

`train_vidur` is `preserve profile train`: one predictor per GPU vidur measured, from
compute/<gpu>/*/*/mlp.csv, plus the all-reduce tables from network/. `fit_measurements` is
`preserve profile fit`: the same fit on a user's own CSVs for one catalog GPU.

Per GPU: (1) a roofline base t0 + max(flops / (peak e_c), bytes / (bandwidth e_m)) is fitted per
operator class by weighted least squares in log space; (2) the ONNX feature graph computes the
features of every row in float32; (3) a HistGradientBoostingRegressor learns log(measured /
base), each row weighted by its operator's share of the layer's dense time (plus a small floor),
so the fit spends its leaves where `dense_ms_per_layer` spends its time; (4) base + trees are
written as one ONNX graph. Everything is seeded and single-pass, and ONNX serialization is
deterministic, so the same CSVs give byte-identical files.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from preserve_cli.errors import InputError
from preserve_cli.fileio import atomic_path, dump_json
from preserve_cli.profile.catalog import get_gpu, list_gpus
from preserve_cli.profile.measurements import (
    OperatorTable,
    files_sha256,
    read_operator_csv,
)
from preserve_cli.profile.network import fit_allreduce
from preserve_cli.profile.operators import GEMM_COUNT, OPERATORS
from preserve_cli.profile.predictor_graph import (
    CLASSES,
    FEATURES,
    INPUT_COLUMNS,
    BaseParams,
    build_model,
    class_mask,
    ensemble_from_hist_gradient_boosting,
    feature_model,
    fit_base_params,
    serialized,
)
from preserve_cli.profile.predictor_set import (
    FORMAT,
    MANIFEST,
    model_input,
    new_session,
)
from preserve_cli.profile.specs import GpuSpec

FORMAT_VERSION = 1
Progress = Callable[[str], None]
# vidur's GPU folder names -> catalog keys (shared/data/profiling/SOURCES.md: a100 = A100 80GB).
VIDUR_GPUS = {"a100": "a100-80gb", "a40": "a40", "h100": "h100-80gb"}


@dataclass(frozen=True)
class TreeParams:
    max_iter: int
    learning_rate: float
    max_leaf_nodes: int
    min_samples_leaf: int = 20


@dataclass(frozen=True)
class Hyperparameters:
    # GEMMs: 30 trees of at most 63 leaves. Leave-one-shape-out error hardly moves between 30 and
    # 200 trees (worst held-out model 4.2-4.6% on H100, docs/benchmarks.md "Profile"), while
    # inference time grows with the tree count. Element-wise kernels are simple bandwidth-bound
    # loops that need far fewer trees.
    gemm: TreeParams = TreeParams(max_iter=30, learning_rate=0.35, max_leaf_nodes=63)
    other: TreeParams = TreeParams(max_iter=10, learning_rate=0.5, max_leaf_nodes=31)
    random_state: int = 0


@dataclass(frozen=True)
class FittedPredictor:
    gpu: str
    onnx: bytes
    base: BaseParams
    rows: int
    models: list[str]
    shape_groups: list[str]
    in_sample_mape: float


def _session(model_bytes: bytes):
    # One CPU thread: the features the trees are fitted on are computed the same way every run.
    return new_session(model_bytes, threads=1, cpu_only=True)


def fit_gpu_predictor(table: OperatorTable, gpu: GpuSpec,
                      hyper: Hyperparameters = Hyperparameters()) -> FittedPredictor:
    from sklearn.ensemble import HistGradientBoostingRegressor
    from threadpoolctl import threadpool_limits

    base = fit_base_params(table.rows, table.ms, table.weight, gpu.bf16_dense_tflops, gpu.memory_bandwidth_tb_s)
    ensembles = {}
    for cls in CLASSES:
        if cls not in base:
            raise InputError(f"no {cls} operator measurements", field="time_stats",
                             fix="measure at least one GEMM (e.g. mlp_up_proj) and one other operator (e.g. add)")
        mask = class_mask(table.rows, cls)
        features = _session(serialized(feature_model(cls, base[cls], gpu.sm_count))).run(
            None, {"X": model_input(table.rows[mask], gpu)})[0]
        target = np.log(table.ms[mask]) - features[:, FEATURES[cls].index("ln_base_ms")].astype(np.float64)
        params = getattr(hyper, cls)
        regressor = HistGradientBoostingRegressor(
            max_iter=params.max_iter, learning_rate=params.learning_rate, max_leaf_nodes=params.max_leaf_nodes,
            min_samples_leaf=params.min_samples_leaf, random_state=hyper.random_state, early_stopping=False)
        # One thread: OpenMP spin-waits badly when the cores are shared, and a fit takes ~1 s anyway
        # (the trees are the same for any thread count).
        with threadpool_limits(limits=1):
            regressor.fit(features.astype(np.float64), target, sample_weight=table.weight[mask])
        ensembles[cls] = ensemble_from_hist_gradient_boosting(regressor)
    model_bytes = serialized(build_model(base, gpu.sm_count, ensembles))
    predicted = _session(model_bytes).run(None, {"X": model_input(table.rows, gpu)})[0][:, 0]
    return FittedPredictor(gpu=gpu.key, onnx=model_bytes, base=base, rows=len(table),
                           models=sorted(set(table.model.tolist())),
                           shape_groups=sorted(set(table.shape_group.tolist())),
                           in_sample_mape=float(np.mean(np.abs(predicted / table.ms - 1))))


def read_vidur_compute(data_dir: Path,
                       exclude_models: Sequence[str] = ()) -> tuple[dict[str, OperatorTable], list[Path]]:
    """Operator tables per catalog GPU from compute/<gpu>/<org>/<model>/mlp.csv (minus excluded models)."""
    compute = data_dir / "compute"
    if not compute.is_dir():
        raise InputError("no compute/ folder", file=str(data_dir), field="--data",
                         fix="point --data at vidur's data/profiling folder (with compute/ and network/)")
    tables: dict[str, list[OperatorTable]] = {}
    used: list[Path] = []
    for path in sorted(compute.glob("*/*/*/mlp.csv")):
        vidur_gpu, model = path.parts[-4], path.parts[-2]
        if vidur_gpu not in VIDUR_GPUS or model in exclude_models:
            continue
        tables.setdefault(VIDUR_GPUS[vidur_gpu], []).append(read_operator_csv(path, model_label=model))
        used.append(path)
    if not tables:
        raise InputError("no compute/<gpu>/<org>/<model>/mlp.csv for a100, a40 or h100", file=str(compute),
                         field="--data", fix="point --data at vidur's data/profiling folder")
    return {gpu: OperatorTable.concat(parts) for gpu, parts in sorted(tables.items())}, used


def _manifest(fitted: dict[str, FittedPredictor], data: dict[str, Any], allreduce: dict[str, Any] | None,
              hyper: Hyperparameters) -> dict[str, Any]:
    predictors = {}
    for gpu, fit in sorted(fitted.items()):
        predictors[gpu] = {
            "file": f"{gpu}.onnx", "sha256": hashlib.sha256(fit.onnx).hexdigest(), "bytes": len(fit.onnx),
            "sm_count": get_gpu(gpu).sm_count, "training_rows": fit.rows, "models": fit.models,
            "layer_shapes": fit.shape_groups, "base": {cls: asdict(b) for cls, b in fit.base.items()},
            "in_sample_operator_mape": round(fit.in_sample_mape, 4),
        }
    body = {
        "format": FORMAT, "version": FORMAT_VERSION, "training_data": data,
        "operators": list(OPERATORS), "inputs": list(INPUT_COLUMNS), "output": "ms",
        "classes": {"gemm": list(OPERATORS[:GEMM_COUNT]), "other": list(OPERATORS[GEMM_COUNT:])},
        "features": {cls: list(names) for cls, names in FEATURES.items()},
        "hyperparameters": asdict(hyper), "predictors": predictors,
    }
    if allreduce is not None:
        body["allreduce"] = allreduce
    identity = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:12]
    return {"id": identity, **body}


def write_predictor_set(out_dir: Path, fitted: dict[str, FittedPredictor], data: dict[str, Any],
                        allreduce: dict[str, Any] | None, hyper: Hyperparameters) -> dict[str, Any]:
    manifest = _manifest(fitted, data, allreduce, hyper)
    for gpu, fit in fitted.items():
        with atomic_path(out_dir / f"{gpu}.onnx") as tmp:
            tmp.write_bytes(fit.onnx)
    with atomic_path(out_dir / MANIFEST) as tmp:  # last: a set is complete once its manifest is
        tmp.write_text(dump_json(manifest), encoding="utf-8")
    return manifest


def train_vidur(data_dir: Path, out_dir: Path | None, *, gpus: Sequence[str] = (), exclude_models: Sequence[str] = (),
                hyper: Hyperparameters = Hyperparameters(), progress: Progress | None = None,
                ) -> tuple[dict[str, Any], dict[str, FittedPredictor]]:
    """Fit every (or the named) vidur GPU; write the set to `out_dir` unless it is None."""
    tables, used = read_vidur_compute(data_dir, exclude_models)
    unknown = [g for g in gpus if g not in tables]
    if unknown:
        raise InputError(f"no measurements for {', '.join(unknown)}", field="--gpu",
                         fix=f"choose among {', '.join(tables)}")
    fitted = {}
    for gpu in gpus or list(tables):
        if progress:
            progress(f"fitting {gpu} ({len(tables[gpu]):,} operator rows)")
        fitted[gpu] = fit_gpu_predictor(tables[gpu], get_gpu(gpu), hyper)
    network = data_dir / "network"
    network_files = sorted(network.glob("*/all_reduce.csv")) if network.is_dir() else []
    allreduce = fit_allreduce(network, {g.key: g for g in list_gpus()}) if network_files else None
    data = {"source": "vidur data/profiling (microsoft/vidur, MIT): compute/*/*/*/mlp.csv, network/*/all_reduce.csv",
            "sha256": files_sha256(used + network_files, data_dir), "files": len(used) + len(network_files),
            "excluded_models": sorted(exclude_models)}
    manifest = write_predictor_set(out_dir, fitted, data, allreduce, hyper) if out_dir else \
        _manifest(fitted, data, allreduce, hyper)
    return manifest, fitted


def fit_measurements(csv_paths: Sequence[Path], gpu: str, out_dir: Path, hyper: Hyperparameters = Hyperparameters(),
                     progress: Progress | None = None) -> dict[str, Any]:
    """`preserve profile fit`: one predictor for catalog GPU `gpu` from the user's CSVs."""
    spec = get_gpu(gpu)
    for path in csv_paths:
        if not Path(path).is_file():
            raise InputError("file not found", file=str(path), fix="pass an operator measurements CSV")
    table = OperatorTable.concat([read_operator_csv(Path(p)) for p in csv_paths])
    if progress:
        progress(f"fitting {spec.key} ({len(table):,} operator rows)")
    fitted = {spec.key: fit_gpu_predictor(table, spec, hyper)}
    resolved = [Path(p).resolve() for p in csv_paths]
    root = Path(os.path.commonpath([p.parent for p in resolved]))
    data = {"source": "user measurements (preserve profile fit)", "files": len(resolved),
            "sha256": files_sha256(resolved, root), "excluded_models": []}
    return write_predictor_set(out_dir, fitted, data, None, hyper)
