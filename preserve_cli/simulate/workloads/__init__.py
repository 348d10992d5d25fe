"""Workloads: where the replayed requests come from, one module per kind.

* `logs`: a requests.parquet from `preserve ingest`, or any raw log it reads;
* `servegen`: a stream generated from a ServeGen folder's per-client summaries.
`load_workload` picks by what the path is.
"""

from __future__ import annotations

from pathlib import Path

from preserve_cli.simulate.workload import Workload, slice_workload
from preserve_cli.simulate.workloads.logs import workload_from_logs
from preserve_cli.simulate.workloads.servegen import workload_from_servegen

__all__ = ["load_workload", "workload_from_logs", "workload_from_servegen"]


def load_workload(paths: list[str], *, format: str | None = None, mapping: str | None = None, start_s: float = 0.0,
                  duration_s: float | None = None, time_compression: float = 1.0, rate_scale: float = 1.0,
                  seed: int = 0) -> Workload:
    """Requests from logs (sliced to [start_s, start_s + duration_s) of the trace) or a ServeGen folder
    (generated for that range; 1 day when no duration is given). `start_s`/`duration_s` are on the
    trace's own clock, before time compression."""
    from preserve_cli.demand.servegen import is_servegen_folder
    from preserve_cli.errors import InputError

    if not 0 < rate_scale <= 1:
        raise InputError(f"rate scale {rate_scale!r} is not in (0, 1]", field="--rate-scale",
                         fix="keep a share of the requests, e.g. 0.1")
    if len(paths) == 1 and Path(paths[0]).is_dir() and is_servegen_folder(paths[0]):
        return workload_from_servegen(paths[0], start_s=start_s, duration_s=duration_s or 86_400.0,
                                      rate_scale=rate_scale, time_compression=time_compression, seed=seed)
    workload = workload_from_logs(paths, format=format, mapping=mapping, time_compression=time_compression)
    if start_s or duration_s is not None:
        workload = slice_workload(workload, start_s / time_compression,
                                  None if duration_s is None else duration_s / time_compression)
    if rate_scale < 1:
        workload = _thin(workload, rate_scale, seed)
    return workload


def _thin(workload: Workload, rate_scale: float, seed: int) -> Workload:
    import numpy as np

    keep = np.random.default_rng(seed).random(len(workload)) < rate_scale
    return slice_workload(Workload(
        arrival_s=workload.arrival_s[keep], input_tokens=workload.input_tokens[keep],
        output_tokens=workload.output_tokens[keep], start_epoch_s=workload.start_epoch_s, source=workload.source,
        time_compression=workload.time_compression, labels={k: v[keep] for k, v in workload.labels.items()},
        notes=workload.notes + (f"thinned to {rate_scale:g} of the requests (seed {seed})",)))
