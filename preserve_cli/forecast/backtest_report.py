"""What a backtest found: the document behind `preserve forecast --backtest --json` and its tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from preserve_cli.forecast.backtest import Backtest, scores
from preserve_cli.forecast.plan_check import PlanCheck
from preserve_cli.forecast.schema import quantile_column
from preserve_cli.timeutil import to_iso


def backtest_summary(backtest: Backtest, plans: PlanCheck | None, *, planner: str | None,
                     source: str | Path | None = None, output: str | Path | None = None) -> dict[str, Any]:
    """One JSON-able document: the setup, scores per model and metric, plans per model, notes."""
    rows = []
    for s in scores(backtest):
        rows.append({
            "model": s.model,
            "metric": s.metric,
            "windows": s.windows,
            "wape": s.wape,
            "mape": s.mape,
            "coverage": {quantile_column(q): share for q, share in s.coverage.items()},
            "p90_over_p50": s.width,
            "models_used": s.picked,
        })
    document: dict[str, Any] = {
        "input": str(source) if source is not None else None,
        "output": str(output) if output is not None else None,
        "window_s": backtest.window_s,
        "horizon_s": backtest.horizon_s,
        "every_s": backtest.every_s,
        "origins": [to_iso(o) for o in backtest.origins],
        "models": list(backtest.models),
        "quantiles": [quantile_column(q) for q in backtest.levels],
        "scores": rows,
        "plan": None,
        "notes": list(backtest.notes),
    }
    if plans is not None:
        document["plan"] = {
            "fleet": plans.fleet,
            "planner": planner or "the fleet's",
            "quantile": plans.quantile,
            "skipped": plans.skipped or None,
            "models": [{
                "model": p.model,
                "origins": p.origins,
                "infeasible_origins": p.infeasible_origins,
                "gpu_hours": p.gpu_hours,
                "windows": p.windows,
                "missed_windows": p.missed,
                "miss_share": p.miss_share,
                "infeasible_examples": p.examples,
            } for p in plans.scores],
        }
    return document
