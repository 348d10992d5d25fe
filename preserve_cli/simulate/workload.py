"""A request stream to replay: arrival offsets and token counts, sorted by arrival."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from preserve_cli.errors import InputError


@dataclass(frozen=True)
class Workload:
    arrival_s: np.ndarray        # float64, seconds since `start_epoch_s`, non-decreasing
    input_tokens: np.ndarray     # int64
    output_tokens: np.ndarray    # int64 (0 is served as 1: the engine always yields a first token)
    start_epoch_s: float         # Unix time of offset 0 (UTC)
    source: str
    time_compression: float = 1.0    # > 1: arrivals were sped up by this factor
    labels: dict[str, np.ndarray] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def __len__(self) -> int:
        return int(self.arrival_s.shape[0])

    @property
    def span_s(self) -> float:
        return float(self.arrival_s[-1]) if len(self) else 0.0


def make_workload(arrival_epoch_s: np.ndarray, input_tokens: np.ndarray, output_tokens: np.ndarray, *,
                  source: str, time_compression: float = 1.0, labels: dict[str, np.ndarray] | None = None,
                  notes: tuple[str, ...] = ()) -> Workload:
    """Sort by arrival (stable), start the clock at the first arrival, compress time by the factor."""
    arrival = np.asarray(arrival_epoch_s, dtype=np.float64)
    if arrival.size == 0:
        raise InputError("the workload has no requests", file=source, fix="give a log or a time range with traffic")
    if not time_compression > 0:
        raise InputError(f"time compression {time_compression!r} is not > 0", field="--time-compression",
                         fix="write a factor such as 24 (one day replayed in one hour)")
    order = np.argsort(arrival, kind="stable")
    start = float(arrival[order[0]])
    return Workload(
        arrival_s=(arrival[order] - start) / time_compression,
        input_tokens=np.asarray(input_tokens, dtype=np.int64)[order],
        output_tokens=np.asarray(output_tokens, dtype=np.int64)[order],
        start_epoch_s=start, source=source, time_compression=float(time_compression),
        labels={k: np.asarray(v)[order] for k, v in (labels or {}).items()}, notes=notes,
    )


def slice_workload(workload: Workload, start_s: float = 0.0, duration_s: float | None = None) -> Workload:
    """The requests arriving in [start_s, start_s + duration_s) of the (compressed) clock, restarted at 0."""
    stop = np.inf if duration_s is None else start_s + duration_s
    keep = (workload.arrival_s >= start_s) & (workload.arrival_s < stop)
    if not keep.any():
        raise InputError(f"no request arrives in [{start_s:g}, {stop:g}) s of the workload", file=workload.source,
                         field="--start/--duration", fix=f"the workload spans 0-{workload.span_s:.0f} s")
    first = float(workload.arrival_s[keep][0])
    return Workload(
        arrival_s=workload.arrival_s[keep] - first, input_tokens=workload.input_tokens[keep],
        output_tokens=workload.output_tokens[keep],
        start_epoch_s=workload.start_epoch_s + first * workload.time_compression, source=workload.source,
        time_compression=workload.time_compression, labels={k: v[keep] for k, v in workload.labels.items()},
        notes=workload.notes,
    )
