"""`preserve audit`: how the plan in force fared against the traffic that came; exit 4 for cron alerts."""

from __future__ import annotations

import math

import typer
from rich.table import Table

from preserve_cli.audit import (
    EXIT_AUDIT_THRESHOLD,
    AuditResult,
    Thresholds,
    audit_plan,
    read_schedule,
)
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
from preserve_cli.errors import InputError

WORST_ROWS = 12  # the table shows the worst windows; --json has them all


def _percent(value: float | None) -> str:
    if value is None:
        return "n/a"
    return "∞" if math.isinf(value) else f"{value * 100:+.1f}%"


def _windows_table(result: AuditResult) -> Table:
    shown = sorted(result.under, key=lambda w: (-w.capacity_use, w.start))[:WORST_ROWS]
    table = Table(title=f"Under-provisioned windows ({len(result.under)}; worst {len(shown)} shown)",
                  title_justify="left")
    several_models = len({w.model for w in result.windows}) > 1
    columns = ["start (UTC)"] + (["model"] if several_models else []) + ["over capacity", "unserved",
                                                                         "prefill err", "decode err"]
    for column in columns:
        table.add_column(column, justify="left" if column in ("start (UTC)", "model") else "right", no_wrap=True)
    for w in shown:
        table.add_row(w.start[:16].replace("T", " "), *([w.model] if several_models else []),
                      _percent(w.over_capacity), f"{w.unserved_share * 100:.1f}%",
                      _percent(w.forecast_error["prefill_tokens"]), _percent(w.forecast_error["decode_tokens"]))
    return table


def _summary_rows(result: AuditResult) -> list[tuple[str, object]]:
    s = result.summary()
    worst = s["worst_window"]
    forecast = s["forecast"]
    q = f"p{forecast['quantile'] * 100:g}"
    rows = [
        ("windows audited", (f"{s['windows_audited']} ({s['windows_unobserved']} not in the logs, "
                             f"{s['windows_partial']} partial)")),
        ("under-provisioned windows", s["under_provisioned_windows"]),
        ("worst window", (f"{worst['start']}: demand {_percent(worst['over_capacity'])} over capacity, "
                          f"capacity use {_percent(worst['capacity_use'])[1:]}") if worst else "n/a"),
        ("unserved tokens", s["unserved_tokens"]),
        ("GPU-hours planned (audited windows)", s["gpu_hours"]),
        ("idle GPU-hours", f"{s['idle_gpu_hours']:,.1f} ({(s['idle_share'] or 0) * 100:.1f}%)"),
        ("idle $", s["idle_usd"]),
        ("mean capacity use", _percent(s["mean_capacity_use"])[1:] if s["mean_capacity_use"] is not None else "n/a"),
    ]
    for metric in ("prefill_tokens", "decode_tokens"):
        e = forecast[metric]
        if e["wape"] is not None:
            rows.append((f"{q} forecast, {metric.split('_')[0]}",
                         (f"WAPE {e['wape'] * 100:.1f}%, bias {e['bias'] * 100:+.1f}%, "
                          f"actual ≤ {q} in {e['covered_share'] * 100:.0f}% of windows")))
    return rows


def register(app: typer.Typer) -> None:
    @app.command("audit")
    @handles_input_errors
    def audit_command(
        logs: list[str] = typer.Argument(..., help="The traffic that came: request logs, requests Parquet, a "
                                         "ServeGen folder or demand.csv (anything `preserve demand` reads).",
                                         show_default=False),
        plan: str = typer.Option("plan/schedule.yaml", "--plan", "-p", help="schedule.yaml of the plan in force "
                                 "(or its folder)."),
        fleet: str = typer.Option(None, "--fleet", "-f", help="The plan's fleet file: its models' series: lists "
                                  "say which demand series each model served (needed with several models)."),
        series_by: str = typer.Option(None, "--series-by", help="Request logs: column to split series by (e.g. model)."),
        epoch: str = typer.Option(None, "--epoch", help="UTC time of t=0 for logs with relative times / ServeGen."),
        tolerance: float = typer.Option(0.0, "--tolerance", min=0.0, help="A window counts as under-provisioned when "
                                        "demand exceeds capacity by more than this share (0.05 = 5%)."),
        max_under_windows: int = typer.Option(None, "--max-under-windows", min=0, help="Exit 4 when more windows than "
                                              "this were under-provisioned (cron alerting)."),
        max_shortfall: float = typer.Option(None, "--max-shortfall", min=0.0, help="Exit 4 when a window left more "
                                            "than this share of its demand unserved (0.1 = 10%)."),
        quiet: bool = QUIET_OPTION,
        json_output: bool = JSON_OPTION,
    ) -> None:
        """Audit a plan against the traffic that came: under-provisioned windows, idle GPU-hours and $, forecast
        error per window. Exit 4 when a --max-* threshold is crossed.
        """
        from preserve_cli.demand.sources import load_demand

        schedule = read_schedule(plan)
        series_of = None
        if fleet:
            from preserve_cli.plan.fleet import read_fleet

            series_of = {m.name: m.series for m in read_fleet(fleet).models}
        try:
            demand, _ = load_demand(logs, schedule.window_s, series_by=series_by, epoch=epoch)
        except InputError as exc:
            if exc.field is None and exc.file is None:
                exc.field = "LOGS"
            raise
        result = audit_plan(schedule, demand, series_of=series_of,
                            thresholds=Thresholds(max_under_windows=max_under_windows, max_shortfall=max_shortfall,
                                                  tolerance=tolerance))
        crossed = result.crossed()
        if json_output:
            print_json(result.to_dict())
        elif not quiet:
            stdout.print(key_value_table(f"Audit of {schedule.path} ({len(schedule.starts)} windows of "
                                         f"{schedule.window_s // 60} min)", _summary_rows(result)))
            if result.under:
                stdout.print(_windows_table(result))
            for line in result.notes:
                note(f"note: {line}")
        if crossed:
            # The alert itself: one line on stderr even with --quiet, so cron mails say why.
            stderr.print(f"audit threshold crossed: {'; '.join(crossed)}", highlight=False, soft_wrap=True)
            raise typer.Exit(EXIT_AUDIT_THRESHOLD)
