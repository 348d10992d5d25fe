"""The `preserve` command: a thin Typer layer over the stage libraries."""

from __future__ import annotations

import typer

from preserve_cli import __version__
from preserve_cli.cli import demand_cmd, emitters_cmd, forecast_cmd, ingest_cmd, plan_cmd, profile_cmd

app = typer.Typer(
    name="preserve",
    help=(
        "Capacity planner for LLM serving fleets: request logs -> token demand -> forecast -> "
        "replica schedules and routing weights as YAML.\n\n"
        "Exit codes: 0 ok, 2 bad input (one line on stderr names the file, line or field, and the fix)."
    ),
    no_args_is_help=True,
    add_completion=False,
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


for module in (ingest_cmd, demand_cmd, forecast_cmd, profile_cmd, plan_cmd, emitters_cmd):
    module.register(app)


def main() -> None:
    app()
