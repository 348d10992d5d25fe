"""The simulator agrees with the profile: one request alone, saturated throughput, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from preserve_cli.profile.catalog import get_gpu, resolve_model
from preserve_cli.profile.predicted import latency_model, predicted_capacity
from preserve_cli.profile.slo import Slo, WorkloadShape
from preserve_cli.simulate.engine import simulate
from preserve_cli.simulate.lengths import predicted_lengths
from preserve_cli.simulate.routers import make_router
from preserve_cli.simulate.scalers.static import StaticScaler
from tests.simulate.conftest import pool, uniform_workload


@pytest.mark.parametrize(("gpu", "model", "prompt", "output"),
                         [("a100-80gb", "llama-2-7b", 1000, 200), ("h100-80gb", "llama-3-8b", 37, 1),
                          ("a40", "llama-2-7b", 5000, 17)])
def test_one_request_alone_takes_what_the_predictors_say(gpu, model, prompt, output):
    workload = uniform_workload(1, prompt, output)
    result = simulate(workload, [pool(gpu, model)], make_router("round-robin"), StaticScaler(1, "p"),
                      predicted_lengths(workload, "true", 0))
    latency = latency_model(get_gpu(gpu), resolve_model(model), 1)
    prefill = latency.iterations(prompt, 1, 0).iteration_ms[0] / 1e3
    # vLLM: the prefill pass yields the first token; each further token is one decode step of one
    # sequence whose cache holds the prompt and the tokens before it.
    steps = np.arange(output - 1, dtype=np.float64)
    decode = latency.iterations(np.ones_like(steps), np.ones_like(steps), prompt + steps).iteration_ms.sum() / 1e3 \
        if output > 1 else 0.0
    assert result.requests.first_token[0] == pytest.approx(prefill, rel=1e-9)
    assert result.requests.finish[0] == pytest.approx(prefill + decode, rel=1e-9)


@pytest.mark.parametrize(("gpu", "model", "prompt", "output"),
                         [("h100-80gb", "llama-3-8b", 512, 256), ("a40", "llama-2-7b", 1000, 200),
                          ("a100-80gb", "llama-2-7b", 300, 300)])
def test_saturated_instance_stays_under_the_profile_capacity(gpu, model, prompt, output):
    n = 2000
    workload = uniform_workload(n, prompt, output)  # all at t = 0: the instance never idles
    result = simulate(workload, [pool(gpu, model)], make_router("round-robin"), StaticScaler(1, "p"),
                      predicted_lengths(workload, "true", 0))
    makespan = max(result.requests.finish)
    # With SLO targets that never bind, the profile's mixed capacity is the instance's best
    # time-shared prefill + decode rate for this request shape: an upper bound.
    capacity = predicted_capacity(get_gpu(gpu), resolve_model(model), 1, Slo(1e6, 1e6), WorkloadShape(prompt, output))
    achieved = n * (prompt + output) / makespan
    assert achieved <= capacity.mixed_tokens_per_s * (1 + 1e-6)
    # ... and it is not far below it either: the simulator keeps the GPU busy.
    assert achieved >= 0.9 * capacity.mixed_tokens_per_s


def test_kv_cache_exhaustion_preempts_and_everything_still_finishes():
    workload = uniform_workload(400, 1000, 400)
    result = simulate(workload, [pool("a40", "llama-2-7b")], make_router("round-robin"), StaticScaler(1, "p"),
                      predicted_lengths(workload, "true", 0))
    assert sum(result.requests.preemptions) > 0
    assert np.isfinite(result.requests.finish).all()


@pytest.mark.parametrize("router", ["round-robin", "least-requests", "preserve"])
def test_same_seed_same_numbers(conv_10min, router):
    from preserve_cli.profile.slo import Slo
    from preserve_cli.simulate.metrics import summarize

    def run(seed):
        lengths = predicted_lengths(conv_10min, "noisy", seed)
        result = simulate(conv_10min, [pool()], make_router(router), StaticScaler(2, "p"), lengths)
        return summarize(result, Slo(), 0.2)

    first, again, other = run(7), run(7), run(8)
    assert first == again
    if router == "preserve":
        assert first != other  # the seed drives the length noise the router sees


def test_zero_token_prompts_and_outputs_are_served_as_one_token():
    workload = uniform_workload(3, 0, 0, rate_per_s=1.0)
    result = simulate(workload, [pool()], make_router("least-requests"), StaticScaler(1, "p"),
                      predicted_lengths(workload, "true", 0))
    assert np.isfinite(result.requests.finish).all()
    assert result.requests.finish[0] == pytest.approx(pool().timing.prefill_s([1]))
