"""A request stream generated from a ServeGen folder (per-client rates, inter-arrival shapes, token pdfs).

ServeGen (github.com/alibaba/ServeGen, Apache 2.0; Xiang et al., arXiv:2505.09999) publishes, per API
client and 10-minute window, the request rate, the coefficient of variation of inter-arrival times and
the fitted inter-arrival family (`Gamma` or `Weibull`; arg1 is the shape: for Gamma it equals 1/cv^2 in
the data), and per 6-hour window the pdfs of input and output tokens. The generator:

* requests per client window: `rate x 600` (whole in the data), thinned by `rate_scale` (each request
  kept with that probability, seeded) so a big service fits a small simulated fleet;
* arrival times inside the window: a renewal process of the fitted family with the window's shape,
  conditioned on the window's count — n + 1 gaps are drawn (window shape, scale 1) and scaled to fill the 600 s, so
  counts match the trace exactly while the burstiness (the shape) is kept. The fitted scale (arg2) is
  not used: it does not match the window's rate in the data (e.g. chunk-1 at 31800 s: Gamma mean
  arg1 x arg2 = 0.08 s against 1 / rate = 23 s). Windows without a family are Poisson;
* tokens: drawn from the client's pdf of the 6-hour window; a client without one there draws from the
  pooled pdf of all clients in that window (weighted by their requests), else of the whole span; how
  many requests that concerns is in the workload's notes;
* the clock: t = 0 is `epoch` (default 2025-01-06T00:00:00Z, a Monday, as `preserve demand` uses);
  `time_compression` > 1 replays faster (PreServe replayed 2 days in about 2 hours: 24).
"""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import numpy as np

from preserve_cli.demand.servegen import (
    DATASET_STEP_S,
    DEFAULT_EPOCH,
    TRACE_STEP_S,
    _dataset_file,
    _parse_pdf_fast,
    _parse_pdf_literal,
    _trace_files,
)
from preserve_cli.errors import InputError
from preserve_cli.simulate.workload import Workload, make_workload
from preserve_cli.timeutil import parse_iso

_FIX = "each line must be timestamp_s,rate,cv,pattern,arg1,arg2 as in ServeGen"


