"""Regenerate the bundled example demand from the ServeGen m-large folder in ../shared.

This script is for maintainers: it reads the read-only data folder next to the repository
(../shared/data/traces/servegen/language/m-large) with preserve's own ServeGen reader and
writes

* examples/servegen-m-large-hourly.csv and its packaged copy
  preserve_cli/data/servegen-m-large-hourly.csv (hourly demand.csv, 336 windows), and
* preserve_cli/data/ATTRIBUTION.md, a copy of examples/ATTRIBUTION.md.

The product never reads ../shared at run time; it ships these copies instead.
tests/demand/test_example.py checks that the shipped files equal what this script makes.

Run from anywhere:  python examples/make_example.py
"""

from __future__ import annotations

from pathlib import Path

from preserve_cli.demand.schema import demand_to_csv
from preserve_cli.demand.servegen import demand_from_servegen
from preserve_cli.fileio import write_text_atomic

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / ".." / "shared" / "data" / "traces" / "servegen" / "language" / "m-large"
EXAMPLE = REPO / "examples" / "servegen-m-large-hourly.csv"
ATTRIBUTION = REPO / "examples" / "ATTRIBUTION.md"
PACKAGED_EXAMPLE = REPO / "preserve_cli" / "data" / EXAMPLE.name
PACKAGED_ATTRIBUTION = REPO / "preserve_cli" / "data" / ATTRIBUTION.name
WINDOW_S = 3600


def render_example() -> str:
    """The example file's exact text (default epoch 2025-01-06T00:00:00Z, gaps kept as gaps)."""
    return demand_to_csv(demand_from_servegen(SOURCE, WINDOW_S))


def main() -> None:
    text = render_example()
    write_text_atomic(EXAMPLE, text)
    write_text_atomic(PACKAGED_EXAMPLE, text)
    write_text_atomic(PACKAGED_ATTRIBUTION, ATTRIBUTION.read_text(encoding="utf-8"))
    print(f"wrote {EXAMPLE}, {PACKAGED_EXAMPLE} and {PACKAGED_ATTRIBUTION}")


if __name__ == "__main__":
    main()
