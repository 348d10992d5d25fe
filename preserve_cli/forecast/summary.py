"""What a forecast run did, per series and metric: the document behind `--json` and the table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from preserve_cli.demand.schema import Demand
from preserve_cli.forecast.schema import FORECAST_METRICS, Forecast, quantile_column
from preserve_cli.timeutil import to_iso


def forecast_summary(demand: Demand, forecast: Forecast, *, horizon_s: int, model: str,
                     start: np.datetime64 | None = None, source: str | Path | None = None,
                     output: str | Path | None = None) -> dict[str, Any]:
    """One JSON-able document: inputs, per-series rows (model used, history and missing
    windows, horizon, the model's backtest WAPE, peak of the top quantile, note) and the
    run's notes."""
    levels = forecast.quantile_levels()
    top = quantile_column(levels[-1])
    rows = []
    for s in sorted(forecast.series, key=lambda s: (s.key, FORECAST_METRICS.index(s.metric))):
        series = demand.series[s.key]
        known = series.starts < start if start is not None else np.ones(len(series), dtype=bool)
        values = series.full_window_estimate(s.metric)[known]
        rows.append({
            "series": s.key,
            "metric": s.metric,
            "model": s.model,
            "history_windows": int(values.size),
            "missing_windows": int(np.isnan(values).sum()),
            "first_window": to_iso(s.starts[0]),
            "horizon_windows": len(s.starts),
            "p50_total": float(s.at(0.5).sum()),
            "backtest_wape": s.backtest_wape,
            f"peak_{top}": float(s.quantiles[levels[-1]].max()),
            "note": s.note,
        })
    return {
        "input": str(source) if source is not None else None,
        "output": str(output) if output is not None else None,
        "window_s": forecast.window_s,
        "horizon_s": horizon_s,
        "model_requested": model,
        "quantiles": [quantile_column(q) for q in levels],
        "series": rows,
        "notes": list(forecast.notes),
    }
