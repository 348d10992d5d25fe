"""`preserve report`: one self-contained HTML file with the plan's charts, plus PNGs of them."""

from __future__ import annotations

from pathlib import Path

import typer

from preserve_cli.cli.common import (
    JSON_OPTION,
    QUIET_OPTION,
    handles_input_errors,
    key_value_table,
    note,
    print_json,
    stdout,
)


def register(app: typer.Typer) -> None:
    @app.command("report")
    @handles_input_errors
    def report_command(
        plan: str = typer.Argument("plan", help="Plan folder or its schedule.yaml ('-' for none: history and "
                                   "forecast only)."),
        demand: list[str] = typer.Option(None, "--demand", "-d", help="Demand history: logs, requests Parquet, a "
                                         "ServeGen folder or demand.csv (repeatable)."),
        forecast: str = typer.Option(None, "--forecast", help="forecast.csv: drawn as p50 and a quantile band."),
        backtest: str = typer.Option(None, "--backtest", help="backtest.csv of `preserve forecast --backtest`: "
                                     "a score table."),
        simulate: str = typer.Option(None, "--simulate", help="JSON saved from `preserve simulate --json`: tables."),
        output: Path = typer.Option(Path("report.html"), "--output", "-o", help="HTML file to write."),
        png_dir: Path = typer.Option(None, "--png-dir", help="Folder for the PNGs [default: <output stem>-charts "
                                     "next to the HTML]."),
        quiet: bool = QUIET_OPTION,
        json_output: bool = JSON_OPTION,
    ) -> None:
        """Write one self-contained HTML report (opens offline: inline SVG charts, no script, no CDN) and a PNG
        of each chart: demand history with forecast bands, replicas per pool, capacity vs demand, cost per
        day, and backtest / simulation tables when given.
        """
        from preserve_cli.report import build_report, load_report_data, write_report

        data = load_report_data(plan=None if plan == "-" else plan, demand=demand or None, forecast=forecast,
                                backtest=backtest, simulate=simulate)
        report = build_report(data)
        pngs = png_dir if png_dir is not None else output.parent / f"{output.stem}-charts"
        written = [str(p) for p in write_report(report, output, pngs)]
        if json_output:
            print_json({"html": written[0], "pngs": written[1:], "charts": report.charts, "skipped": report.skipped,
                        "sources": data.sources})
            return
        if quiet:
            return
        stdout.print(key_value_table("Report", [("html", written[0]), ("charts", ", ".join(report.charts)),
                                                ("pngs", str(pngs)), *[(k, v) for k, v in data.sources.items()]]))
        for line in report.skipped:
            note(f"note: not in the report: {line}")
