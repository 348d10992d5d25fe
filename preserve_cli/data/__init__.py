"""Data files shipped with preserve (the bundled example demand and its attribution)."""

from __future__ import annotations

import atexit
import contextlib
from importlib import resources
from pathlib import Path

EXAMPLE_DEMAND = "servegen-m-large-hourly.csv"
ATTRIBUTION = "ATTRIBUTION.md"

# as_file() gives a real path even from a zipped install; the temporary copy it may make
# lives until the interpreter exits.
_extracted = contextlib.ExitStack()
atexit.register(_extracted.close)


def _path(name: str) -> Path:
    return _extracted.enter_context(resources.as_file(resources.files(__name__) / name))


def example_demand_path() -> Path:
    """ServeGen m-large, 14 days as hourly demand.csv (origin and license: attribution_path())."""
    return _path(EXAMPLE_DEMAND)


def attribution_path() -> Path:
    return _path(ATTRIBUTION)
