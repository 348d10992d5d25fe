"""PreServe's per-instance load anticipator (§4.3.1 of arXiv 2504.03702; ../shared/research/preserve.md §4).

A look-ahead map U over future decode steps: U[s] is the KV-cache tokens the running requests are
expected to hold at decode step s. When a request finishes prefill with c cached tokens and a
predicted D more output tokens, U[s] += c + (s - join) for the next D steps. When it finishes
early or is preempted, what it still reserved is taken out; when it outlives its prediction, a
virtual extension of 0.2 x its predicted length is added, again and again until it finishes (the
paper's rule). Steps are counted per instance (`Instance.steps`), so the map shifts by itself:
index s lives in a ring buffer slot s mod RING, and slots behind the current step are cleared.
"""

from __future__ import annotations

import heapq
import math

import numpy as np

# The paper's maximum output length, L = 4096 for LLaMA-2: no reservation is longer than this.
MAX_RESERVED_STEPS = 4096
# The projection horizon l = 100 decode steps the router and scaler look at (§4.3.1).
LOOKAHEAD_STEPS = 100
# Overrun: a virtual extension of 0.2 x the predicted length (§4.3.1).
OVERRUN_EXTENSION = 0.2
RING = 2 * MAX_RESERVED_STEPS + 2 * LOOKAHEAD_STEPS
_RAMP = np.arange(RING, dtype=np.float64)


class Anticipator:
    __slots__ = ("_peak", "cleared_to", "end_sum", "ends", "inst", "reservations", "u")

    def __init__(self, inst) -> None:
        self.inst = inst
        self.u = np.zeros(RING)
        self.reservations: dict[int, tuple[int, int, int, int]] = {}  # r -> (join, cached, end, extension)
        self.ends: list[tuple[int, int]] = []
        self.end_sum = 0
        self.cleared_to = 0
        self._peak: float | None = 0.0   # cached max of window(); None when the map changed

    def _add(self, start: int, stop: int, first_value: float, sign: float) -> None:
        """U[s] += sign * (first_value + s - start) for s in [start, stop)."""
        if stop <= start:
            return
        self._peak = None
        n = stop - start
        # A slice of one shared ramp instead of a fresh np.arange: this runs on every admit and release.
        values = _RAMP[:n] + first_value if sign > 0 else -first_value - _RAMP[:n]
        a = start % RING
        head = min(n, RING - a)
        self.u[a:a + head] += values[:head]
        if head < n:
            self.u[:n - head] += values[head:]

    def admit(self, r: int, steps: int, generated: int) -> None:
        req = self.inst.req
        predicted = min(max(1, round(req.predicted[r])), MAX_RESERVED_STEPS)
        cached = req.prompt[r] + generated - 1
        extension = max(1, math.ceil(OVERRUN_EXTENSION * predicted))
        remaining = predicted - generated
        end = steps + (remaining if remaining > 0 else extension)
        self._add(steps, end, cached, 1.0)
        self.reservations[r] = (steps, cached, end, extension)
        heapq.heappush(self.ends, (end, r))
        self.end_sum += end

    def release(self, r: int, steps: int) -> None:
        entry = self.reservations.pop(r, None)
        if entry is None:  # finished in its prefill pass: never reserved decode steps
            return
        join, cached, end, _ = entry
        start = max(steps, join)
        self._add(start, end, cached + start - join, -1.0)
        self.end_sum -= end

    def advance(self, steps: int) -> None:
        """Clear the slots of steps already taken (they would alias future steps)."""
        start = self.cleared_to
        self._peak = None
        if steps - start >= RING:
            self.u[:] = 0.0
        elif steps > start:
            a, b = start % RING, steps % RING
            if a < b:
                self.u[a:b] = 0.0
            else:
                self.u[a:] = 0.0
                self.u[:b] = 0.0
        self.cleared_to = steps

    def refresh(self) -> None:
        """Extend the reservations of requests that outlived their prediction."""
        steps = self.inst.steps
        ends = self.ends
        while ends and ends[0][0] <= steps:
            end, r = heapq.heappop(ends)
            entry = self.reservations.get(r)
            if entry is None or entry[2] != end:
                continue
            join, cached, _, extension = entry
            new_end = steps + extension
            self._add(steps, new_end, cached + steps - join, 1.0)
            self.reservations[r] = (join, cached, new_end, extension)
            heapq.heappush(ends, (new_end, r))
            self.end_sum += new_end - end

    def window(self, steps: int = LOOKAHEAD_STEPS) -> np.ndarray:
        """Projected KV tokens over the next `steps` decode steps."""
        a = self.inst.steps % RING
        if a + steps <= RING:
            return self.u[a:a + steps]
        return np.concatenate([self.u[a:], self.u[:a + steps - RING]])

    def peak(self) -> float:
        """Max projected KV tokens over the next LOOKAHEAD_STEPS steps (cached until the map changes)."""
        if self._peak is None:
            self._peak = float(self.window().max())
        return self._peak

    def remaining_decode(self) -> float:
        """Predicted decode tokens still to come from the running requests."""
        return float(self.end_sum - len(self.reservations) * self.inst.steps)
