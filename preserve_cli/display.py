"""How numbers read to a person, the same in the terminal tables and in the HTML report."""

from __future__ import annotations

from typing import Any


def human_value(value: Any) -> str:
    """Thousands separators for counts, 4 significant digits for small floats, whole numbers for large."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    return str(value)
