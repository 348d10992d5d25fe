"""Profile exports for other planners, behind one registry (`preserve profile export --format`).

* `dynamo`: NVIDIA Dynamo SLA planner's interpolation data, two NPZ files
  (selected_prefill_interpolation/raw_data.npz, selected_decode_interpolation/raw_data.npz);
* `aibrix`: AIBrix GPU optimizer's profile JSON (max requests/s per output x input bucket).
Formats as described in shared/research/anchors.md and the upstream docs each module cites.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from preserve_cli.errors import InputError
from preserve_cli.profile.exports.aibrix import export_aibrix
from preserve_cli.profile.exports.common import ExportRequest
from preserve_cli.profile.exports.dynamo import export_dynamo

Exporter = Callable[[ExportRequest, Path], list[Path]]
EXPORTERS: dict[str, Exporter] = {"aibrix": export_aibrix, "dynamo": export_dynamo}

__all__ = ["EXPORTERS", "ExportRequest", "export_profile"]


def export_profile(format_name: str, request: ExportRequest, target: Path) -> list[Path]:
    """Write `request`'s profile in `format_name`; returns the files written."""
    exporter = EXPORTERS.get(format_name)
    if exporter is None:
        raise InputError(f"unknown export format {format_name!r}", field="--format",
                         fix=f"use one of: {', '.join(EXPORTERS)}")
    return exporter(request, target)
