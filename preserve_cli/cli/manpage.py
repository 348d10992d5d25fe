"""man/preserve.1, generated from the CLI's own help so it cannot drift.

Regenerate with `python -m preserve_cli.cli.manpage > man/preserve.1`; a test
fails when the committed page differs from what this prints.
"""

from __future__ import annotations

from typing import Any

import typer.main

from preserve_cli import __version__


def _escape(text: str) -> str:
    text = text.replace("\\", "\\\\").replace("-", "\\-")
    lines = []
    for line in text.splitlines():
        # A line starting with . or ' would be read as a troff request.
        lines.append("\\&" + line if line.startswith((".", "'")) else line)
    return "\n".join(lines)


def _paragraphs(text: str) -> str:
    blocks = [" ".join(block.split()) for block in text.strip().split("\n\n") if block.strip()]
    return "\n.PP\n".join(_escape(block) for block in blocks)


# Typer (0.29+) vendors click privately, so commands are used by duck typing: the
# click Command/Group/Context API (get_params, list_commands, context_class).
def _context(command: Any, name: str, parent: Any = None) -> Any:
    return command.context_class(command, info_name=name, parent=parent)


def _options(command: Any, ctx: Any) -> list[str]:
    out = []
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx)
        if not record:
            continue
        names, help_text = record
        out.append(f".TP\n.B {_escape(names)}\n{_escape(' '.join(help_text.split()))}")
    return out


def _usage(command: Any, ctx: Any) -> str:
    pieces = command.collect_usage_pieces(ctx)
    return _escape(" ".join([ctx.command_path, *pieces]))


def _walk(command: Any, ctx: Any, sections: list[str]) -> None:
    if ctx.parent is not None and not getattr(command, "hidden", False):
        sections.append(f'.SS "{_escape(ctx.command_path)}"')
        sections.append(f".nf\n{_usage(command, ctx)}\n.fi")
        if command.help:
            sections.append(_paragraphs(command.help))
        sections.extend(_options(command, ctx))
    if hasattr(command, "list_commands"):
        for name in sorted(command.list_commands(ctx)):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                _walk(sub, _context(sub, name, ctx), sections)


def render_manpage() -> str:
    from preserve_cli.cli.app import app

    root = typer.main.get_command(app)
    ctx = _context(root, "preserve")
    sections = [
        f'.TH PRESERVE 1 "" "preserve {__version__}" "User Commands"',
        ".SH NAME",
        "preserve \\- capacity planner for LLM serving fleets",
        ".SH SYNOPSIS",
        ".B preserve\n[\\fIOPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]...",
        ".SH DESCRIPTION",
        _paragraphs(root.help or ""),
        ".SH OPTIONS",
        *_options(root, ctx),
        ".SH COMMANDS",
    ]
    _walk(root, ctx, sections)
    sections += [
        ".SH EXIT STATUS",
        ".TP\n.B 0\nsuccess\n.TP\n.B 2\nbad input: one line on standard error names the file, line or field, and the fix; "
        "no output file is written",
        ".SH FILES",
        "File formats between stages (requests Parquet, demand.csv, forecast.csv, capacity.yaml, fleet.yaml, "
        "schedule.yaml, routing.yaml) are documented in docs/formats.md.",
    ]
    return "\n".join(sections) + "\n"


if __name__ == "__main__":
    import sys

    sys.stdout.write(render_manpage())
