"""Shared plumbing for the thin CLI layer: errors -> exit 2, --json, Rich tables.

Conventions every command follows:
* the work is done by a library function; the command only parses flags,
  calls it, and reports;
* `--json` prints exactly one JSON document on stdout and nothing else there;
* without `--json` a Rich summary table goes to stdout; progress and notes go to
  stderr;
* an `InputError` becomes one line on stderr (`error: ...`) and exit code 2.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from preserve_cli.display import human_value
from preserve_cli.errors import EXIT_BAD_INPUT, InputError
from preserve_cli.fileio import dump_json

stdout = Console(soft_wrap=True)
stderr = Console(stderr=True, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])

JSON_OPTION = typer.Option(False, "--json", help="Print a machine-readable JSON result on stdout (nothing else there).")
QUIET_OPTION = typer.Option(False, "--quiet", "-q", help="Print no summary and no notes (errors still go to stderr; "
                            "--json and -o - output are unchanged): for cron.")


def fail(message: str, code: int = EXIT_BAD_INPUT) -> None:
    """Print one line on stderr and exit."""
    # Plain write, not Rich: Rich would wrap long lines, and the contract is ONE line.
    sys.stderr.write(f"error: {' '.join(message.split())}\n")
    sys.stderr.flush()
    raise typer.Exit(code)


def handles_input_errors(func: F) -> F:
    """Turn bad input into one line on stderr and exit code 2 (no traceback)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except InputError as exc:
            fail(exc.one_line(), exc.exit_code)
        except (FileNotFoundError, IsADirectoryError, PermissionError, NotADirectoryError) as exc:
            where = getattr(exc, "filename", None) or ""
            fail(f"{where}: {exc.strerror or exc} (fix: check the path and its permissions)")
        return None

    return wrapper  # type: ignore[return-value]


def print_json(document: Any) -> None:
    sys.stdout.write(dump_json(document))
    sys.stdout.flush()


def key_value_table(title: str, rows: Iterable[tuple[str, Any]]) -> Table:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value", overflow="fold")
    for name, value in rows:
        table.add_row(name, human_value(value))
    return table


def note(message: str) -> None:
    stderr.print(message, highlight=False)
