"""`preserve simulate` (one scaler x router run) and `preserve simulate compare` (several, same trace and seed)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
)
from rich.table import Table
from typer.core import TyperGroup

from preserve_cli.cli.common import (
    JSON_OPTION,
    handles_input_errors,
    key_value_table,
    note,
    print_json,
    stderr,
    stdout,
)
from preserve_cli.durations import parse_duration
from preserve_cli.errors import InputError


class _RunByDefault(TyperGroup):
    """`preserve simulate TRACE ...` runs `simulate run`; `preserve simulate compare ...` compares."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


TRACE = typer.Argument(..., show_default=False,
                       help="Request log(s) or requests.parquet (as `preserve ingest` reads), or a ServeGen folder.")
FLEET = typer.Option(None, "--fleet", help="fleet.yaml: SLO, model, pools, prices [default: the bundled example].")
MODEL = typer.Option(None, "--model", help="Fleet model to simulate [default: the fleet's first].")
POOL = typer.Option(None, "--pool", help="Pool the single-pool scalers manage [default: the first serving the model].")
INSTANCES = typer.Option(8, "--instances", help="static: fleet size; reactive: starting size.")
LENGTHS = typer.Option("true", "--lengths", help="Output lengths the router believes: true, or noisy (PreServe's "
                       "MAE of 78 tokens, seeded).")
PREDICTOR = typer.Option(None, "--length-predictor", help="A loadpred model file: its predictions replace --lengths.")
SEED = typer.Option(0, "--seed", help="Seed of every random draw (length noise, ServeGen generation, thinning).")
PLAN = typer.Option(None, "--plan", help="schedule.yaml from `preserve plan`, for the plan scaler.")
ALIGN = typer.Option("absolute", "--align", help="plan scaler: absolute (plan times as they are) or start (the plan's "
                     "first window at the first request).")
WINDOW = typer.Option("10m", "--window", help="Tier-1 window of the preserve and lt-u scalers (PreServe: 10m).")
FORECAST = typer.Option("oracle", "--forecast", help="Tier-1 forecast of the preserve and lt-u scalers: oracle (the "
                        "true tokens) or last (the last complete window).")
CAPACITY = typer.Option("measured", "--capacity", help="Per-instance capacity of the preserve and lt-u scalers: "
                        "measured (PreServe Alg. 1: replay on 1, 2, 3, 4, 6, ... instances, best rate of the windows "
                        "meeting the SLO) or profile (the predictors at the fleet SLO, as `preserve plan` uses).")
START = typer.Option(None, "--start", help="Skip this much of the trace (its own clock) [default: nothing].")
DURATION = typer.Option(None, "--duration", help="Replay this much of the trace [default: all; ServeGen: 1d].")
COMPRESSION = typer.Option(1.0, "--time-compression", help="Replay this many times faster (24: a day in an hour).")
RATE_SCALE = typer.Option(1.0, "--rate-scale", help="Keep this share of the requests (seeded), in (0, 1].")
LOG_FORMAT = typer.Option(None, "--format", help="Force a log format (as `preserve ingest --format`).")
LOG_MAP = typer.Option(None, "--map", help="ts=COL,input=COL,output=COL for any CSV/JSONL "
                       "(as `preserve ingest --map`).")
NORMALIZED_SLO = typer.Option(None, "--normalized-slo", help="Normalized-latency SLO, seconds per output token "
                              "[default: 3x the median request's, served alone].")
TIMELINE_WINDOW = typer.Option("5m", "--timeline-window", help="Window of the timeline CSV.")


def _options(**kw):
    from preserve_cli.simulate.api import SimulationOptions

    lengths = kw.pop("lengths")
    predictor_path = kw.pop("length_predictor")
    if predictor_path is not None:
        try:
            from preserve_cli.loadpred import load_predictor
        except ImportError:
            raise InputError("this build has no output-length predictors (preserve_cli.loadpred.load_predictor)",
                             field="--length-predictor", fix="use --lengths true or --lengths noisy") from None
        lengths = load_predictor(str(predictor_path))
    normalized = kw.pop("normalized_slo")
    if normalized is not None and not normalized > 0:
        raise InputError(f"{normalized!r} s is not > 0", field="--normalized-slo", fix="write seconds per output "
                         "token, e.g. 0.2 (PreServe's SLO)")
    return SimulationOptions(
        lengths=lengths, normalized_slo_s=normalized,
        window_s=float(parse_duration(kw.pop("window"), field="--window")),
        timeline_window_s=float(parse_duration(kw.pop("timeline_window"), field="--timeline-window")), **kw)


