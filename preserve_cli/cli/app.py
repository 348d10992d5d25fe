"""The `preserve` command: a thin Typer layer over the stage libraries."""

from __future__ import annotations

import typer

from preserve_cli import __version__
from preserve_cli.cli import (
    audit_cmd,
    demand_cmd,
    emitters_cmd,
    forecast_cmd,
    ingest_cmd,
    loadpred_cmd,
    plan_cmd,
    profile_cmd,
    report_cmd,
    simulate_cmd,
)

app = typer.Typer(
    name="preserve",
    help=(
        "Capacity planner for LLM serving fleets: request logs -> token demand -> forecast -> "
        "replica schedules and routing weights as YAML.\n\n"
        "Exit codes: 0 ok; 2 bad input (one line on stderr names the file, line or field, and the fix; nothing "
        "is written); 3 guard refused (plan --previous: a window would lose too many replicas; nothing is "
        "written); 4 audit threshold crossed (audit --max-under-windows / --max-shortfall, for cron alerts).\n\n"
        "Results go to stdout (a Rich table, --json, or plan -o - for one emitted document); notes, progress "
        "and errors go to stderr; --quiet drops the notes.\n\n"
        "Shell completion: preserve --install-completion (bash, zsh, fish, PowerShell)."
    ),
    no_args_is_help=True,
    # Typer's completion: --install-completion / --show-completion on the root command.
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"preserve {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """Capacity planner for LLM serving fleets."""


for module in (ingest_cmd, demand_cmd, forecast_cmd, profile_cmd, plan_cmd, emitters_cmd, simulate_cmd, loadpred_cmd,
               report_cmd, audit_cmd):
    module.register(app)


def main() -> None:
    # One program name however it is started (`preserve` or `python -m preserve_cli`), so the
    # completion script and its environment variable (_PRESERVE_COMPLETE) are the same.
    app(prog_name="preserve")
