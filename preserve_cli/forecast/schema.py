"""The forecast artifact: quantiles of demand per series, metric and future window.

File format (`forecast.csv`, documented in docs/formats.md), long format:

    series,metric,window_start,window_s,model,p50,p90
    all,prefill_tokens,2024-05-24T00:00:00Z,3600,prophet,1.2e+08,1.5e+08

* `metric` is one of requests, prefill_tokens, decode_tokens (tokens per window).
* Quantile columns are named `p<percent>` (p50, p90, p95, p99, p99.5 ...); at least
  p50 is present; every row has the same quantile columns.
* `model` says which forecaster produced the row (e.g. `prophet`,
  `seasonal-naive-day`, `flat`); a fallback is visible here and in the summary.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from preserve_cli.errors import InputError
from preserve_cli.fileio import read_input_text, write_text_atomic
from preserve_cli.timeutil import parse_iso, to_iso

FORECAST_METRICS = ("requests", "prefill_tokens", "decode_tokens")
_QUANTILE_COLUMN = re.compile(r"^p(\d+(?:\.\d+)?)$")


def quantile_column(q: float) -> str:
    """0.5 -> p50, 0.9 -> p90, 0.995 -> p99.5"""
    return "p" + f"{q * 100:.4f}".rstrip("0").rstrip(".")


def column_quantile(name: str) -> float | None:
    match = _QUANTILE_COLUMN.match(name)
    # Rounded: 0.7 / 100 is 0.006999... in binary, and the level must read back exactly.
    return round(float(match.group(1)) / 100, 10) if match else None


@dataclass(frozen=True)
class SeriesForecast:
    key: str
    metric: str
    model: str
    window_s: int
    starts: np.ndarray                 # datetime64[s] UTC, regular grid
    quantiles: dict[float, np.ndarray]  # q -> values (tokens or requests per window), q ascending
    note: str = ""                     # e.g. why a fallback model was used
    backtest_wape: float | None = None  # the model's WAPE in the rolling-origin backtest before the forecast

    def at(self, q: float) -> np.ndarray:
        if q in self.quantiles:
            return self.quantiles[q]
        raise KeyError(q)


@dataclass
class Forecast:
    window_s: int
    series: list[SeriesForecast]
    notes: list[str] = field(default_factory=list)

    def get(self, key: str, metric: str) -> SeriesForecast:
        for s in self.series:
            if s.key == key and s.metric == metric:
                return s
        raise KeyError((key, metric))

    def keys(self) -> list[str]:
        return sorted({s.key for s in self.series})

    def quantile_levels(self) -> list[float]:
        levels: set[float] = set()
        for s in self.series:
            levels.update(s.quantiles)
        return sorted(levels)


def forecast_to_csv(forecast: Forecast) -> str:
    levels = forecast.quantile_levels()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["series", "metric", "window_start", "window_s", "model", *map(quantile_column, levels)])
    ordered = sorted(forecast.series, key=lambda s: (s.key, FORECAST_METRICS.index(s.metric)))
    for s in ordered:
        for i in range(len(s.starts)):
            cells = []
            for q in levels:
                value = float(s.quantiles[q][i])
                cells.append(f"{value:.6g}" if not math.isnan(value) else "")
            writer.writerow([s.key, s.metric, to_iso(s.starts[i]), s.window_s, s.model, *cells])
    return buffer.getvalue()


def write_forecast(forecast: Forecast, path: str | Path) -> None:
    write_text_atomic(path, forecast_to_csv(forecast))


def read_forecast(path: str | Path) -> Forecast:
    path = str(path)
    text = read_input_text(path, expected="a forecast CSV written by `preserve forecast`")
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise InputError("file is empty", file=path, fix="pass a forecast CSV written by `preserve forecast`")
    header = [h.strip() for h in rows[0]]
    for name in ("series", "metric", "window_start", "window_s", "model"):
        if name not in header:
            raise InputError(f"missing column {name!r}; header is {','.join(header)}", file=path, line=1,
                             fix="the header must be series,metric,window_start,window_s,model,p50[,p90...]")
    levels = {name: column_quantile(name) for name in header if column_quantile(name) is not None}
    if 0.5 not in levels.values():
        raise InputError("no p50 column", file=path, line=1, fix="add a p50 column (the median forecast)")
    col = {name: i for i, name in enumerate(header)}
    grouped: dict[tuple[str, str], dict] = {}
    window_s = None
    for line_no, row in enumerate(rows[1:], start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise InputError(f"expected {len(header)} cells, found {len(row)}", file=path, line=line_no,
                             fix="check for a truncated line or stray commas")
        metric = row[col["metric"]].strip()
        if metric not in FORECAST_METRICS:
            raise InputError(f"unknown metric {metric!r}", file=path, line=line_no, field="metric",
                             fix=f"use one of {', '.join(FORECAST_METRICS)}")
        try:
            w = int(row[col["window_s"]])
        except ValueError:
            raise InputError("window_s is not a whole number", file=path, line=line_no, field="window_s",
                             fix="write e.g. 3600") from None
        if window_s is None:
            window_s = w
        elif w != window_s:
            raise InputError(f"window_s {w} differs from {window_s}", file=path, line=line_no, field="window_s",
                             fix="use one window size per forecast file")
        entry = grouped.setdefault((row[col["series"]].strip(), metric),
                                   {"model": row[col["model"]].strip(), "starts": [], "values": {q: [] for q in levels.values()}})
        entry["starts"].append(parse_iso(row[col["window_start"]], file=path, line=line_no))
        for name, q in levels.items():
            cell = row[col[name]].strip()
            try:
                value = float(cell) if cell else math.nan
            except ValueError:
                raise InputError(f"{cell!r} is not a number", file=path, line=line_no, field=name,
                                 fix="write a number of tokens per window") from None
            if value < 0:
                raise InputError(f"negative forecast {cell}", file=path, line=line_no, field=name,
                                 fix="forecasts of demand cannot be negative")
            entry["values"][q].append(value)
    if window_s is None:
        raise InputError("no data rows", file=path, fix="pass a forecast with at least one window")
    series = []
    for (key, metric), entry in sorted(grouped.items()):
        order = np.argsort(np.array(entry["starts"]), kind="stable")
        series.append(SeriesForecast(
            key=key, metric=metric, model=entry["model"], window_s=window_s,
            starts=np.array(entry["starts"], dtype="datetime64[s]")[order],
            quantiles={q: np.array(v, dtype=float)[order] for q, v in sorted(entry["values"].items())},
        ))
    return Forecast(window_s=window_s, series=series)
