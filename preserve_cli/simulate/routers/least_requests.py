"""Least requests: the instance holding the fewest requests (queued + running); lowest id on ties.

PreServe's "LR" baseline (§4.3.3) and Envoy's LEAST_REQUEST with full information.
"""

from __future__ import annotations


class LeastRequestsRouter:
    name = "least-requests"

    def choose(self, sim, r: int, now: float):
        best = None
        best_load = 1 << 62
        for inst in sim.routable:
            load = len(inst.running) + len(inst.waiting) + len(inst.batch)
            if load < best_load:
                best, best_load = inst, load
        return best
