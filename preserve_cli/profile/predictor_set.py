"""Load a predictor set and run it with ONNX Runtime (CUDA when usable, CPU otherwise, quietly).

A predictor set is a folder with manifest.json and one <gpu>.onnx per measured GPU. The set
shipped in the package (`preserve_cli/profile/predictors/`) is the only thing `preserve
profile` and `preserve plan` read at run time; `--predictors DIR` adds a user's set from
`preserve profile fit`, whose GPUs then take precedence.

GPUs without their own predictor are predicted by a measured sibling, fed with the target GPU's
own peak FLOP/s and bandwidth: the roofline base scales with the spec ratios, the learned
correction (kernel efficiency vs shape) is the sibling's. `SCALED_FROM` names the sibling:
the same chip with different memory (H200 <- H100, A100-40GB <- A100-80GB), or for the Ada
PCIe cards the measured GDDR6 PCIe card (L40S, L4 <- A40). A GPU outside this table uses the
measured GPU with the nearest ridge point (peak FLOP/s / bandwidth). Capacities computed this
way say so in `source` and `assumptions.predictor`.
"""

from __future__ import annotations

import ctypes
import functools
import json
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from preserve_cli.errors import InputError
from preserve_cli.profile.network import AllReduceModel
from preserve_cli.profile.specs import GpuSpec

MANIFEST = "manifest.json"
FORMAT = "preserve-operator-predictors"
# Columns of the predictors' input `X` (predictor_graph.INPUT_COLUMNS): shape, then GPU peaks.
INPUT_WIDTH = 6
SCALED_FROM = {"h200": "h100-80gb", "a100-40gb": "a100-80gb", "l40s": "a40", "l4": "a40"}


def _cuda_device_present() -> bool:
    """True when the NVIDIA driver loads and reports a device (no ONNX Runtime call, so no log)."""
    try:
        driver = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False
    count = ctypes.c_int(0)
    return driver.cuInit(0) == 0 and driver.cuDeviceGetCount(ctypes.byref(count)) == 0 and count.value > 0


@functools.cache
def execution_providers() -> tuple[str, ...]:
    """CUDA first when onnxruntime was built with it AND a GPU is there; CPU always as fallback.

    onnxruntime-gpu lists CUDAExecutionProvider even on machines without a GPU and logs errors
    when asked for it there, so it is only requested after the driver reports a device.
    """
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers() and _cuda_device_present():
        return ("CUDAExecutionProvider", "CPUExecutionProvider")
    return ("CPUExecutionProvider",)


def new_session(model: bytes, threads: int = 1, cpu_only: bool = False):
    """An ONNX Runtime session; one intra-op thread by default: capacity sweeps run a few
    thousand rows, too few to repay waking a thread pool (threads=0: all cores)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: no provider-fallback warnings on CPU machines
    options.intra_op_num_threads = threads
    providers = ["CPUExecutionProvider"] if cpu_only else list(execution_providers())
    return ort.InferenceSession(model, options, providers=providers)


def model_input(rows: np.ndarray, gpu: GpuSpec) -> np.ndarray:
    """Predictor input matrix: the 4 shape columns, then the GPU's peak TFLOP/s and TB/s."""
    x = np.empty((len(rows), INPUT_WIDTH), dtype=np.float32)
    x[:, :4] = rows
    x[:, 4] = gpu.bf16_dense_tflops
    x[:, 5] = gpu.memory_bandwidth_tb_s
    return x


