"""One entry point for every demand source: `load_demand(paths, window_s) -> (Demand, summary)`.

Each path is classified by what it is, not by its name:

* a folder holding `chunk-*-trace.csv` files -> ServeGen (`servegen.read_servegen`);
* a file whose header starts with `series,window_start` -> a demand.csv (`schema.read_demand`),
  re-windowed when a coarser window is asked for;
* anything else (requests Parquet, raw logs) -> `from_requests.demand_from_requests`, which
  receives all such paths at once.

The series of all sources are merged into one `Demand`; two sources may not define the same
series.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from preserve_cli.demand.schema import METRICS, Demand, DemandSeries, read_demand
from preserve_cli.demand.servegen import is_servegen_folder, read_servegen
from preserve_cli.durations import format_duration
from preserve_cli.errors import InputError
from preserve_cli.timeutil import to_iso

SERVEGEN = "servegen"
DEMAND_CSV = "demand_csv"
REQUESTS = "requests"
# As preserve_cli.ingest.warehouse's (not imported: reading ServeGen or a demand.csv needs no DuckDB).
EMPTY_WINDOW_POLICIES = ("gap", "zero")
_DEMAND_HEADER = b"series,window_start"


def source_kind(path: str | Path) -> str:
    """SERVEGEN, DEMAND_CSV or REQUESTS (whatever `from_requests` reads)."""
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", file=path, fix="check the path")
    if is_servegen_folder(path):
        return SERVEGEN
    if path.is_file():
        with path.open("rb") as handle:
            head = handle.read(len(_DEMAND_HEADER) + 3)
        if head.removeprefix(b"\xef\xbb\xbf").startswith(_DEMAND_HEADER):
            return DEMAND_CSV
    return REQUESTS


def load_demand(source_paths: str | Path | Sequence[str | Path], window_s: int, *,
                series_by: str | None = None, empty_windows: str = "gap", epoch: str | None = None,
                ingest_options: dict[str, Any] | None = None) -> tuple[Demand, dict[str, Any]]:
    """Demand on `window_s` windows from any mix of sources, and a summary of it."""
    paths = [Path(source_paths)] if isinstance(source_paths, (str, Path)) else [Path(p) for p in source_paths]
    if not paths:
        raise InputError("no source given", field="SOURCE", fix="pass a ServeGen folder, a demand.csv or request logs")
    if empty_windows not in EMPTY_WINDOW_POLICIES:
        raise InputError(f"unknown policy {empty_windows!r}", field="--empty-windows",
                         fix="use 'gap' (a window with no requests is missing) or 'zero'")
    repeated = [str(path) for i, path in enumerate(paths) if path.resolve() in {p.resolve() for p in paths[:i]}]
    if repeated:
        raise InputError("source given twice (its demand would be counted twice)", file=repeated[0],
                         fix="pass each source once")
    kinds = {path: source_kind(path) for path in paths}
    _check_options_apply(kinds, series_by=series_by, empty_windows=empty_windows, epoch=epoch)
    parts: list[tuple[str, Demand]] = []
    extra: dict[str, Any] = {}
    for path, kind in kinds.items():
        if kind == SERVEGEN:
            result = read_servegen(path, window_s, epoch=epoch, empty_windows=empty_windows)
            stats = result.stats
            extra.setdefault("servegen", []).append({
                "path": str(path), "clients": stats.clients,
                "clients_without_dataset": len(stats.clients_without_dataset),
                "clients_without_dataset_ids": list(stats.clients_without_dataset),
                "fallback_client_windows": stats.fallback_client_windows,
                "fallback_requests": int(stats.fallback_requests),
                "gap_windows_10m": stats.gap_windows_10m,
            })
            parts.append((str(path), result.demand))
        elif kind == DEMAND_CSV:
            parts.append((str(path), rewindow(read_demand(path), window_s, path)))
    requests = [path for path, kind in kinds.items() if kind == REQUESTS]
    if requests and epoch:
        # Relative-time logs (Mooncake, Vidur) start at the same epoch as ServeGen's t=0.
        ingest_options = {**(ingest_options or {}), "epoch": epoch}
    if requests:
        parts.append((", ".join(map(str, requests)),
                      _from_requests(requests, window_s, series_by, empty_windows, ingest_options)))
    demand = _merge(parts, window_s)
    summary = summarize(demand, sources=[{"path": str(p), "kind": k} for p, k in kinds.items()])
    summary.update(extra)
    return demand, summary


def _check_options_apply(kinds: dict[Path, str], *, series_by: str | None, empty_windows: str,
                         epoch: str | None) -> None:
    """Refuse an option no given source can honour, instead of ignoring it."""
    present = set(kinds.values())
    if series_by and REQUESTS not in present:
        raise InputError("--series-by applies to request logs only; these sources already define their series",
                         field="--series-by", fix="drop --series-by")
    if epoch and not present & {SERVEGEN, REQUESTS}:
        raise InputError("--epoch applies to ServeGen folders and request logs with relative times only; "
                         "a demand.csv carries real timestamps", field="--epoch", fix="drop --epoch")
    if empty_windows != "gap" and present == {DEMAND_CSV}:
        raise InputError("a demand.csv already records its gaps (coverage 0); --empty-windows cannot change them",
                         field="--empty-windows", fix="drop --empty-windows")


def _from_requests(paths: list[Path], window_s: int, series_by: str | None, empty_windows: str,
                   ingest_options: dict[str, Any] | None) -> Demand:
    # Imported here: request-log ingestion is a separate module with heavier dependencies.
    try:
        module = importlib.import_module("preserve_cli.demand.from_requests")
    except ModuleNotFoundError as exc:
        if exc.name != "preserve_cli.demand.from_requests":
            raise
        raise InputError("not a ServeGen folder (no chunk-*-trace.csv) nor a demand.csv, and this installation "
                         "cannot read request logs", file=paths[0],
                         fix="pass a ServeGen folder or a demand.csv") from None
    return module.demand_from_requests(paths, window_s, series_by=series_by, empty_windows=empty_windows,
                                       ingest_options=ingest_options)


def _merge(parts: list[tuple[str, Demand]], window_s: int) -> Demand:
    series: dict[str, DemandSeries] = {}
    origin: dict[str, str] = {}
    notes: list[str] = []
    for where, demand in parts:
        for key, one in demand.series.items():
            if key in series:
                raise InputError(f"series {key!r} comes from both {origin[key]} and {where}", file=where,
                                 fix="pass one source per series")
            series[key], origin[key] = one, where
        notes.extend(demand.notes)
    return Demand(window_s=window_s, series=dict(sorted(series.items())), notes=notes)


def rewindow(demand: Demand, window_s: int, path: str | Path) -> Demand:
    """Sum a demand on fine windows into `window_s` windows (a whole multiple of them).

    Coarse windows are aligned to multiples of `window_s` since 1970-01-01 (shifted by the
    file's own offset from its window size, so a fine window never straddles two coarse ones):
    hourly files become UTC days. Values are sums of the observed fine windows; coverage is the
    mean coverage of the fine windows, a fine window outside the file counting as unobserved;
    requests stay unknown (empty) if any observed fine window lacks them.
    """
    fine = demand.window_s
    if window_s == fine:
        return demand
    if window_s < fine or window_s % fine:
        raise InputError(f"cannot make {format_duration(window_s)} windows from {format_duration(fine)} windows",
                         file=path, field="window_s",
                         fix=f"ask for a whole multiple of {format_duration(fine)}, "
                             "or rebuild the demand from the logs")
    series = {key: _rewindow_series(one, window_s) for key, one in demand.series.items()}
    note = f"{path}: {format_duration(fine)} windows summed into {format_duration(window_s)} windows"
    return Demand(window_s=window_s, series=series, notes=[*demand.notes, note])


def _rewindow_series(series: DemandSeries, window_s: int) -> DemandSeries:
    fine = series.window_s
    per = window_s // fine
    seconds = series.starts.astype("datetime64[s]").astype(np.int64)
    phase = int(seconds[0]) % fine
    first = (int(seconds[0]) - phase) // window_s * window_s + phase
    offset = (int(seconds[0]) - first) // fine
    count = -(-(offset + len(series)) // per)
    present = np.zeros(count * per, dtype=bool)
    present[offset:offset + len(series)] = ~series.missing
    coverage = np.zeros(count * per)
    coverage[offset:offset + len(series)] = series.coverage
    coarse_coverage = coverage.reshape(count, per).mean(axis=1)
    observed = present.reshape(count, per).any(axis=1)
    values = {}
    for name in METRICS:
        padded = np.zeros(count * per)
        # Missing fine windows add nothing; an unknown request count (NaN while tokens are
        # present) makes the coarse count unknown too.
        padded[offset:offset + len(series)] = np.where(series.missing, 0.0, series.metric(name))
        values[name] = np.where(observed, padded.reshape(count, per).sum(axis=1), np.nan)
    starts = np.datetime64(first, "s") + np.arange(count) * np.timedelta64(window_s, "s")
    return DemandSeries(key=series.key, window_s=window_s, starts=starts,
                        coverage=np.where(observed, coarse_coverage, 0.0), **values)


def summarize(demand: Demand, *, sources: list[dict[str, str]]) -> dict[str, Any]:
    """Per-series and overall windows, missing windows and totals (JSON-ready)."""
    rows = []
    for key in demand.keys():
        one = demand.series[key]
        rows.append({
            "series": key, "windows": len(one), "missing_windows": int(one.missing.sum()),
            "first_window": to_iso(one.starts[0]), "last_window": to_iso(one.starts[-1]),
            **{name: _total(one.metric(name)[~one.missing]) for name in METRICS},
        })
    kinds = sorted({source["kind"] for source in sources})
    return {
        "kind": kinds[0] if len(kinds) == 1 else "mixed",
        "sources": sources,
        "window_s": demand.window_s,
        "series": rows,
        "windows": sum(row["windows"] for row in rows),
        "missing_windows": sum(row["missing_windows"] for row in rows),
        **{name: _sum_known([row[name] for row in rows]) for name in METRICS},
        "notes": list(demand.notes),
    }


def _total(values: np.ndarray) -> int | float | None:
    """Exact integer when the sum is whole (JSON keeps every digit); None if any value is unknown."""
    if np.isnan(values).any():
        return None
    total = float(values.sum())
    return int(total) if total.is_integer() else total


def _sum_known(totals: list[int | float | None]) -> int | float | None:
    if any(total is None for total in totals):
        return None
    total = sum(totals)
    return int(total) if float(total).is_integer() else total
