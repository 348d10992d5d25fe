"""Forecast benchmark: the issue's protocol on ServeGen (real production traffic), as ratios.

The issue (4) measures on ServeGen m-large: requests per window (`preserve demand` of
../shared/data/traces/servegen/language/m-large: the sum over its 162 clients; a window
where every client reports 0 would be a gap, m-large has none), origins at the start of
days 8-14 (1-based; t=0 is the first window), each forecasting what follows from
everything before it; WAPE = sum |actual - p50| / sum actual over all scored windows,
MAPE = mean |actual - p50| / actual. Its targets are ratios: day-ahead WAPE <= 0.8x plain
Prophet's, 10-minute one-hour-ahead WAPE <= 0.8x persistence's (origin every 10 minutes).

  (r) the issue's reference models, re-run here: seasonal-naive (same hour yesterday),
      plain Prophet (defaults, daily + weekly seasonality), Prophet on log(y), and
      persistence on 10-minute windows (expect 45.4/48.8, 35.1/40.4, 35.8/36.7, 19.8%);
  (a) hourly, day-ahead, 7 origins: every registered model and auto through
      `backtest_demand` (what `preserve forecast --backtest` runs), with WAPE / plain
      Prophet, p90/p99 coverage and the plans each leads to; timed (best of --repeat);
  (b) 10-minute windows, one hour ahead, an origin every 10 minutes (1008): auto and
      the recent-window models, WAPE / persistence, coverage per lead;
  (v) --validate: (r), (a) for auto and (b) for auto and smoothing (hourly origins) on
      other real series, the clients of m-large split by id mod 3 and mod 4 (7 series):
      ratios per series.

    python benchmarks/forecast_backtest.py                  # (r), (a), (b)
    python benchmarks/forecast_backtest.py --only hourly    # (r) and (a): about 20 s
    python benchmarks/forecast_backtest.py --validate       # and (v): several minutes
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import platform
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from preserve_cli.demand.schema import Demand
from preserve_cli.demand.sources import load_demand
from preserve_cli.forecast.backtest import Backtest, backtest_demand, scores
from preserve_cli.forecast.plan_check import check_plans

REPO = Path(__file__).resolve().parents[1]
SERVEGEN = REPO / ".." / "shared" / "data" / "traces" / "servegen" / "language" / "m-large"
HOUR, DAY, TEN_MINUTES = 3600, 86_400, 600
FIRST_ORIGIN_DAY = 7          # 0-based: origins at the start of days 7..13 = "days 8-14"
ORIGIN_DAYS = 7
STAN_SEED = 20240510          # the seed preserve's own Prophet model uses: reruns give the same numbers
METRICS = ("requests", "prefill_tokens", "decode_tokens")
SHORT_MODELS = ["auto", "smoothing", "autoregression", "persistence", "recent-level", "gbm", "flat"]


@dataclass(frozen=True)
class Reference:
    name: str
    wape: float
    mape: float


def _percent(value: float) -> str:
    return "-" if math.isnan(value) else f"{100 * value:.1f}%"


def requests_of(demand: Demand) -> tuple[np.ndarray, np.ndarray]:
    series = next(iter(demand.series.values()))
    return series.starts, series.full_window_estimate("requests")


def wape_mape(actual: np.ndarray, predicted: np.ndarray) -> tuple[float, float]:
    known = ~np.isnan(actual)
    a, p = actual[known], predicted[known]
    positive = a > 0
    return float(np.abs(a - p).sum() / a.sum()), float(np.mean(np.abs(a - p)[positive] / a[positive]))


def _plain_prophet(starts: np.ndarray, values: np.ndarray, future: np.ndarray, log: bool) -> np.ndarray:
    """Prophet as the issue ran it: defaults, daily + weekly seasonality, additive, fit on y or log(y)."""
    import pandas as pd

    for name in ("prophet", "cmdstanpy"):
        logging.getLogger(name).setLevel(logging.ERROR)
    from prophet import Prophet

    known = ~np.isnan(values) & (values > 0 if log else True)
    frame = pd.DataFrame({"ds": pd.to_datetime(starts[known].astype("datetime64[ns]")),
                          "y": np.log(values[known]) if log else values[known]})
    model = Prophet(daily_seasonality=True, weekly_seasonality=True, yearly_seasonality=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(frame, seed=STAN_SEED)
        yhat = model.predict(pd.DataFrame({"ds": pd.to_datetime(future.astype("datetime64[ns]"))}))["yhat"]
    yhat = yhat.to_numpy(dtype=float)
    return np.exp(yhat) if log else yhat


def day_ahead_references(hourly: Demand) -> list[Reference]:
    """(r) the issue's day-ahead references on the hourly requests of `hourly`."""
    starts, values = requests_of(hourly)
    per_day = DAY // HOUR
    origins = [d * per_day for d in range(FIRST_ORIGIN_DAY, FIRST_ORIGIN_DAY + ORIGIN_DAYS)]
    actual = np.concatenate([values[o:o + per_day] for o in origins])
    forecasts = {
        "seasonal-naive (same hour yesterday)": [values[o - per_day:o] for o in origins],
        "plain Prophet, daily + weekly": [_plain_prophet(starts[:o], values[:o], starts[o:o + per_day], False)
                                          for o in origins],
        "Prophet on log(y)": [_plain_prophet(starts[:o], values[:o], starts[o:o + per_day], True)
                              for o in origins],
    }
    return [Reference(name, *wape_mape(actual, np.concatenate(f))) for name, f in forecasts.items()]


