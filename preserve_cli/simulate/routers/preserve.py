"""PreServe's load-aware router (§4.3.3 of arXiv 2504.03702; ../shared/research/preserve.md §6).

For a request of P prompt and D predicted output tokens, instance i scores
    L_i = queued_prefill_i + P + remaining_decode_i + D + beta x max(0, U_peak - T_mem) x M_i
queued_prefill counts the prompts waiting and those in the prefill pass under way; remaining_decode
the predicted decode tokens still to come, of the running requests (from the anticipator) and of the
queued ones (which the paper's formula leaves implicit: they will decode on this instance too).
with U_peak the peak projected KV use over the next l = 100 decode steps once the request is
virtually inserted into the instance's look-ahead map; the request goes to the lowest score
(lowest instance id on ties). beta = 1 and T_mem = 0.8 are the paper's values.
"""

from __future__ import annotations

import numpy as np

from preserve_cli.simulate.anticipator import LOOKAHEAD_STEPS

BETA = 1.0
T_MEM = 0.8
_RAMP = np.arange(LOOKAHEAD_STEPS, dtype=np.float64)


class PreServeRouter:
    name = "preserve"
    needs_anticipator = True

    def choose(self, sim, r: int, now: float):
        req = sim.requests
        prompt = float(req.prompt[r])
        predicted = max(1.0, float(req.predicted[r]))
        span = min(LOOKAHEAD_STEPS, int(predicted))
        insert = None
        best = None
        best_score = np.inf
        threshold = T_MEM
        # The anticipator's accessors are inlined here: this loop runs once per request and instance and
        # is the simulator's hottest path (see benchmarks/simulate.py).
        for inst in sim.routable:
            ant = inst.observer
            steps = inst.steps
            ends = ant.ends
            if ends and ends[0][0] <= steps:
                ant.refresh()
            kv = inst.kv
            peak = ant._peak if ant._peak is not None else ant.peak()
            if peak + prompt + span > threshold * kv:   # only then can the virtual insert reach T_mem
                if insert is None:
                    insert = prompt + _RAMP[:span]
                peak = max(peak, float((ant.window()[:span] + insert).max()))
            score = (inst.queued_prompt + ant.end_sum - len(ant.reservations) * steps + inst.queued_decode)
            over = peak - threshold * kv   # beta x max(0, U_peak - T_mem) x M, with U_peak = peak / M
            if over > 0.0:
                score += BETA * over
            # P + D is the same for every instance: it cannot change the choice, so it is left out.
            if score < best_score:
                best, best_score = inst, score
        return best
