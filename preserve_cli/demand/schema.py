"""The demand artifact: token demand per series and window.

File format (`demand.csv`, documented in docs/formats.md), one row per series and
window, a complete regular grid per series:

    series,window_start,window_s,coverage,requests,prefill_tokens,decode_tokens
    llama-2-7b,2024-05-10T13:00:00Z,3600,1,1234,5678901,234567

* `window_start` is UTC, ISO 8601 with `Z`.
* A missing window (a gap in collection) has `coverage` 0 and EMPTY value cells;
  missing is not zero demand.
* `coverage` in (0, 1] is the fraction of the window the source observed (e.g.
  the first and last window of a log); values are what was OBSERVED, so token
  totals are preserved exactly. `observed / coverage` estimates the full window.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from preserve_cli.errors import InputError
from preserve_cli.fileio import read_input_text, write_text_atomic
from preserve_cli.timeutil import parse_iso, to_iso

DEMAND_COLUMNS = ("series", "window_start", "window_s", "coverage", "requests",
                  "prefill_tokens", "decode_tokens")
METRICS = ("requests", "prefill_tokens", "decode_tokens")


@dataclass(frozen=True)
class DemandSeries:
    """One series on a regular grid. NaN in the value arrays = missing window."""

    key: str
    window_s: int
    starts: np.ndarray          # datetime64[s], UTC, strictly increasing by window_s
    coverage: np.ndarray        # float64 in [0, 1]; 0 where missing
    requests: np.ndarray        # float64, NaN where missing (or unknown)
    prefill_tokens: np.ndarray  # float64, NaN where missing
    decode_tokens: np.ndarray   # float64, NaN where missing

    def metric(self, name: str) -> np.ndarray:
        return getattr(self, name)

    def full_window_estimate(self, name: str) -> np.ndarray:
        """Observed value scaled to the whole window (NaN where missing)."""
        values = self.metric(name)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.coverage > 0, values / np.where(self.coverage > 0, self.coverage, 1), np.nan)

    @property
    def missing(self) -> np.ndarray:
        return np.isnan(self.prefill_tokens)

    def __len__(self) -> int:
        return len(self.starts)


@dataclass
class Demand:
    window_s: int
    series: dict[str, DemandSeries]
    notes: list[str] = field(default_factory=list)

    def keys(self) -> list[str]:
        return sorted(self.series)


def _fmt(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if float(value).is_integer():
        return str(int(value))
    # Fixed point, not %g: a token sum like 12345678.5 must keep its digits.
    return f"{value:.6f}".rstrip("0").rstrip(".")


def demand_to_csv(demand: Demand) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(DEMAND_COLUMNS)
    for key in demand.keys():
        s = demand.series[key]
        for i in range(len(s)):
            missing = math.isnan(s.prefill_tokens[i])
            writer.writerow([
                key, to_iso(s.starts[i]), s.window_s,
                "0" if missing else _fmt(round(float(s.coverage[i]), 6)),
                _fmt(s.requests[i]), _fmt(s.prefill_tokens[i]), _fmt(s.decode_tokens[i]),
            ])
    return buffer.getvalue()


def write_demand(demand: Demand, path: str | Path) -> None:
    write_text_atomic(path, demand_to_csv(demand))


def _number(text: str, *, path: str, line: int, column: str) -> float:
    if text.strip() == "":
        return math.nan
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{text!r} is not a number", file=path, line=line, field=column,
                         fix="write a non-negative number, or leave the cell empty for a missing window") from None
    if math.isnan(value) or math.isinf(value) or value < 0:
        raise InputError(f"{text!r} is not a non-negative number", file=path, line=line, field=column,
                         fix="write a non-negative number, or leave the cell empty for a missing window")
    return value


def read_demand(path: str | Path) -> Demand:
    """Read demand.csv; every problem is an InputError naming file, line and column."""
    path = str(path)
    text = read_input_text(path, expected="a demand CSV written by `preserve demand`")
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise InputError("file is empty", file=path, fix="pass a demand CSV written by `preserve demand`")
    header = [h.strip() for h in rows[0]]
    required = ("series", "window_start", "window_s", "prefill_tokens", "decode_tokens")
    missing_cols = [c for c in required if c not in header]
    if missing_cols:
        raise InputError(f"missing column(s) {', '.join(missing_cols)}; header is {','.join(header)}",
                         file=path, line=1,
                         fix=f"the header must be {','.join(DEMAND_COLUMNS)} (requests and coverage optional)")
    col = {name: header.index(name) for name in header}
    grouped: dict[str, list[tuple[np.datetime64, float, float, float, float, int]]] = {}
    window_s: int | None = None
    for line_no, row in enumerate(rows[1:], start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise InputError(f"expected {len(header)} cells, found {len(row)}", file=path, line=line_no,
                             fix="check for a truncated line or stray commas")
        key = row[col["series"]].strip()
        if not key:
            raise InputError("empty series name", file=path, line=line_no, field="series",
                             fix="name the series (e.g. the model), or use 'all'")
        start = parse_iso(row[col["window_start"]], file=path, line=line_no)
        try:
            this_window = int(row[col["window_s"]])
        except ValueError:
            raise InputError(f"{row[col['window_s']]!r} is not a whole number of seconds", file=path,
                             line=line_no, field="window_s", fix="write e.g. 3600 for hourly windows") from None
        if this_window <= 0:
            raise InputError("window_s must be positive", file=path, line=line_no, field="window_s",
                             fix="write e.g. 3600 for hourly windows")
        if window_s is None:
            window_s = this_window
        elif this_window != window_s:
            raise InputError(f"window_s {this_window} differs from {window_s} on earlier lines", file=path,
                             line=line_no, field="window_s", fix="use one window size per demand file")
        values = {c: _number(row[col[c]], path=path, line=line_no, column=c) if c in col else math.nan
                  for c in ("requests", "prefill_tokens", "decode_tokens")}
        if math.isnan(values["prefill_tokens"]) != math.isnan(values["decode_tokens"]):
            raise InputError("prefill_tokens and decode_tokens must both be present or both empty",
                             file=path, line=line_no, fix="leave both empty for a missing window")
        present = not math.isnan(values["prefill_tokens"])
        if "coverage" in col and row[col["coverage"]].strip() != "":
            coverage = _number(row[col["coverage"]], path=path, line=line_no, column="coverage")
            if coverage > 1:
                raise InputError("coverage must be between 0 and 1", file=path, line=line_no,
                                 field="coverage", fix="write the observed fraction of the window")
        else:
            coverage = 1.0 if present else 0.0
        if present and coverage == 0:
            raise InputError("coverage is 0 but values are present", file=path, line=line_no,
                             field="coverage", fix="leave the values empty for a missing window, or set coverage")
        if not present:
            coverage = 0.0
        grouped.setdefault(key, []).append(
            (start, coverage, values["requests"], values["prefill_tokens"], values["decode_tokens"], line_no))
    if window_s is None:
        raise InputError("no data rows", file=path, fix="pass a demand CSV with at least one window")
    series = {key: _to_grid(key, items, window_s, path) for key, items in grouped.items()}
    return Demand(window_s=window_s, series=dict(sorted(series.items())))


def _to_grid(key: str, items: list, window_s: int, path: str) -> DemandSeries:
    """Place rows on a regular grid; windows absent from the file become missing."""
    items.sort(key=lambda item: item[0])
    first = items[0][0]
    last = items[-1][0]
    step = np.timedelta64(window_s, "s")
    n = int((last - first) // step) + 1
    starts = first + np.arange(n) * step
    coverage = np.zeros(n)
    arrays = {name: np.full(n, np.nan) for name in METRICS}
    seen = np.zeros(n, dtype=bool)
    for start, cov, req, pre, dec, line_no in items:
        offset = (start - first) / step
        if offset != int(offset):
            raise InputError(f"window_start {to_iso(start)} is not on the {window_s}s grid of series {key!r}",
                             file=path, line=line_no, field="window_start",
                             fix="align every window_start to the window size")
        i = int(offset)
        if seen[i]:
            raise InputError(f"duplicate window {to_iso(start)} for series {key!r}", file=path, line=line_no,
                             field="window_start", fix="keep one row per series and window")
        seen[i] = True
        coverage[i] = cov
        if not math.isnan(pre):
            arrays["prefill_tokens"][i] = pre
            arrays["decode_tokens"][i] = dec
            # A demand file from a warehouse may omit request counts: presence is
            # decided by the token columns, requests may stay NaN (unknown).
            arrays["requests"][i] = req
    return DemandSeries(key=key, window_s=window_s, starts=starts, coverage=coverage, **arrays)