def persistence_reference(ten_minutes: Demand) -> Reference:
    """(r) persistence one hour ahead, an origin every 10 minutes over days 8-14."""
    _, values = requests_of(ten_minutes)
    per_day, ahead = DAY // TEN_MINUTES, HOUR // TEN_MINUTES
    actual, predicted = [], []
    for o in range(FIRST_ORIGIN_DAY * per_day, min(len(values), (FIRST_ORIGIN_DAY + ORIGIN_DAYS) * per_day)):
        last = values[:o][~np.isnan(values[:o])][-1]
        actual.append(values[o:o + ahead])
        predicted.append(np.full(len(actual[-1]), last))
    return Reference("persistence, 10-minute windows, 1 h ahead", *wape_mape(np.concatenate(actual),
                                                                               np.concatenate(predicted)))


def day_ahead(hourly: Demand, models: list[str] | None = None, metrics: tuple[str, ...] = METRICS) -> Backtest:
    return backtest_demand(hourly, DAY, origins=ORIGIN_DAYS, models=models, metrics=metrics)


def hour_ahead(ten_minutes: Demand, models: list[str], every_s: int = TEN_MINUTES,
               metrics: tuple[str, ...] = METRICS) -> Backtest:
    windows = len(next(iter(ten_minutes.series.values())))
    # The last origin whose hour ends at the data's end, and one every `every_s` back to day 8.
    step = every_s // TEN_MINUTES
    origins = (windows - HOUR // TEN_MINUTES - FIRST_ORIGIN_DAY * DAY // TEN_MINUTES) // step + 1
    return backtest_demand(ten_minutes, HOUR, origins=origins, every_s=every_s, models=models, metrics=metrics)


def score_table(result: Backtest, yardstick: float, yardstick_name: str) -> str:
    header = f"| model | metric | WAPE | WAPE / {yardstick_name} | MAPE | p90 coverage | p99 coverage | p90/p50 "
    lines = [header + "| models used |", "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for s in scores(result):
        used = ", ".join(f"{name} {count}" for name, count in s.picked.items()) if s.model == "auto" else ""
        ratio = f"{s.wape / yardstick:.2f}" if s.metric == "requests" else ""
        lines.append(f"| {s.model} | {s.metric} | {_percent(s.wape)} | {ratio} | {_percent(s.mape)} | "
                     f"{_percent(s.coverage.get(0.9, math.nan))} | {_percent(s.coverage.get(0.99, math.nan))} "
                     f"| {s.width:.2f} | {used} |")
    return "\n".join(lines)


def coverage_by_lead(result: Backtest, model: str) -> str:
    items = result.of(model, "requests")
    actual = np.array([r.actual for r in items if len(r.actual) == len(items[0].actual)])
    p90 = np.array([r.forecast.at(0.9) for r in items if len(r.actual) == len(items[0].actual)])
    with np.errstate(invalid="ignore"):
        covered = np.where(np.isnan(actual), np.nan, actual <= p90)
    return " / ".join(f"{100 * v:.0f}" for v in np.nanmean(covered, axis=0))


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


def references(hourly: Demand, ten_minutes: Demand) -> dict[str, Reference]:
    found = {r.name: r for r in day_ahead_references(hourly)}
    persistence = persistence_reference(ten_minutes)
    found[persistence.name] = persistence
    return found


def print_references(found: dict[str, Reference]) -> None:
    print("### (r) the issue's references, its protocol (requests, origins days 8-14)\n")
    print("| model | WAPE | MAPE |\n|---|---:|---:|")
    for r in found.values():
        print(f"| {r.name} | {_percent(r.wape)} | {_percent(r.mape)} |")
    print()


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (Prophet's Stan optimizer runs as one)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def timed(repeat: int, run):
    """(result, best wall seconds, CPU seconds of that run): on a shared machine the CPU
    time is what an idle one would take, about."""
    best, cpu, result = float("inf"), float("inf"), None
    for _ in range(repeat):
        began, began_cpu = time.perf_counter(), cpu_seconds()
        result = run()
        wall = time.perf_counter() - began
        if wall < best:
            best, cpu = wall, cpu_seconds() - began_cpu
    return result, best, cpu


def main_series(repeat: int, only: str | None) -> None:
    hourly, _ = load_demand(SERVEGEN, HOUR)
    ten_minutes, _ = load_demand(SERVEGEN, TEN_MINUTES)
    found = references(hourly, ten_minutes)
    print_references(found)
    prophet = found["plain Prophet, daily + weekly"].wape
    persistence = found["persistence, 10-minute windows, 1 h ahead"].wape
    if only in (None, "hourly"):
        result, seconds, cpu = timed(repeat, lambda: day_ahead(hourly))
        print(f"### (a) hourly, day-ahead, 7 origins, all models: backtest {seconds:.1f} s wall (best of {repeat}), "
              f"{cpu:.1f} s CPU\n")
        print(score_table(result, prophet, "plain Prophet"), "\n")
        print(f"auto p90 coverage per origin day: {per_origin_coverage(result)}\n")
        began = time.perf_counter()
        print(plan_table(result))
        print(f"\n(plans: {time.perf_counter() - began:.1f} s)\n")
    if only in (None, "10m"):
        began = time.perf_counter()
        result = hour_ahead(ten_minutes, SHORT_MODELS)
        print(f"### (b) 10-minute windows, 1 hour ahead, origin every 10 minutes: "
              f"{time.perf_counter() - began:.0f} s\n")
        print(score_table(result, persistence, "persistence"), "\n")
        for model in SHORT_MODELS:
            print(f"- {model}: p90 coverage by lead 1-6 (%): {coverage_by_lead(result, model)}")
        print()


def per_origin_coverage(result: Backtest) -> str:
    items = sorted(result.of("auto", "requests"), key=lambda r: r.origin)
    return ", ".join(f"{100 * float(np.mean(r.actual <= r.forecast.at(0.9))):.0f}%" for r in items)


def client_groups(tmp: Path) -> list[Path]:
    """The clients of m-large split by id mod 3 and mod 4: seven real series."""
    traces = sorted(SERVEGEN.glob("chunk-*-trace.csv"))
    folders = []
    for modulus in (3, 4):
        for group in range(modulus):
            folder = tmp / f"m-large-mod{modulus}-{group}"
            folder.mkdir()
            for trace in traces:
                number = int(trace.name.split("-")[1])
                if number % modulus == group:
                    for part in (trace, trace.with_name(f"chunk-{number}-dataset.json.gz")):
                        if part.exists():
                            (folder / part.name).symlink_to(part.resolve())
            folders.append(folder)
    return folders


def validate() -> None:
    print("### (v) other real series: clients of m-large by id mod 3 and mod 4, requests\n")
    print("| series | plain Prophet day-ahead | auto | auto / plain Prophet | auto p90 coverage "
          "| persistence 1 h, every 10 min | persistence 1 h, hourly origins | auto 1 h | auto / persistence "
          "| smoothing / persistence | auto 1 h p90 coverage |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="preserve-groups-") as tmp:
        for folder in client_groups(Path(tmp)):
            hourly, _ = load_demand(folder, HOUR)
            ten_minutes, _ = load_demand(folder, TEN_MINUTES)
            found = references(hourly, ten_minutes)
            prophet = found["plain Prophet, daily + weekly"].wape
            persistence = found["persistence, 10-minute windows, 1 h ahead"].wape
            day = _requests_score(day_ahead(hourly, ["auto"], ("requests",)), "auto")
            # Hourly origins here (168, not 1008): auto backtests every model at each origin.
            hourly_origins = hour_ahead(ten_minutes, ["auto", "smoothing", "persistence"], HOUR, ("requests",))
            hour = _requests_score(hourly_origins, "auto")
            smooth = _requests_score(hourly_origins, "smoothing")
            same = _requests_score(hourly_origins, "persistence").wape
            print(f"| {folder.name} | {_percent(prophet)} | {_percent(day.wape)} | {day.wape / prophet:.2f} | "
                  f"{_percent(day.coverage[0.9])} | {_percent(persistence)} | {_percent(same)} | "
                  f"{_percent(hour.wape)} | {hour.wape / same:.2f} | {smooth.wape / same:.2f} | "
                  f"{_percent(hour.coverage[0.9])} |", flush=True)


def _requests_score(result: Backtest, model: str):
    return next(s for s in scores(result, metrics=("requests",)) if s.model == model)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of (a)")
    parser.add_argument("--validate", action="store_true", help="also (v), seven other real series")
    parser.add_argument("--only", choices=("hourly", "10m", "validate"), help="run one part (with (r))")
    args = parser.parse_args()
    if not SERVEGEN.is_dir():
        raise SystemExit(f"{SERVEGEN} not found: the benchmark needs ../shared")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.1f}\n")
    if args.only != "validate":
        main_series(args.repeat, args.only)
    if args.only == "validate" or args.validate:
        validate()


if __name__ == "__main__":
    main()
