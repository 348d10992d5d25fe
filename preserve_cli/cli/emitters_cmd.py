"""`preserve emitters`: list the installed emitters (built-in and plugins)."""

from __future__ import annotations

import typer
from rich.table import Table

from preserve_cli.cli.common import JSON_OPTION, handles_input_errors, print_json, stdout
from preserve_cli.emit.registry import available_emitters


def register(app: typer.Typer) -> None:
    @app.command("emitters")
    @handles_input_errors
    def emitters_command(json_output: bool = JSON_OPTION) -> None:
        """List the installed emitters (entry-point group preserve.emitters)."""
        infos = available_emitters()
        if json_output:
            print_json([{"name": i.name, "description": i.description, "module": i.module,
                         "distribution": i.distribution} for i in infos])
            return
        table = Table(title="Emitters", title_justify="left")
        for column in ("name", "description", "from"):
            table.add_column(column)
        for info in infos:
            table.add_row(info.name, info.description, f"{info.distribution} ({info.module})")
        stdout.print(table)
