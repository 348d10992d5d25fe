"""Demand from a ServeGen folder (Alibaba Model Studio production workload summaries).

ServeGen (github.com/alibaba/ServeGen, Apache 2.0; Xiang et al., arXiv:2505.09999) is not a
request log: per API client N it publishes

* `chunk-N-trace.csv` (no header): `timestamp_s,rate,cv,pattern,arg1,arg2`, one row per
  10-minute window; `rate` is requests/s, so the window holds `rate x 600` requests;
* `chunk-N-dataset.json[.gz]`: `{window_start_s: {"input_tokens": "<pdf>", "output_tokens":
  "<pdf>"}}` every 6 hours, each `<pdf>` a string holding a Python dict literal
  `{token_len: probability}`.

Rules (also in `Demand.notes` and examples/ATTRIBUTION.md):

* prefill (decode) tokens of a client window = requests x mean input (output) length of that
  client's distribution for the 6-hour window containing it; probabilities are normalised by
  their sum, and an empty or all-zero pdf means "no distribution for this window";
* a client without a distribution (no dataset file, or the dataset lacks that 6-hour window)
  gets the request-weighted mean of the other clients' means for the same 6-hour window (the
  mean of their mixture), or over the whole span if no client has one there; how many
  clients and requests that concerns is counted and reported;
* a 10-minute window where EVERY client reports 0 requests is a gap in collection (missing),
  not zero demand, unless `empty_windows="zero"`;
* requests are rounded to whole requests and tokens to whole tokens per 10-minute window
  (ServeGen rates are counts/600: `rate x 600` is within 1e-10 of a whole number in m-large),
  so that any coarser window is the exact sum of its 10-minute windows;
* the source does not name the day or timezone of t=0: by convention t=0 is `epoch`,
  default 2025-01-06T00:00:00Z (a Monday, so weekday patterns line up with weekdays).
"""

from __future__ import annotations

import ast
import gzip
import json
import math
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from preserve_cli.demand.schema import Demand, DemandSeries
from preserve_cli.durations import format_duration
from preserve_cli.errors import InputError
from preserve_cli.timeutil import parse_iso, to_iso

# Window sizes fixed by the ServeGen data format (SOURCES.md; alibaba/ServeGen data/README).
TRACE_STEP_S = 600
DATASET_STEP_S = 21_600
DEFAULT_EPOCH = "2025-01-06T00:00:00Z"
MAX_WINDOW_S = 86_400
TRACE_GLOB = "chunk-*-trace.csv"
_TRACE_NAME = re.compile(r"^chunk-(.+)-trace\.csv$")
_TRACE_COLUMNS = "timestamp_s,rate,cv,pattern,arg1,arg2"
_TRACE_FIX = f"each line must be {_TRACE_COLUMNS} as in ServeGen (a window with no traffic is ts,0,0,,0,0)"
_PDF_FIX = "each pdf must be a string holding a dict literal {token_len: probability} as in ServeGen"
# bytes.translate deletes everything except the separators: a C-speed shape check of a pdf.
_NOT_SEPARATOR = bytes(c for c in range(256) if c not in b":,")
# Window sizes worth suggesting when the requested one does not fit the data.
_SUGGESTED_WINDOWS = (600, 1200, 1800, 3600, 7200, 10_800, 14_400, 21_600, 43_200, 86_400)


@dataclass(frozen=True)
class ServeGenStats:
    """What the conversion had to assume, so a user can judge the result."""

    clients: int
    clients_without_dataset: tuple[str, ...]   # client ids (the N of chunk-N) with no dataset file
    fallback_client_windows: int   # (client, 6-hour window) pairs with traffic whose dataset lacked a pdf
    fallback_requests: float       # requests whose token lengths came from the fallback mean
    requests: float
    gap_windows_10m: int           # 10-minute windows where every client reported 0
    unlisted_client_windows: int   # (client, 10-minute window) pairs absent from a trace file


@dataclass(frozen=True)
class ServeGenDemand:
    demand: Demand
    stats: ServeGenStats


