"""Errors a user can act on.

Every problem with the user's input (files, flags, fleet) is raised as an
`InputError`. The CLI turns it into ONE line on stderr and exit code 2, with no
traceback. The message names the file, the line or field, and the fix.
"""

from __future__ import annotations

from pathlib import Path

EXIT_OK = 0
EXIT_BAD_INPUT = 2


class InputError(Exception):
    """Bad input: a one-line, actionable message (exit code 2)."""

    exit_code = EXIT_BAD_INPUT

    def __init__(
        self,
        problem: str,
        *,
        file: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.problem = problem
        self.file = str(file) if file is not None else None
        self.line = line
        self.field = field
        self.fix = fix
        super().__init__(self.one_line())

    def one_line(self) -> str:
        where = ""
        if self.file:
            where = self.file
            if self.line is not None:
                where += f":{self.line}"
        parts = []
        if where:
            parts.append(where)
        if self.field:
            parts.append(f"field '{self.field}'")
        head = ": ".join(parts)
        text = f"{head}: {self.problem}" if head else self.problem
        if self.fix:
            text += f" (fix: {self.fix})"
        # Guarantee a single line whatever the parts contained.
        return " ".join(text.split())


EXIT_GUARD_REFUSED = 3


class GuardRefused(InputError):
    """A plan change beyond the safety guard (exit code 3); nothing is written."""

    exit_code = EXIT_GUARD_REFUSED
