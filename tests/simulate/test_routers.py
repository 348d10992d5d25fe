"""Routers choose as their rules say; the anticipator keeps PreServe's look-ahead map."""

from __future__ import annotations

import numpy as np
import pytest

from preserve_cli.errors import InputError
from preserve_cli.simulate.anticipator import OVERRUN_EXTENSION, Anticipator
from preserve_cli.simulate.engine import Simulation
from preserve_cli.simulate.routers import make_router
from preserve_cli.simulate.scalers.static import StaticScaler
from preserve_cli.simulate.workload import make_workload
from tests.simulate.conftest import pool


def _fleet(router: str, prompts, outputs, predicted=None, instances: int = 2):
    n = len(prompts)
    workload = make_workload(np.zeros(n), np.array(prompts), np.array(outputs), source="unit")
    sim = Simulation(workload, [pool()], make_router(router), StaticScaler(instances, "p"),
                     np.asarray(predicted if predicted is not None else outputs, dtype=float))
    sim.launch("p", instances, 0.0, "test", warm=True)
    return sim


def _serve(sim, inst, r):
    """Put request r on inst and run it through prefill (it is then decoding)."""
    inst.enqueue(r, 0.0)
    inst.on_event(inst.event_at)


def test_round_robin_takes_turns():
    sim = _fleet("round-robin", [10] * 6, [10] * 6, instances=3)
    picks = [sim.router.choose(sim, r, 0.0).id for r in range(6)]
    assert picks == [1, 2, 0, 1, 2, 0]


def test_least_requests_picks_the_emptiest():
    sim = _fleet("least-requests", [100] * 4, [50] * 4)
    a, b = sim.routable
    _serve(sim, a, 0)
    _serve(sim, a, 1)
    _serve(sim, b, 2)
    assert sim.router.choose(sim, 3, 0.0) is b


def test_preserve_router_weighs_predicted_decode_not_request_count():
    # a: ONE request with 3000 tokens still to generate; b: TWO requests with 20 each.
    sim = _fleet("preserve", [100, 100, 100, 100], [3000, 20, 20, 20])
    a, b = sim.routable
    _serve(sim, a, 0)
    _serve(sim, b, 1)
    _serve(sim, b, 2)
    assert make_router("least-requests").choose(sim, 3, 0.0) is a
    assert sim.router.choose(sim, 3, 0.0) is b


def test_preserve_router_avoids_projected_kv_exhaustion():
    sim = _fleet("preserve", [100, 30000, 100, 100], [50, 40, 10, 10])
    a, b = sim.routable
    kv = a.kv
    # b holds one big prompt: its projected KV use is well above T_mem = 0.8 of M ...
    sim.requests.prompt[1] = int(0.9 * kv)
    _serve(sim, a, 0)
    _serve(sim, b, 1)
    assert b.observer.window().max() / kv > 0.8
    # ... so even though a has more queued prompt tokens, the new request goes to a.
    a.enqueue(2, a.event_at)
    assert sim.router.choose(sim, 3, 0.0) is a


def test_anticipator_map_insert_release_and_overrun():
    sim = _fleet("preserve", [100, 100], [10, 10], predicted=[10, 10])
    inst = sim.routable[0]
    ant: Anticipator = inst.observer
    _serve(sim, inst, 0)  # prefill made token 1: 9 decode steps reserved, holding 100, 101, ... tokens
    assert ant.window()[:10].tolist() == [100 + i for i in range(9)] + [0]
    assert ant.remaining_decode() == 9
    # The request outlives its prediction: the map grows by 0.2 x the predicted length.
    inst.steps += 9
    ant.advance(inst.steps)
    ant.refresh()
    extension = int(np.ceil(OVERRUN_EXTENSION * 10))
    assert np.count_nonzero(ant.window()) == extension
    ant.release(0, inst.steps)
    assert not ant.window().any()
    assert ant.remaining_decode() == 0


def test_unknown_router_is_a_one_line_input_error():
    with pytest.raises(InputError, match="round-robin, least-requests, preserve"):
        make_router("random")


def test_requests_that_end_in_their_prefill_pass_leave_the_map_clean():
    # One-token outputs finish in the prefill pass; with KV pressure, preempted requests may too.
    sim = _fleet("preserve", [3000] * 40 + [100] * 40, [1] * 40 + [600] * 40, instances=1)
    result = sim.run()
    assert np.isfinite(result.requests.finish).all()
    assert all(not inst.observer.reservations for inst in result.instances)


def test_a_prompt_too_big_for_a_small_pool_is_aborted_not_stuck():
    from preserve_cli.simulate.engine import simulate

    small, large = pool("a40", "llama-2-7b", name="small"), pool("a100-80gb", "llama-2-7b", name="large")
    big = small.timing.kv_tokens + 1000  # fits the A100's cache, not the A40's
    # Round-robin sends requests 1 and 3 to instance 0, the A40.
    workload = make_workload(np.arange(4.0), np.array([100, big, 100, 100]), np.array([10, 10, 10, 10]),
                             source="unit")

    class BothPools:
        name, interval_s = "both", 0.0

        def start(self, sim):
            return {"small": 1, "large": 1}

    result = simulate(workload, [small, large], make_router("round-robin"), BothPools(), np.full(4, 10.0))
    aborted = np.asarray(result.requests.aborted)
    assert result.requests.instance[1] == 0 and result.instances[0].pool.name == "small"
    assert aborted.tolist() == [False, True, False, False]
    assert np.isfinite(np.asarray(result.requests.finish)[~aborted]).all()