def is_servegen_folder(path: str | Path) -> bool:
    path = Path(path)
    return path.is_dir() and any(path.glob(TRACE_GLOB))


def demand_from_servegen(folder: str | Path, window_s: int, *, epoch: str = DEFAULT_EPOCH,
                         empty_windows: str = "gap") -> Demand:
    """One series named after the folder (e.g. `m-large`), summed over its clients."""
    return read_servegen(folder, window_s, epoch=epoch, empty_windows=empty_windows).demand


def read_servegen(folder: str | Path, window_s: int, *, epoch: str | None = DEFAULT_EPOCH,
                  empty_windows: str = "gap") -> ServeGenDemand:
    """Like `demand_from_servegen`, with the counts of what had to be assumed."""
    folder = Path(folder).resolve()  # so that "." still names the series after the folder
    if empty_windows not in ("gap", "zero"):
        raise InputError(f"unknown empty-windows policy {empty_windows!r}", field="empty_windows",
                         fix="use 'gap' (a window with no traffic at all is missing) or 'zero'")
    start = parse_iso(epoch or DEFAULT_EPOCH, field="epoch")
    traces = _trace_files(folder)
    clients = list(traces)
    with _progress(len(clients)) as progress:
        task = progress.add_task(f"reading ServeGen {folder.name}", total=2 * len(clients))
        parsed = {}
        for client in clients:
            parsed[client] = _read_trace(traces[client])
            progress.advance(task)
        first = min(int(starts[0]) for starts, _ in parsed.values())
        n10 = max(int(starts[-1]) for starts, _ in parsed.values()) - first + 1
        _check_window(window_s, n10, folder)
        requests = np.zeros((len(clients), n10))
        for row, (starts, counts) in enumerate(parsed.values()):
            requests[row, starts - first] = counts
        unlisted = len(clients) * n10 - sum(len(starts) for starts, _ in parsed.values())
        # 6-hour window of each 10-minute window, counted from the first 6-hour window of the grid.
        six_hour = (first + np.arange(n10)) * TRACE_STEP_S // DATASET_STEP_S
        six_hour -= six_hour[0]
        n6 = int(six_hour[-1]) + 1
        means_in = np.full((len(clients), n6), np.nan)
        means_out = np.full((len(clients), n6), np.nan)
        without_dataset = []
        for row, client in enumerate(clients):
            dataset = _dataset_file(folder, client)
            if dataset is None:
                without_dataset.append(client)
            else:
                _read_dataset(dataset, first * TRACE_STEP_S // DATASET_STEP_S, means_in[row], means_out[row])
            progress.advance(task)
    per_6h = np.zeros((len(clients), n6))
    np.add.at(per_6h, (slice(None), six_hour), requests)
    has_pdf = ~np.isnan(means_in) & ~np.isnan(means_out)
    filled_in = _fill_from_other_clients(means_in, per_6h, folder)
    filled_out = _fill_from_other_clients(means_out, per_6h, folder)
    traffic = requests > 0
    requests_10m = requests.sum(axis=0)
    prefill_10m = np.where(traffic, requests * filled_in[:, six_hour], 0.0).sum(axis=0)
    decode_10m = np.where(traffic, requests * filled_out[:, six_hour], 0.0).sum(axis=0)
    fallback = traffic & ~has_pdf[:, six_hour]
    has_dataset = np.array([c not in without_dataset for c in clients], dtype=bool)
    stats = ServeGenStats(
        clients=len(clients), clients_without_dataset=tuple(without_dataset),
        fallback_client_windows=int(((per_6h > 0) & ~has_pdf)[has_dataset].sum()),
        fallback_requests=float(np.round(requests[fallback].sum())),
        requests=float(np.round(requests_10m.sum())),
        gap_windows_10m=int((requests_10m == 0).sum()), unlisted_client_windows=unlisted)
    observed = requests_10m > 0 if empty_windows == "gap" else np.ones(n10, dtype=bool)
    rounding = float(np.abs(requests_10m - np.round(requests_10m)).max())
    series = _aggregate(folder.name, window_s, start + np.timedelta64(first * TRACE_STEP_S, "s"),
                        observed, np.round(requests_10m), np.round(prefill_10m), np.round(decode_10m))
    notes = _notes(folder.name, stats, empty_windows, start, rounding)
    return ServeGenDemand(Demand(window_s=window_s, series={series.key: series}, notes=notes), stats)


def _progress(clients: int) -> Progress:
    # Transient and terminal-only: scripts and logs get no bar, and nothing is left on stderr
    # except the one error line if the input is bad.
    console = Console(stderr=True)
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    console=console, transient=True, disable=not console.is_terminal or clients < 8)