def _read_client(path: Path, first: int, stop: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(window index, requests, family 0 Poisson / 1 Gamma / 2 Weibull, shape) for windows in [first, stop)."""
    rows = []
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        head, _, rest = line.partition(",")
        try:
            window = int(float(head)) // TRACE_STEP_S
        except ValueError:
            if not line.strip():
                continue
            raise InputError("timestamp_s is not a number", file=path, line=line_no, fix=_FIX) from None
        if not first <= window < stop:
            continue
        cells = rest.split(",")
        if len(cells) != 5:
            raise InputError(f"expected 6 cells, found {len(cells) + 1}", file=path, line=line_no, fix=_FIX)
        try:
            rate = float(cells[0])
            shape = float(cells[3] or 0)
        except ValueError:
            raise InputError("not a number", file=path, line=line_no, fix=_FIX) from None
        if not (math.isfinite(rate) and rate >= 0 and math.isfinite(shape)):
            raise InputError("rate must be >= 0 and arg1 finite", file=path, line=line_no, fix=_FIX)
        if rate > 0:
            family = {"Gamma": 1, "Weibull": 2}.get(cells[2], 0)
            if family and shape <= 0:
                family = 0
            rows.append((window, round(rate * TRACE_STEP_S), family, shape))
    if not rows:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
    array = np.array(rows, dtype=np.float64)
    return array[:, 0].astype(np.int64), array[:, 1].astype(np.int64), array[:, 2].astype(np.int64), array[:, 3]


def _arrivals(rng: np.random.Generator, windows: np.ndarray, counts: np.ndarray, family: np.ndarray,
              shape: np.ndarray) -> np.ndarray:
    """Arrival offsets (s) of `counts[i]` requests in window `windows[i]`, renewal gaps scaled to 600 s."""
    gaps_per = counts + 1
    shapes = np.repeat(shape, gaps_per)
    kinds = np.repeat(family, gaps_per)
    gaps = np.empty(shapes.shape)
    for kind in (0, 1, 2):
        mask = kinds == kind
        if not mask.any():
            continue
        if kind == 0:
            gaps[mask] = rng.exponential(1.0, mask.sum())
        elif kind == 1:
            gaps[mask] = rng.gamma(shapes[mask], 1.0)
        else:
            gaps[mask] = rng.weibull(shapes[mask])
    gaps = np.maximum(gaps, 1e-12)
    bounds = np.concatenate([[0], np.cumsum(gaps_per)])
    cumulative = np.cumsum(gaps)
    before = np.concatenate([[0.0], cumulative])[bounds[:-1]]
    totals = cumulative[bounds[1:] - 1] - before
    owner = np.repeat(np.arange(len(counts)), gaps_per)
    position = (cumulative - before[owner]) / totals[owner]
    keep = np.ones(len(gaps), dtype=bool)
    keep[bounds[1:] - 1] = False          # the (n+1)-th gap ends at the window's end: no request there
    return (windows[owner] * TRACE_STEP_S + position * TRACE_STEP_S)[keep]


Pdf = tuple[np.ndarray, np.ndarray]   # token lengths, cumulative probabilities


def _pdfs(path: Path | None, wanted: set[int]) -> dict[int, tuple[Pdf, Pdf]]:
    """6-hour window index -> ((input lengths, cdf), (output lengths, cdf)); windows with an empty pdf left out."""
    if path is None:
        return {}
    raw = path.read_bytes()
    document = json.loads(gzip.decompress(raw) if path.name.endswith(".gz") else raw)
    out = {}
    for key, entry in document.items():
        try:
            window = int(float(key)) // DATASET_STEP_S
        except ValueError:
            raise InputError("window key is not a number", file=path, field=key,
                             fix="keys are window starts in seconds, as in ServeGen") from None
        if window not in wanted:
            continue
        pair = []
        for kind in ("input_tokens", "output_tokens"):
            text = entry.get(kind) if isinstance(entry, dict) else None
            if not isinstance(text, str):
                raise InputError("missing pdf", file=path, field=f"{key}.{kind}",
                                 fix="each window needs input_tokens and output_tokens pdf strings")
            arrays = _parse_pdf_fast(text)
            lengths, probabilities = arrays if arrays is not None else _parse_pdf_literal(text, path, f"{key}.{kind}")
            total = probabilities.sum()
            if not total > 0:
                break
            pair.append((lengths, np.cumsum(probabilities) / total))
        if len(pair) == 2:
            out[window] = (pair[0], pair[1])
    return out


def _draw(rng: np.random.Generator, pdf: Pdf, n: int) -> np.ndarray:
    lengths, cdf = pdf
    return lengths[np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), len(lengths) - 1)].astype(np.int64)


def workload_from_servegen(folder: str | Path, *, start_s: float = 0.0, duration_s: float = 86_400.0,
                           rate_scale: float = 1.0, time_compression: float = 1.0, seed: int = 0,
                           epoch: str = DEFAULT_EPOCH) -> Workload:
    """Generate the requests of [start_s, start_s + duration_s) of the ServeGen folder (see module doc)."""
    folder = Path(folder)
    if not 0 < rate_scale <= 1:
        raise InputError(f"rate scale {rate_scale!r} is not in (0, 1]", field="--rate-scale",
                         fix="keep a share of the requests, e.g. 0.001")
    first, stop = int(start_s // TRACE_STEP_S), math.ceil((start_s + duration_s) / TRACE_STEP_S)
    rng = np.random.default_rng(seed)
    clients = []
    for client, path in _trace_files(folder).items():
        windows, counts, family, shape = _read_client(path, first, stop)
        if rate_scale < 1:
            counts = rng.binomial(counts, rate_scale)
        keep = counts > 0
        if keep.any():
            arrival = _arrivals(rng, windows[keep], counts[keep], family[keep], shape[keep])
            wanted = {int(w) for w in np.unique(arrival // DATASET_STEP_S)}
            clients.append((client, arrival, _pdfs(_dataset_file(folder, client), wanted)))
    if not clients:
        raise InputError(f"no request in [{start_s:g}, {start_s + duration_s:g}) s", file=folder,
                         field="--start/--duration", fix="choose a time range with traffic")
    arrival = np.concatenate([a for _, a, _ in clients])
    six_hour = (arrival // DATASET_STEP_S).astype(np.int64)
    owner = np.concatenate([np.full(len(a), k) for k, (_, a, _) in enumerate(clients)])
    input_tokens = np.zeros(len(arrival), np.int64)
    output_tokens = np.zeros(len(arrival), np.int64)
    missing = np.zeros(len(arrival), dtype=bool)
    for k, (_, _, pdfs) in enumerate(clients):
        mine = owner == k
        for window in np.unique(six_hour[mine]):
            rows = np.flatnonzero(mine & (six_hour == window))
            if int(window) in pdfs:
                pdf_in, pdf_out = pdfs[int(window)]
                input_tokens[rows] = _draw(rng, pdf_in, len(rows))
                output_tokens[rows] = _draw(rng, pdf_out, len(rows))
            else:
                missing[rows] = True
    if missing.all():
        raise InputError("no client has a token pdf for the chosen time range", file=folder,
                         fix="choose a range the chunk-N-dataset.json.gz files cover")
    donors = np.flatnonzero(~missing)
    for window in np.unique(six_hour[missing]):
        rows = np.flatnonzero(missing & (six_hour == window))
        pool = donors[six_hour[donors] == window]
        pool = pool if pool.size else donors
        # Drawing a random request of the clients that have pdfs = the request-weighted pooled pdf.
        picked = pool[rng.integers(0, pool.size, rows.size)]
        input_tokens[rows] = input_tokens[picked]
        output_tokens[rows] = output_tokens[picked]
    start_epoch = float(parse_iso(epoch, field="--epoch").astype("datetime64[s]").astype(np.int64))
    notes = ((f"ServeGen {folder.name}: {len(clients)} clients, rate scale {rate_scale:g}, seed {seed}; "
              f"{int(missing.sum()):,} requests drew tokens from the pooled pdf (their client has none there)"),)
    labels = {"client": np.array([clients[k][0] for k in owner], dtype=object)}
    return make_workload(start_epoch + arrival, input_tokens, output_tokens, source=str(folder),
                         time_compression=time_compression, labels=labels, notes=notes)
