"""Static: N instances of the first pool for the whole run (PreServe's "static 8 instances" reference)."""

from __future__ import annotations


class StaticScaler:
    name = "static"
    interval_s = 0.0

    def __init__(self, instances: int, pool: str) -> None:
        self.instances = instances
        self.pool = pool

    def start(self, sim) -> dict[str, int]:
        return {self.pool: self.instances}

    def tick(self, sim, now: float) -> None:
        """Never called: a static fleet has no control interval."""
