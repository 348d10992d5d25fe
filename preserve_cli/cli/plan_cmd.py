"""`preserve plan`: inputs -> (demand -> forecast ->) plan -> YAML files."""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.table import Table

from preserve_cli.cli.common import (
    JSON_OPTION,
    QUIET_OPTION,
    handles_input_errors,
    key_value_table,
    note,
    print_json,
    stderr,
    stdout,
)
from preserve_cli.durations import parse_duration
from preserve_cli.emit.common import iso, plan_summary
from preserve_cli.emit.registry import parse_emit_list
from preserve_cli.errors import GuardRefused, InputError
from preserve_cli.plan.guard import PlanDiff
from preserve_cli.plan.model import Plan
from preserve_cli.plan.pipeline import run_plan, stdout_document, write_outputs
from preserve_cli.plan.whatif import PlanComparison, parse_whatif

STDOUT = "-"
DEFAULT_OUTPUT = "plan"


def plan_json(plan: Plan, files: list[str], stages: list[str]) -> dict:
    """The documented --json result (docs/formats.md)."""
    windows = []
    for k, start in enumerate(plan.starts):
        pools: dict[str, int] = {}
        for d in plan.deployments:
            pools[d.pool.name] = pools.get(d.pool.name, 0) + int(plan.replicas[d.name][k])
        windows.append({
            "start": iso(start),
            "demand": {
                "prefill_tokens": sum(float(m.prefill_tokens[k]) for m in plan.demand.values()),
                "decode_tokens": sum(float(m.decode_tokens[k]) for m in plan.demand.values()),
            },
            "capacity": {
                "prefill_tokens": plan.capacity_tokens(k, "prefill_tokens"),
                "decode_tokens": plan.capacity_tokens(k, "decode_tokens"),
            },
            "pools": pools,
            "binding": {m: plan.binding[m][k] for m in plan.binding},
        })
    return {
        "window_s": plan.window_s,
        "quantile": plan.fleet.planning.quantile,
        "headroom": plan.fleet.planning.headroom,
        "windows": windows,
        "deployments": {
            d.name: {"pool": d.pool.name, "model": d.model, "gpu": d.pool.gpu, "tp": d.pool.tp,
                     "replicas_min": int(plan.replicas[d.name].min()),
                     "replicas_max": int(plan.replicas[d.name].max()),
                     "gpu_hours": round(plan.gpu_hours(d.name), 3), "cost_usd": round(plan.cost_usd(d.name), 2),
                     "capacity_source": d.capacity.source}
            for d in plan.deployments},
        "totals": plan_summary(plan),
        "solver": plan.solver,
        "files": files,
        "stages": stages,
        "notes": plan.notes,
    }


def _table(plan: Plan) -> Table:
    sources = sorted({d.capacity.source for d in plan.deployments})
    table = Table(title=f"Plan: {len(plan.starts)} windows of {plan.window_s // 60} min from {iso(plan.starts[0])} "
                        f"(capacity: {', '.join(sources)})", title_justify="left")
    for column in ("deployment", "gpu×tp", "replicas", "GPU-h", "$"):
        table.add_column(column, justify="left" if column in ("deployment", "gpu×tp") else "right", no_wrap=True)
    for d in plan.deployments:
        r = plan.replicas[d.name]
        table.add_row(d.name, f"{d.pool.gpu}×{d.pool.tp}", f"{r.min()}–{r.max()}",
                      f"{plan.gpu_hours(d.name):,.0f}", f"{plan.cost_usd(d.name):,.0f}")
    return table


def _diff_table(diff: PlanDiff) -> Table:
    table = Table(title="Change against the plan in force (--previous)", title_justify="left")
    for column in ("deployment", "windows changed", "GPU-h before", "GPU-h after", "largest drop", "at"):
        table.add_column(column, justify="left" if column in ("deployment", "at") else "right", no_wrap=True)
    for d in diff.deployments:
        table.add_row(d.name, f"{d.windows_changed}/{d.windows_compared}", f"{d.gpu_hours_before:,.0f}",
                      f"{d.gpu_hours_after:,.0f}", f"{d.largest_drop_share * 100:.0f}%", d.largest_drop_at)
    for name in diff.added:
        table.add_row(name, "new", "", "", "", "")
    for name in diff.removed:
        table.add_row(name, "removed", "", "", "", "")
    return table


