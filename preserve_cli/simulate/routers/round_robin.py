"""Round-robin: each ready instance in turn (Kubernetes Service / kube-proxy style spreading)."""

from __future__ import annotations


class RoundRobinRouter:
    name = "round-robin"

    def __init__(self) -> None:
        self._turn = 0

    def choose(self, sim, r: int, now: float):
        routable = sim.routable
        self._turn += 1
        return routable[self._turn % len(routable)]
