"""PreServe's proactive scaler (§4.3.2 of arXiv 2504.03702; ../shared/research/preserve.md §5).

* At the start of window i it knows N_{i+1} = ceil(max(P^/mu_p, D^/mu_d, (P^+D^)/mu_t)) for the
  next window (tier 1; capacities from the profile at the fleet SLO) and pre-initialises what is
  missing; instances neither window i nor i+1 needs are isolated from routing and drain.
* Within a window, every `interval_s`: each instance whose anticipator projects KV use above 95%
  in more than 10% of the next 100 decode steps is "potentially overloaded", and each such
  instance gets one extra instance (minus the extra ones still starting).
* At most once per window, if every instance's projection stays below T_f = 30% for the next 100
  steps, it keeps ceil(sum of the instances' projected peaks / 30%) instances — but (our choice,
  not the paper's) never fewer than tier 1's count for the current window: the rule is there to
  undo over-provisioning, and right after a window starts the map is nearly empty (the requests
  queued or in prefill are not in it yet), so without the floor it drains the instances tier 1
  has just asked for.
"""

from __future__ import annotations

import math

from preserve_cli.simulate.instance import STARTING
from preserve_cli.simulate.scalers.context import (
    WindowForecast,
    instances_needed,
    ready,
)

OVERLOAD_KV = 0.95
OVERLOAD_SHARE = 0.10
SCALE_DOWN_KV = 0.30


class PreServeScaler:
    name = "preserve"
    needs_anticipator = True

    def __init__(self, pool: str, capacity, forecast: WindowForecast, interval_s: float = 5.0) -> None:
        self.pool = pool
        self.capacity = capacity
        self.forecast = forecast
        self.interval_s = interval_s
        self.window = -1
        self.scaled_down_in = -1

    def _needed(self, index: int) -> int:
        prefill, decode = self.forecast.at(index)
        return instances_needed(self.capacity, prefill, decode, self.forecast.window_s)

    def start(self, sim) -> dict[str, int]:
        self.window = 0
        return {self.pool: max(self._needed(0), self._needed(1))}

    def tick(self, sim, now: float) -> None:
        window = int(now // self.forecast.window_s)
        if window != self.window:
            self.window = window
            target = max(self._needed(window), self._needed(window + 1))
            sim.set_target(self.pool, target, now, f"tier-1 forecast for windows {window}-{window + 1}")
            return
        serving = ready(sim, self.pool)
        if not serving:
            return
        overloaded = 0
        peaks = []
        for inst in serving:
            ant = inst.observer
            ant.refresh()
            projected = ant.window() / inst.kv
            overloaded += float((projected > OVERLOAD_KV).mean()) > OVERLOAD_SHARE
            peaks.append(max(float(projected.max()), inst.kv_use()))
        starting = sum(1 for i in sim.members(self.pool) if i.state == STARTING)
        if overloaded > starting:
            sim.launch(self.pool, overloaded - starting, now, f"{overloaded} instance(s) projected overloaded")
        elif not starting and self.scaled_down_in != window and max(peaks) < SCALE_DOWN_KV:
            keep = max(self._needed(window), math.ceil(sum(peaks) / SCALE_DOWN_KV))
            if keep < len(serving):
                self.scaled_down_in = window
                sim.drain(self.pool, len(serving) - keep, now, "projected KV use below 30% on every instance")