def _compare_table(comparison: PlanComparison) -> Table:
    title = "What-if against the base plan: " + (", ".join(comparison.changes) or "no change")
    no_base = comparison.base_problem is not None
    if no_base:
        title += f" — the base plan is infeasible ({comparison.base_problem}); the what-if plan alone is shown"
    table = Table(title=title, title_justify="left")
    for column in ("deployment", "peak replicas", "replica-h", "GPU-h", "$"):
        table.add_column(column, justify="left" if column == "deployment" else "right", no_wrap=column == "deployment")

    def delta(before: float, after: float, digits: int = 0) -> str:
        if no_base:
            return f"{after:,.{digits}f}"
        return f"{before:,.{digits}f} → {after:,.{digits}f} ({after - before:+,.{digits}f})"

    for d in comparison.deployments:
        table.add_row(d.name, delta(d.peak_before, d.peak_after), delta(d.replica_hours_before, d.replica_hours_after),
                      delta(d.gpu_hours_before, d.gpu_hours_after), delta(d.cost_before, d.cost_after))
    table.add_row("total", "", delta(comparison.total("replica_hours_before"), comparison.total("replica_hours_after")),
                  delta(comparison.total("gpu_hours_before"), comparison.total("gpu_hours_after")),
                  delta(comparison.total("cost_before"), comparison.total("cost_after")), style="bold")
    return table


# Short names for one file of an emitter that writes several, for `-o -` in cron lines and Terraform wrappers.
_DOCUMENT_ALIASES = {"terraform-json": "terraform:preserve.auto.tfvars.json", "terraform-yaml": "terraform:terraform.yaml"}


def _stdout_emitter(emit: str | None) -> tuple[str, str | None]:
    """`-o -`: one emitter, optionally `NAME:FILE` for an emitter writing several files (default: schedule)."""
    spec = (emit or "schedule").strip()
    spec = _DOCUMENT_ALIASES.get(spec, spec)
    if "," in spec:
        raise InputError(f"-o - prints one document but --emit names several ({spec})", field="--emit",
                         fix="name one emitter with -o -, or write to a directory")
    name, _, wanted = spec.partition(":")
    return name, (wanted or None)


