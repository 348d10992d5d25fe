"""What every export needs: the instance to describe, its SLO, and its latency model.

Exports describe the instance over a grid of request shapes (Dynamo: prompt lengths and decode
contexts; AIBrix: input x output buckets), so no single workload shape is part of a request.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from preserve_cli.fileio import atomic_path
from preserve_cli.profile.iteration import LatencyModel
from preserve_cli.profile.predicted import latency_model
from preserve_cli.profile.predictor_set import PredictorSet
from preserve_cli.profile.slo import Slo
from preserve_cli.profile.specs import GpuSpec, ModelSpec


@dataclass(frozen=True)
class ExportRequest:
    gpu: GpuSpec
    model: ModelSpec
    tp: int
    slo: Slo
    user_set: PredictorSet | None = None
    usd_per_hour: float = 1.0
    deployment: str = ""

    def latency(self) -> LatencyModel:
        return latency_model(self.gpu, self.model, self.tp, self.user_set)


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """np.savez-compatible archive with fixed timestamps (np.savez stamps the current time)."""
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asarray(array), allow_pickle=False)
            archive.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0)), buffer.getvalue())