def _client_order(client: str) -> tuple[int, int, str]:
    return (0, int(client), "") if client.isdigit() else (1, 0, client)


def _trace_files(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        raise InputError("not a folder", file=folder, fix="pass a ServeGen folder such as data/language/m-large")
    found = {}
    for path in folder.glob(TRACE_GLOB):
        match = _TRACE_NAME.match(path.name)
        if match and path.is_file():
            found[match.group(1)] = path
    if not found:
        raise InputError("no chunk-N-trace.csv files in this folder", file=folder,
                         fix="pass a ServeGen folder such as data/language/m-large")
    return {client: found[client] for client in sorted(found, key=_client_order)}


def _dataset_file(folder: Path, client: str) -> Path | None:
    candidates = [p for p in (folder / f"chunk-{client}-dataset.json.gz", folder / f"chunk-{client}-dataset.json")
                  if p.is_file()]
    if len(candidates) > 1:
        raise InputError(f"client {client} has both {candidates[0].name} and {candidates[1].name}",
                         file=folder, fix="keep one dataset file per client")
    return candidates[0] if candidates else None


def _read_trace(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """10-minute window indexes (ascending) and request counts (rate x 600)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise InputError("not a UTF-8 text file", file=path, fix=_TRACE_FIX) from None
    starts: list[int] = []
    rates: list[float] = []
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        cells = line.split(",")
        if len(cells) != 6:
            raise InputError(f"expected 6 cells, found {len(cells)}", file=path, line=line_no, fix=_TRACE_FIX)
        ts = _trace_number(cells[0], path, line_no, "timestamp_s")
        if ts % TRACE_STEP_S:
            raise InputError(f"timestamp {cells[0]!r} is not a multiple of {TRACE_STEP_S} s", file=path,
                             line=line_no, field="timestamp_s", fix=_TRACE_FIX)
        if starts and ts // TRACE_STEP_S <= starts[-1]:
            raise InputError(f"timestamp {cells[0]!r} does not increase", file=path, line=line_no,
                             field="timestamp_s", fix="keep one row per window, in time order")
        starts.append(int(ts) // TRACE_STEP_S)
        rates.append(_trace_number(cells[1], path, line_no, "rate"))
    if not starts:
        raise InputError("trace file is empty", file=path, fix=_TRACE_FIX)
    return np.array(starts, dtype=np.int64), np.array(rates) * TRACE_STEP_S


def _trace_number(text: str, path: Path, line_no: int, column: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise InputError(f"{text!r} is not a non-negative number", file=path, line=line_no, field=column,
                         fix=_TRACE_FIX)
    return value


def _read_dataset(path: Path, first_6h: int, means_in: np.ndarray, means_out: np.ndarray) -> None:
    """Fill per-6-hour mean token lengths (NaN stays where the dataset has no pdf)."""
    raw = path.read_bytes()
    if path.name.endswith(".gz"):
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error):
            raise InputError("not a readable gzip file", file=path,
                             fix="re-download it, or gunzip it and pass the .json") from None
    try:
        document = json.loads(raw)
    except UnicodeDecodeError:
        raise InputError("not UTF-8 JSON", file=path, fix=_PDF_FIX) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc.msg}, column {exc.colno})", file=path, line=exc.lineno,
                         fix="re-download the file; it must be one JSON object") from None
    if not isinstance(document, dict):
        raise InputError("expected a JSON object {window_start_s: {...}}", file=path, fix=_PDF_FIX)
    for key, entry in document.items():
        window = _dataset_window(key, path) - first_6h
        if not isinstance(entry, dict):
            raise InputError("expected an object with input_tokens and output_tokens", file=path,
                             field=key, fix=_PDF_FIX)
        means = [_pdf_mean(entry.get(kind), path, f"{key}.{kind}") for kind in ("input_tokens", "output_tokens")]
        # A pdf outside the span of the traces describes no request: nothing to attach it to.
        if 0 <= window < len(means_in):
            means_in[window], means_out[window] = means


def _dataset_window(key: str, path: Path) -> int:
    try:
        start = int(key)
    except ValueError:
        start = -1
    if start < 0 or start % DATASET_STEP_S:
        raise InputError(f"window key {key!r} is not a multiple of {DATASET_STEP_S} s", file=path, field=key,
                         fix="keys are 6-hour window starts in seconds, as in ServeGen")
    return start // DATASET_STEP_S


def _pdf_mean(text: object, path: Path, field: str) -> float:
    """Mean token length of one pdf; NaN for an empty (or all-zero) pdf."""
    if not isinstance(text, str):
        raise InputError("missing, or not a string", file=path, field=field, fix=_PDF_FIX)
    arrays = _parse_pdf_fast(text)
    lengths, probabilities = arrays if arrays is not None else _parse_pdf_literal(text, path, field)
    if np.any(probabilities < 0):
        raise InputError("negative probability", file=path, field=field, fix="probabilities must be >= 0")
    if np.any(lengths < 0) or np.any(lengths != np.round(lengths)):
        raise InputError("token lengths must be whole numbers >= 0", file=path, field=field, fix=_PDF_FIX)
    total = probabilities.sum()
    return float(lengths @ probabilities / total) if total > 0 else math.nan


def _parse_pdf_fast(text: str) -> tuple[np.ndarray, np.ndarray] | None:
    """`{int: float, ...}` without building a dict (ast.literal_eval of m-large takes ~9 s).

    Returns None for anything not of exactly that shape; the caller then uses
    ast.literal_eval, so both paths accept the same literals with the same values.
    """
    data = text.encode("utf-8").strip()
    if not (data.startswith(b"{") and data.endswith(b"}")):
        return None
    body = data[1:-1]
    if not body.strip():
        return np.empty(0), np.empty(0)
    pairs = body.count(b":")
    if body.translate(None, _NOT_SEPARATOR) != b":" + b",:" * (pairs - 1):
        return None
    try:
        numbers = np.array(body.replace(b":", b",").split(b","), dtype=np.float64).reshape(-1, 2)
    except ValueError:
        return None
    lengths, probabilities = numbers[:, 0], numbers[:, 1]
    # Non-finite values are not Python literals, and a repeated key keeps only its last value
    # in a dict: leave both to literal_eval.
    if not np.all(np.isfinite(numbers)) or len(np.unique(lengths)) != len(lengths):
        return None
    return lengths, probabilities


def _parse_pdf_literal(text: str, path: Path, field: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        pdf = ast.literal_eval(text)  # never eval: the file is data
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise InputError("not a Python dict literal", file=path, field=field, fix=_PDF_FIX) from None
    if not isinstance(pdf, dict):
        raise InputError(f"a {type(pdf).__name__}, not a dict", file=path, field=field, fix=_PDF_FIX)
    numbers = [(k, v) for k, v in pdf.items()
               if isinstance(k, (int, float)) and isinstance(v, (int, float))
               and not isinstance(k, bool) and not isinstance(v, bool)]
    if len(numbers) != len(pdf) or not all(math.isfinite(k) and math.isfinite(v) for k, v in numbers):
        raise InputError("keys and values must be finite numbers", file=path, field=field, fix=_PDF_FIX)
    array = np.array(numbers, dtype=np.float64).reshape(-1, 2)
    return array[:, 0], array[:, 1]


def _fill_from_other_clients(means: np.ndarray, per_6h: np.ndarray, folder: Path) -> np.ndarray:
    """Replace NaN means with the request-weighted mean of the clients that have one."""
    known = ~np.isnan(means)
    weights = np.where(known, per_6h, 0.0)
    weighted = np.where(known, means * per_6h, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        by_window = weighted.sum(axis=0) / weights.sum(axis=0)
        overall = weighted.sum() / weights.sum()
    by_window = np.where(weights.sum(axis=0) > 0, by_window, overall)
    needed = ~known & (per_6h > 0)
    if needed.any() and math.isnan(overall):
        raise InputError("no client with traffic has a token-length distribution", file=folder,
                         fix="add chunk-N-dataset.json.gz files; without any, token demand is unknown")
    return np.where(known, means, by_window[np.newaxis, :])


def _check_window(window_s: int, n10: int, folder: Path) -> None:
    span = n10 * TRACE_STEP_S
    fits = TRACE_STEP_S <= window_s <= MAX_WINDOW_S and window_s % TRACE_STEP_S == 0 and span % window_s == 0
    if not fits:
        choices = ", ".join(format_duration(w) for w in _SUGGESTED_WINDOWS if span % w == 0)
        raise InputError(f"window {format_duration(window_s)} does not fit the data ({n10} windows of 10m, "
                         f"{format_duration(span)} in all)", file=folder, field="window",
                         fix=f"use a multiple of 10m up to 1d that divides {format_duration(span)}, e.g. {choices}")


def _aggregate(key: str, window_s: int, first_start: np.datetime64, observed: np.ndarray,
               requests: np.ndarray, prefill: np.ndarray, decode: np.ndarray) -> DemandSeries:
    """Sum 10-minute values into `window_s` windows; coverage = observed fraction."""
    per = window_s // TRACE_STEP_S

    def total(values: np.ndarray) -> np.ndarray:
        summed = np.where(observed, values, 0.0).reshape(-1, per).sum(axis=1)
        return np.where(coverage > 0, summed, np.nan)

    coverage = observed.reshape(-1, per).mean(axis=1)
    starts = first_start + np.arange(len(coverage)) * np.timedelta64(window_s, "s")
    return DemandSeries(key=key, window_s=window_s, starts=starts, coverage=coverage,
                        requests=total(requests), prefill_tokens=total(prefill), decode_tokens=total(decode))


def _notes(name: str, stats: ServeGenStats, empty_windows: str, epoch: np.datetime64, rounding: float) -> list[str]:
    share = stats.fallback_requests / stats.requests if stats.requests else 0.0
    ids = ", ".join(f"chunk-{c}" for c in stats.clients_without_dataset)
    notes = [f"ServeGen {name}: {stats.clients} clients; {len(stats.clients_without_dataset)} without a token-length "
             f"dataset{f' ({ids})' if ids else ''} and {stats.fallback_client_windows} client 6-hour windows "
             "with traffic but no pdf use the request-weighted mean of the other clients' mean lengths in the same "
             f"6 hours: {stats.fallback_requests:,.0f} of {stats.requests:,.0f} requests ({share:.1%})",
             f"t=0 of the source is taken as {to_iso(epoch)} (a convention: ServeGen names neither the day nor the "
             "timezone; set another with --epoch)"]
    if stats.gap_windows_10m:
        treated = "gaps (missing), not zero demand" if empty_windows == "gap" else "zero demand (--empty-windows zero)"
        notes.append(f"{stats.gap_windows_10m} 10-minute windows where every client reported 0 requests: {treated}")
    if stats.unlisted_client_windows:
        notes.append(f"{stats.unlisted_client_windows} client 10-minute windows absent from their trace file "
                     "count as no traffic from that client")
    if rounding > 1e-6:
        notes.append(f"rate x 600 was up to {rounding:.3g} away from a whole number of requests; "
                     "rounded per 10 minutes")
    return notes
