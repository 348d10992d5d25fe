"""Reactive: Kubernetes HPA's algorithm on KV-cache use (how HPA/KEDA scale vLLM on
`vllm:gpu_cache_usage_perc`).

Every `interval_s` (HPA's sync period, 15 s by default): desired = ceil(ready x mean KV use / target),
left unchanged while mean use / target is within the 10% tolerance (HPA default
--horizontal-pod-autoscaler-tolerance=0.1). Scale-up acts at once; scale-down takes the highest
desired value of the last `down_stabilization_s` (HPA default 300 s). Target 0.5: the KV use
SageServe's guards scale out at and the value the AIBrix emitter writes (docs/formats.md).
"""

from __future__ import annotations

import math
from collections import deque

from preserve_cli.simulate.scalers.context import mean_kv_use, ready

TOLERANCE = 0.1


class ReactiveScaler:
    name = "reactive"

    def __init__(self, pool: str, initial: int, target_kv_use: float = 0.5, interval_s: float = 15.0,
                 down_stabilization_s: float = 300.0) -> None:
        self.pool = pool
        self.initial = initial
        self.target = target_kv_use
        self.interval_s = interval_s
        self.down_window = down_stabilization_s
        self.history: deque[tuple[float, int]] = deque()

    def start(self, sim) -> dict[str, int]:
        # The starting size counts as a recommendation: no scale-down before a full window has passed.
        self.history.append((0.0, self.initial))
        return {self.pool: self.initial}

    def tick(self, sim, now: float) -> None:
        serving = ready(sim, self.pool)
        current = len(sim.members(self.pool))
        if not serving:
            return
        ratio = mean_kv_use(serving) / self.target
        desired = current if abs(ratio - 1) <= TOLERANCE else max(1, math.ceil(len(serving) * ratio))
        self.history.append((now, desired))
        while self.history and self.history[0][0] < now - self.down_window:
            self.history.popleft()
        if desired > current:
            sim.set_target(self.pool, desired, now, f"KV use {ratio * self.target:.2f} > target {self.target}")
        else:
            stable = max(d for _, d in self.history)
            if stable < current:
                sim.set_target(self.pool, stable, now,
                               f"KV use below target for {self.down_window:g} s")
