"""Files a run leaves behind: the per-window timeline CSV (written atomically, stable number formatting)."""

from __future__ import annotations

from pathlib import Path

from preserve_cli.fileio import clean_number, write_text_atomic
from preserve_cli.timeutil import to_iso

TIMELINE_COLUMNS = ("window_start", "window_start_s", "arrivals", "served", "p99_normalized_latency_s", "p99_ttft_s",
                    "slo_attainment", "mean_instances", "gpu_hours")


def timeline_csv(rows: list[dict], start_epoch_s: float, time_compression: float) -> str:
    """`window_start` is the trace's own UTC time of the window (before time compression)."""
    import numpy as np

    lines = [",".join(TIMELINE_COLUMNS)]
    for row in rows:
        when = np.datetime64(round(start_epoch_s + row["window_start_s"] * time_compression), "s")
        cells = [to_iso(when)]
        for column in TIMELINE_COLUMNS[1:]:
            value = clean_number(row[column])
            cells.append("" if value is None else str(value))
        lines.append(",".join(cells))
    return "\n".join(lines) + "\n"


def write_timeline(path: str | Path, rows: list[dict], start_epoch_s: float, time_compression: float) -> None:
    write_text_atomic(path, timeline_csv(rows, start_epoch_s, time_compression))