def _load(trace, fleet_path, start, duration, time_compression, rate_scale, log_format, log_map, seed):
    from preserve_cli.plan.fleet import read_fleet
    from preserve_cli.plan.pipeline import default_fleet_path
    from preserve_cli.simulate.workloads import load_workload

    fleet = read_fleet(fleet_path or default_fleet_path())
    workload = load_workload([str(p) for p in trace], format=log_format, mapping=log_map,
                             start_s=0.0 if start is None else float(parse_duration(start, field="--start")),
                             duration_s=None if duration is None
                             else float(parse_duration(duration, field="--duration")),
                             time_compression=time_compression, rate_scale=rate_scale, seed=seed)
    return fleet, workload


def _workload_summary(workload) -> dict:
    return {"source": workload.source, "requests": len(workload), "span_s": workload.span_s,
            "time_compression": workload.time_compression, "start_epoch_s": workload.start_epoch_s,
            "notes": list(workload.notes)}


def _progress(total: int | None) -> Progress:
    columns = [SpinnerColumn(), TextColumn("{task.description}")]
    if total is not None:
        columns += [BarColumn(), MofNCompleteColumn()]
    return Progress(*columns, console=stderr, transient=True)


def register(app: typer.Typer) -> None:
    group = typer.Typer(cls=_RunByDefault, no_args_is_help=True, rich_markup_mode=None,
                        help="Replay request traces on a simulated fleet (continuous batching, predictors' "
                             "iteration times) under scalers and routers; latency, SLO attainment, GPU-hours, $.")
    app.add_typer(group, name="simulate")

    @group.command("run")
    @handles_input_errors
    def run(trace: list[Path] = TRACE, fleet: Path | None = FLEET, model: str | None = MODEL, pool: str | None = POOL,
            scaler: str = typer.Option("static", "--scaler", help="static, reactive, preserve, lt-u or plan."),
            router: str = typer.Option("least-requests", "--router", help="round-robin, least-requests or preserve."),
            instances: int = INSTANCES, lengths: str = LENGTHS, length_predictor: Path | None = PREDICTOR,
            seed: int = SEED, plan: Path | None = PLAN, align: str = ALIGN, window: str = WINDOW,
            forecast: str = FORECAST, capacity: str = CAPACITY, start: str | None = START,
            duration: str | None = DURATION,
            time_compression: float = COMPRESSION, rate_scale: float = RATE_SCALE,
            log_format: str | None = LOG_FORMAT, log_map: str | None = LOG_MAP,
            normalized_slo: float | None = NORMALIZED_SLO, timeline_window: str = TIMELINE_WINDOW,
            timeline_out: Path | None = typer.Option(None, "--timeline",
                                                     help="Write the per-window timeline CSV here."),
            json_output: bool = JSON_OPTION) -> None:
        """Replay a trace with one scaler and one router (the default subcommand)."""
        from preserve_cli.simulate.api import simulate_fleet
        from preserve_cli.simulate.report import write_timeline

        options = _options(scaler=scaler, router=router, instances=instances, lengths=lengths,
                           length_predictor=length_predictor, seed=seed, model=model, pool=pool,
                           plan=None if plan is None else str(plan), align=align, window=window, forecast=forecast,
                           capacity=capacity, normalized_slo=normalized_slo, timeline_window=timeline_window)
        with _progress(None) as bar:
            bar.add_task("reading the trace")
            fleet_doc, workload = _load(trace, fleet, start, duration, time_compression, rate_scale, log_format,
                                        log_map, seed)
        with _progress(None) as bar:
            bar.add_task(f"simulating {len(workload):,} requests")
            result = simulate_fleet(workload, fleet_doc, options)
        if timeline_out is not None:
            write_timeline(timeline_out, result.timeline, workload.start_epoch_s, workload.time_compression)
        if json_output:
            print_json({"run": result.metrics, "workload": _workload_summary(workload),
                        "timeline": None if timeline_out is None else str(timeline_out)})
            return
        for line in workload.notes:
            note(line)
        stdout.print(key_value_table(f"simulate: {scaler} scaler, {router} router", list(result.metrics.items())))

    @group.command("compare")
    @handles_input_errors
    def compare_cmd(trace: list[Path] = TRACE, fleet: Path | None = FLEET, model: str | None = MODEL,
                    pool: str | None = POOL,
                    scalers: str = typer.Option("static,reactive,preserve", "--scalers", help="Comma-separated."),
                    routers: str = typer.Option("least-requests", "--routers", help="Comma-separated."),
                    instances: int = INSTANCES, lengths: str = LENGTHS, length_predictor: Path | None = PREDICTOR,
                    seed: int = SEED, plan: Path | None = PLAN, align: str = ALIGN, window: str = WINDOW,
                    forecast: str = FORECAST, capacity: str = CAPACITY, start: str | None = START,
                    duration: str | None = DURATION,
                    time_compression: float = COMPRESSION, rate_scale: float = RATE_SCALE,
                    log_format: str | None = LOG_FORMAT, log_map: str | None = LOG_MAP,
                    normalized_slo: float | None = NORMALIZED_SLO,
                    timeline_window: str = TIMELINE_WINDOW,
                    timeline_dir: Path | None = typer.Option(None, "--timeline-dir", help="Write one timeline CSV per "
                                                             "run here (<scaler>_<router>.csv)."),
                    json_output: bool = JSON_OPTION) -> None:
        """Run every scaler x router on the same trace and seed; one row per run."""
        from preserve_cli.simulate.api import compare
        from preserve_cli.simulate.report import write_timeline

        combos = [(s.strip(), r.strip()) for s in scalers.split(",") if s.strip() for r in routers.split(",")
                  if r.strip()]
        options = _options(instances=instances, lengths=lengths, length_predictor=length_predictor, seed=seed,
                           model=model, pool=pool, plan=None if plan is None else str(plan), align=align,
                           window=window, forecast=forecast, capacity=capacity, normalized_slo=normalized_slo,
                           timeline_window=timeline_window)
        with _progress(None) as bar:
            bar.add_task("reading the trace")
            fleet_doc, workload = _load(trace, fleet, start, duration, time_compression, rate_scale, log_format,
                                        log_map, seed)
        with _progress(len(combos)) as bar:
            task = bar.add_task(f"simulating {len(workload):,} requests", total=len(combos))
            runs = compare(workload, fleet_doc, combos, options, progress=lambda: bar.advance(task))
        if timeline_dir is not None:
            timeline_dir.mkdir(parents=True, exist_ok=True)
            for one in runs:
                write_timeline(timeline_dir / f"{one.options.scaler}_{one.options.router}.csv", one.timeline,
                               workload.start_epoch_s, workload.time_compression)
        if json_output:
            print_json({"runs": [one.metrics for one in runs], "workload": _workload_summary(workload)})
            return
        for line in workload.notes:
            note(line)
        stdout.print(_compare_table(runs))


def _compare_table(runs) -> Table:
    """The columns a reader compares; everything else is in --json."""
    requests = runs[0].metrics["requests"] if runs else 0
    table = Table(title=f"simulate compare: {requests:,} requests per run", title_justify="left")
    columns = [("scaler", "scaler"), ("router", "router"), ("p99 norm s", "p99_normalized_latency_s"),
               ("p99 TTFT s", "p99_ttft_s"), ("SLO", "slo_attainment"), ("GPU-h", "gpu_hours"),
               ("$", "cost_usd"), ("actions", "scaling_actions")]
    for title, _ in columns:
        text = title in ("scaler", "router")
        table.add_column(title, justify="left" if text else "right", no_wrap=text)
    for one in runs:
        cells = []
        for _, key in columns:
            value = one.metrics[key]
            cells.append(f"{value:.3g}" if isinstance(value, float) else ("-" if value is None else str(value)))
        table.add_row(*cells)
    return table
