"""Forecast benchmark: rolling-origin backtests on ServeGen m-large (real production traffic).

Runs what `preserve forecast DEMAND --backtest` runs, on the demand `preserve demand`
makes from ../shared/data/traces/servegen/language/m-large, and prints Markdown tables:

  (a) hourly windows, day-ahead, 7 origins (days 8-14), every model and auto, with the
      plans each leads to (bundled example fleet, greedy planner); timed (best of
      --repeat runs of the backtest itself, interpreter start-up not included);
  (b) 10-minute windows, one hour ahead, origins every hour over days 8-14 (168);
  (c) the issue's persistence baseline on (b)'s data with an origin every window (1008);
  (d) with --groups: (a) on four series the methods were compared on instead of m-large:
      the clients of m-large split by id mod 4, each its own demand series.

    python benchmarks/forecast_backtest.py                # (a), (b), (c)
    python benchmarks/forecast_backtest.py --groups       # and (d)
    python benchmarks/forecast_backtest.py --only hourly  # (a) only
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import tempfile
import time
from pathlib import Path

from preserve_cli.demand.sources import load_demand
from preserve_cli.forecast.backtest import Backtest, backtest_demand, scores
from preserve_cli.forecast.plan_check import check_plans

REPO = Path(__file__).resolve().parents[1]
SERVEGEN = REPO / ".." / "shared" / "data" / "traces" / "servegen" / "language" / "m-large"
METRICS = ("requests", "prefill_tokens", "decode_tokens")
HOUR, DAY = 3600, 86_400
GROUPS = 4


def _percent(value: float) -> str:
    return "-" if math.isnan(value) else f"{100 * value:.1f}%"


def score_table(result: Backtest) -> str:
    lines = ["| model | metric | WAPE | MAPE | p90 coverage | p99 coverage | p90/p50 | models used |",
             "|---|---|---:|---:|---:|---:|---:|---|"]
    for s in scores(result):
        used = ", ".join(f"{name} {count}" for name, count in s.picked.items()) if s.model == "auto" else ""
        lines.append(f"| {s.model} | {s.metric} | {_percent(s.wape)} | {_percent(s.mape)} | "
                     f"{_percent(s.coverage.get(0.9, float('nan')))} | {_percent(s.coverage.get(0.99, float('nan')))} "
                     f"| {s.width:.2f} | {used} |")
    return "\n".join(lines)


def plan_table(result: Backtest) -> str:
    check = check_plans(result)
    if check.skipped:
        return f"plans not judged: {check.skipped}"
    lines = [f"Plans ({check.fleet}, greedy planner, p{check.quantile * 100:g}):", "",
             "| model | GPU-hours | windows short of capacity | infeasible origins |", "|---|---:|---:|---:|"]
    for p in check.scores:
        lines.append(f"| {p.model} | {p.gpu_hours:,.0f} | {p.missed} / {p.windows} ({_percent(p.miss_share)}) | "
                     f"{p.infeasible_origins} / {p.origins} |")
    return "\n".join(lines)


def timed(repeat: int, run):
    best, result = float("inf"), None
    for _ in range(repeat):
        began = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - began)
    return result, best


def hourly(repeat: int) -> None:
    demand, _ = load_demand(SERVEGEN, HOUR)
    result, seconds = timed(repeat, lambda: backtest_demand(demand, DAY, origins=7))
    print(f"### (a) hourly, day-ahead, 7 origins, all models: backtest {seconds:.1f} s (best of {repeat})\n")
    print(score_table(result), "\n")
    began = time.perf_counter()
    print(plan_table(result))
    print(f"\n(plans: {time.perf_counter() - began:.1f} s)\n")


def ten_minutes() -> None:
    demand, _ = load_demand(SERVEGEN, 600)
    began = time.perf_counter()
    result = backtest_demand(demand, HOUR, origins=7 * 24, every_s=HOUR)
    print(f"### (b) 10-minute windows, 1 hour ahead, 168 hourly origins: {time.perf_counter() - began:.0f} s\n")
    print(score_table(result), "\n")
    print(plan_table(result), "\n")
    began = time.perf_counter()
    every = backtest_demand(demand, HOUR, origins=7 * 144, every_s=600, models=["persistence"])
    print(f"### (c) persistence, origin every 10 minutes (1008 origins): {time.perf_counter() - began:.0f} s\n")
    print(score_table(every), "\n")


def groups() -> None:
    clients = sorted(SERVEGEN.glob("chunk-*-trace.csv"))
    with tempfile.TemporaryDirectory(prefix="preserve-groups-") as tmp:
        for group in range(GROUPS):
            folder = Path(tmp) / f"m-large-g{group}"
            folder.mkdir()
            for trace in clients:
                number = int(trace.name.split("-")[1])
                if number % GROUPS == group:
                    for part in (trace, trace.with_name(f"chunk-{number}-dataset.json.gz")):
                        if part.exists():
                            (folder / part.name).symlink_to(part.resolve())
            demand, _ = load_demand(folder, HOUR)
            result = backtest_demand(demand, DAY, origins=7,
                                     models=["auto", "ensemble", "prophet", "seasonal-naive-day", "flat"])
            print(f"### (d) clients id mod {GROUPS} = {group}, hourly, day-ahead, 7 origins\n")
            print(score_table(result), "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of (a)")
    parser.add_argument("--groups", action="store_true", help="also (d), the four client groups")
    parser.add_argument("--only", choices=("hourly", "10m", "groups"), help="run one part")
    args = parser.parse_args()
    if not SERVEGEN.is_dir():
        raise SystemExit(f"{SERVEGEN} not found: the benchmark needs ../shared")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}\n")
    if args.only in (None, "hourly"):
        hourly(args.repeat)
    if args.only in (None, "10m"):
        ten_minutes()
    if args.only == "groups" or (args.only is None and args.groups):
        groups()


if __name__ == "__main__":
    main()
