"""SageServe's LT-U (arXiv 2502.14617; ../shared/research/sageserve.md §2 and §4,
`GlobalAribiterMemoryUtilizationScaling`).

* Every `window_s` (hourly, `long_term_scaling_interval: 3600`) the long-term plan gives the hour's
  instance count: PreServe's capacity formula on the forecast's busiest `peak_window_s` window of the
  hour (SageServe sizes on the max of its forecast over the look-ahead window). Removals happen at
  once; additions become a budget.
* Every `interval_s`: with mean KV use above 0.5 and budget left, one instance is added and the
  budget shrinks; above 0.9 one is added even without budget (the emergency rule). After an
  addition the next waits `cold_start_s` (SageServe's cooldown equals the scaling overhead).
"""

from __future__ import annotations

import math

from preserve_cli.simulate.scalers.context import (
    WindowForecast,
    instances_needed,
    mean_kv_use,
    ready,
)

SCALE_OUT_KV = 0.5
EMERGENCY_KV = 0.9


class LtuScaler:
    name = "lt-u"

    def __init__(self, pool: str, capacity, forecast: WindowForecast, cold_start_s: float,
                 window_s: float = 3600.0, interval_s: float = 5.0) -> None:
        self.pool = pool
        self.capacity = capacity
        self.forecast = forecast
        self.window_s = window_s
        self.interval_s = interval_s
        self.cooldown_s = cold_start_s
        self.hour = -1
        self.budget = 0
        self.last_out = -math.inf

    def _planned(self, hour: int) -> int:
        per_hour = max(1, round(self.window_s / self.forecast.window_s))
        return max(instances_needed(self.capacity, *self.forecast.at(k), self.forecast.window_s)
                   for k in range(hour * per_hour, (hour + 1) * per_hour))

    def start(self, sim) -> dict[str, int]:
        self.hour = 0
        return {self.pool: self._planned(0)}

    def tick(self, sim, now: float) -> None:
        hour = int(now // self.window_s)
        current = len(sim.members(self.pool))
        if hour != self.hour:
            self.hour = hour
            planned = self._planned(hour)
            self.budget = max(0, planned - current)
            if planned < current:
                sim.set_target(self.pool, planned, now, f"hourly plan: {planned}")
            return
        if now - self.last_out < self.cooldown_s:
            return
        use = mean_kv_use(ready(sim, self.pool))
        if use > SCALE_OUT_KV and self.budget > 0:
            self.budget -= 1
        elif use <= EMERGENCY_KV:
            return
        self.last_out = now
        sim.launch(self.pool, 1, now, f"KV use {use:.2f}")
