"""`preserve plan`: inputs -> (demand -> forecast ->) plan -> YAML files."""

from __future__ import annotations


import typer
from rich.table import Table

from preserve_cli.cli.common import JSON_OPTION, handles_input_errors, key_value_table, note, print_json, stdout
from preserve_cli.durations import parse_duration
from preserve_cli.emit.common import iso, plan_summary
from preserve_cli.emit.registry import parse_emit_list
from preserve_cli.plan.model import Plan
from preserve_cli.plan.pipeline import run_plan, write_outputs


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


def register(app: typer.Typer) -> None:
    @app.command("plan")
    @handles_input_errors
    def plan_command(
        inputs: list[str] = typer.Argument(None, help="Request logs, requests Parquet, a ServeGen folder, demand.csv "
                                           "or forecast.csv. None: the bundled ServeGen example."),
        fleet: str = typer.Option(None, "--fleet", "-f", help="Fleet YAML (default: the bundled example fleet)."),
        capacity: str = typer.Option(None, "--capacity", help="capacity.yaml with measured per-instance capacities; "
                                     "entries override the computed ones."),
        output: str = typer.Option("plan", "--output", "-o", help="Directory for the emitted files."),
        emit: str = typer.Option(None, "--emit", help="Comma-separated emitters (default: schedule,routing,keda); "
                                 "`preserve emitters` lists them."),
        horizon: str = typer.Option(None, "--horizon", help="Override planning.horizon, e.g. 1d or 7d."),
        forecast_model: str = typer.Option("prophet", "--forecast-model", help="Forecaster when the stage runs."),
        json_output: bool = JSON_OPTION,
    ) -> None:
        """Plan replicas per pool and window, and routing weights; write YAML for the serving stack.

        Runs the stages the inputs need (demand, forecast), computes capacity per pool
        (capacity.yaml or the profile model), and writes schedule.yaml, routing.yaml and
        KEDA ScaledObjects (or the emitters chosen with --emit) into -o.
        """
        horizon_s = parse_duration(horizon, field="--horizon") if horizon else None
        run = run_plan(list(inputs or []), fleet_path=fleet, capacity_path=capacity, horizon_s=horizon_s,
                       forecast_model=forecast_model, emit=parse_emit_list(emit))
        written = write_outputs(run.files, output)
        names = [str(p) for p in written]
        if json_output:
            print_json(plan_json(run.plan, names, run.stages))
            return
        stdout.print(_table(run.plan))
        totals = plan_summary(run.plan)
        rows = [("GPU-hours", totals["gpu_hours"]), ("cost $", totals["cost_usd"])]
        solver = run.plan.solver
        if solver.get("planner") == "milp":
            rows += [("integer program", f"{solver['seconds']:.2f} s, gap {solver['mip_gap'] * 100:.2f}%"),
                     ("cheapest-first $", solver["cheapest_first_cost_usd"])]
        rows += [("stages", " → ".join(run.stages)), ("files", ", ".join(names))]
        stdout.print(key_value_table("Totals", rows))
        for line in run.plan.notes:
            note(f"note: {line}")