@dataclass(frozen=True)
class GpuPredictor:
    """The predictor answering for one catalog GPU (its own, or a measured sibling's)."""

    gpu: GpuSpec
    measured_gpu: str
    set_id: str
    session: Any = field(compare=False, repr=False)

    @property
    def extrapolated(self) -> bool:
        return self.measured_gpu != self.gpu.key

    @property
    def source(self) -> str:
        suffix = f":scaled-from-{self.measured_gpu}" if self.extrapolated else ""
        return f"onnx:{self.set_id}{suffix}"

    def describe(self) -> dict[str, Any]:
        rule = (f"{self.gpu.key} has no measurements: {self.measured_gpu}'s learned kernel efficiencies with "
                f"{self.gpu.key}'s own peak TFLOP/s and memory bandwidth in the roofline base") \
            if self.extrapolated else f"measured on {self.gpu.key}"
        return {"set": self.set_id, "gpu_model": self.measured_gpu, "extrapolated": self.extrapolated, "rule": rule}

    def predict_ms(self, rows: np.ndarray) -> np.ndarray:
        """Median operator times (ms) for rows (operator index, tokens, in_dim, out_dim): one run."""
        if len(rows) == 0:
            return np.empty(0)
        output = self.session.run(None, {"X": model_input(rows, self.gpu)})[0]
        return output[:, 0].astype(np.float64)


class PredictorSet:
    """manifest.json + <gpu>.onnx files of one folder; sessions open on first use."""

    def __init__(self, folder: Path, manifest: dict[str, Any], label: str) -> None:
        self.folder = folder
        self.manifest = manifest
        self.label = label
        self._sessions: dict[str, Any] = {}

    @classmethod
    def load(cls, folder: str | Path) -> PredictorSet:
        folder = Path(folder)
        path = folder / MANIFEST
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError("no manifest.json", file=str(folder), field="--predictors",
                             fix="pass a folder written by `preserve profile fit` or `train`") from None
        except json.JSONDecodeError as exc:
            raise InputError(f"invalid JSON ({exc.msg})", file=str(path), line=exc.lineno,
                             fix="regenerate the predictor set") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or not manifest.get("predictors"):
            raise InputError(f"not a {FORMAT} manifest", file=str(path), field="format",
                             fix="regenerate the predictor set with `preserve profile fit` or `train`")
        return cls(folder, manifest, str(folder))

    @property
    def id(self) -> str:
        return str(self.manifest["id"])

    @property
    def gpus(self) -> list[str]:
        return sorted(self.manifest["predictors"])

    def session(self, gpu: str):
        if gpu not in self._sessions:
            entry = self.manifest["predictors"][gpu]
            path = self.folder / entry["file"]
            if not path.is_file():
                raise InputError("predictor file missing", file=str(path), field=f"predictors.{gpu}.file",
                                 fix="regenerate the predictor set")
            self._sessions[gpu] = new_session(path.read_bytes())
        return self._sessions[gpu]

    def allreduce(self) -> AllReduceModel | None:
        document = self.manifest.get("allreduce")
        return AllReduceModel.from_json(document) if document else None


def shipped_folder() -> Path:
    """Where the package keeps its predictor set (written by `preserve profile train`)."""
    return Path(str(resources.files("preserve_cli.profile") / "predictors"))


@functools.cache
def shipped_predictors() -> PredictorSet:
    folder = shipped_folder()
    if not (folder / MANIFEST).is_file():
        raise InputError("the packaged ONNX predictors are missing", file=str(folder),
                         fix="reinstall preserve-cli, or run `preserve profile train` from a source checkout")
    return PredictorSet.load(folder)


def _nearest_by_ridge(gpu: GpuSpec, candidates: list[str]) -> str:
    from preserve_cli.profile.catalog import get_gpu

    ridge = gpu.bf16_dense_tflops / gpu.memory_bandwidth_tb_s
    return min(candidates, key=lambda key: (abs(math.log(get_gpu(key).bf16_dense_tflops
                                                         / get_gpu(key).memory_bandwidth_tb_s / ridge)), key))


def predictor_for(gpu: GpuSpec, user_set: PredictorSet | None = None) -> GpuPredictor:
    """The user's predictor for `gpu` if they fitted one, else the shipped (or scaled) one."""
    for candidate in (user_set, shipped_predictors()):
        if candidate is not None and gpu.key in candidate.gpus:
            return GpuPredictor(gpu, gpu.key, candidate.id, candidate.session(gpu.key))
    shipped = shipped_predictors()
    sibling = SCALED_FROM.get(gpu.key)
    if sibling not in shipped.gpus:
        sibling = _nearest_by_ridge(gpu, shipped.gpus)
    return GpuPredictor(gpu, sibling, shipped.id, shipped.session(sibling))