def register(app: typer.Typer) -> None:
    @app.command("plan")
    @handles_input_errors
    def plan_command(
        inputs: list[str] = typer.Argument(None, help="Request logs, requests Parquet, a ServeGen folder, demand.csv "
                                           "or forecast.csv. None: the bundled ServeGen example."),
        fleet: str = typer.Option(None, "--fleet", "-f", help="Fleet YAML (default: the bundled example fleet)."),
        capacity: str = typer.Option(None, "--capacity", help="capacity.yaml with measured per-instance capacities; "
                                     "entries override the computed ones."),
        output: str = typer.Option(None, "--output", "-o", help="Directory for the emitted files (default: plan; with "
                                   "a what-if flag nothing is written unless -o is given). `-o -` prints ONE "
                                   "emitter's document on stdout (default schedule; --emit NAME:FILE for an emitter "
                                   "writing several files, e.g. terraform:preserve.auto.tfvars.json) and the summary "
                                   "on stderr."),
        emit: str = typer.Option(None, "--emit", help="Comma-separated emitters (default: schedule,routing,keda); "
                                 "`preserve emitters` lists them. With -o -: one emitter, NAME:FILE for one of "
                                 "its files, or terraform-json / terraform-yaml."),
        horizon: str = typer.Option(None, "--horizon", help="Override planning.horizon, e.g. 1d or 7d."),
        forecast_model: str = typer.Option("auto", "--forecast-model", help="Forecaster when the stage runs."),
        previous: str = typer.Option(None, "--previous", help="schedule.yaml of the plan in force: print the diff and "
                                     "refuse (exit 3, nothing written) a window losing more than planning.max_drop "
                                     "of its replicas."),
        force: bool = typer.Option(False, "--force", help="Apply a change the --previous guard refuses."),
        scale_demand: float = typer.Option(None, "--scale-demand", help="What-if: multiply the forecast demand, "
                                           "e.g. 1.3 for 30% more traffic."),
        slo: list[str] = typer.Option(None, "--slo", help="What-if: SLO override KEY=VALUE (ttft_p99_s, tpot_p99_ms); "
                                      "repeatable."),
        pool: list[str] = typer.Option(None, "--pool", help="What-if: pool override POOL.FIELD=VALUE (min, max, tp, "
                                       "cold_start_s, usd_per_hour), e.g. h100-eastus.max=32; repeatable."),
        gpu: list[str] = typer.Option(None, "--gpu", help="What-if: run pools of one GPU type on another, "
                                      "OLD=NEW (e.g. a100-80gb=h200), at the pool's price; repeatable."),
        compare: bool = typer.Option(False, "--compare", help="Also plan the unchanged fleet and forecast and print "
                                     "the delta (peak replicas, replica-hours, GPU-hours, $) per deployment."),
        quiet: bool = QUIET_OPTION,
        json_output: bool = JSON_OPTION,
    ) -> None:
        """Plan replicas per pool and window, and routing weights; write YAML for the serving stack.

        Runs the stages the inputs need (demand, forecast), computes capacity per pool
        (capacity.yaml or the profile model), and writes schedule.yaml, routing.yaml and
        KEDA ScaledObjects (or the emitters chosen with --emit) into -o.
        """
        horizon_s = parse_duration(horizon, field="--horizon") if horizon else None
        whatif = parse_whatif(scale_demand, slo, pool, gpu)
        to_stdout = output == STDOUT
        if to_stdout and json_output:
            raise InputError("--json and -o - both print on stdout", field="-o", fix="drop --json or give -o a directory")
        if to_stdout:
            emitter, wanted = _stdout_emitter(emit)
            emitters = [emitter]
        else:
            emitters = parse_emit_list(emit)
        try:
            run = run_plan(list(inputs or []), fleet_path=fleet, capacity_path=capacity, horizon_s=horizon_s,
                           forecast_model=forecast_model, emit=emitters, previous=previous, force=force,
                           whatif=whatif, compare=compare)
        except GuardRefused as refused:
            if not json_output and not quiet:
                stderr.print(_diff_table(refused.diff))  # type: ignore[attr-defined]
            raise
        names: list[str] = []
        if to_stdout:
            sys.stdout.write(stdout_document(run.files, wanted, emitter))
            sys.stdout.flush()
        elif output is None and whatif.active:
            if not quiet:
                note("what-if: nothing written (the plan in force stays as it is; pass -o DIR to write this plan)")
        else:
            names = [str(p) for p in write_outputs(run.files, output or DEFAULT_OUTPUT)]
        if json_output:
            result = plan_json(run.plan, names, run.stages)
            if run.diff is not None:
                result["diff"] = run.diff.to_dict()
            if run.comparison is not None:
                result["compare"] = run.comparison.to_dict()
            print_json(result)
            return
        if quiet:
            return
        # With -o - stdout holds the document, so the summary goes to stderr.
        console: Console = stderr if to_stdout else stdout
        console.print(_table(run.plan))
        if run.diff is not None:
            console.print(_diff_table(run.diff))
        if run.comparison is not None:
            console.print(_compare_table(run.comparison))
        totals = plan_summary(run.plan)
        rows = [("GPU-hours", totals["gpu_hours"]), ("cost $", totals["cost_usd"])]
        solver = run.plan.solver
        if solver.get("planner") == "milp":
            rows += [("integer program", f"{solver['seconds']:.2f} s, gap {solver['mip_gap'] * 100:.2f}%"),
                     ("cheapest-first $", solver["cheapest_first_cost_usd"])]
        rows += [("stages", " → ".join(run.stages)), ("files", ", ".join(names) or ("stdout" if to_stdout else "none"))]
        console.print(key_value_table("Totals", rows))
        for line in run.plan.notes:
            note(f"note: {line}")
