"""Replicas per window: cover the planned demand with the cheapest capacity first.

For a model with planned demand P (prefill tokens/s) and D (decode tokens/s),
one deployment i would need

    r_i = max(P/mu_p, D/mu_d, (P+D)/mu_t)          (PreServe, tier 1)

replicas to serve ALL of it alone, with mu_t taken at this window's own mix, i.e.
(P+D)/mu_t = P/mu_p + D/mu_d (prefill and decode time-share the GPU; `load_terms`).
With n_i replicas it serves the fraction n_i / r_i, so a set of deployments
covers the demand when sum_i n_i / r_i >= 1, and routing traffic in proportion
to n_i / r_i keeps every deployment within its capacity. Deployments are filled
in order of cost per unit of traffic (usd_per_hour × r_i), starting from their
`min`. (The integer program over regions and GPU types replaces this greedy
fill in a later version.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from preserve_cli.errors import InputError
from preserve_cli.plan.model import Deployment
from preserve_cli.timeutil import to_iso

# A share above 1 - EPS counts as covered: guards against 0.9999999 from float sums.
_EPS = 1e-9


@dataclass(frozen=True)
class Need:
    replicas_for_all: float   # r_i
    binding: str              # prefill | decode | mixed


def load_terms(prefill_per_s: float, decode_per_s: float, prefill_tokens_per_s: float, decode_tokens_per_s: float,
               mixed_tokens_per_s: float | None = None) -> dict[str, float]:
    """Replicas of one instance type that would carry P and D alone, per resource (the planner's and the
    audit's one capacity formula)."""
    terms = {
        "prefill": prefill_per_s / prefill_tokens_per_s,
        "decode": decode_per_s / decode_tokens_per_s,
    }
    # PreServe's mixed term (P + D) / mu_t, with mu_t = (rho + 1) / (rho / mu_p + 1 / mu_d) evaluated at THIS
    # window's mix rho = P / D: that is P / mu_p + D / mu_d (the profile's time-shared GPU). The capacity's own
    # mixed rate was computed at the horizon's average mix, so alone it under-counts windows richer in the
    # costlier phase (found by `preserve audit`: up to 1.17x capacity in 78 of 168 hours of the example plan).
    # A measured mixed rate (capacity.yaml) still applies where it is the stricter of the two.
    time_shared = terms["prefill"] + terms["decode"]
    if mixed_tokens_per_s:
        terms["mixed"] = max(time_shared, (prefill_per_s + decode_per_s) / mixed_tokens_per_s)
    else:
        terms["mixed"] = time_shared
    return terms


def need(deployment: Deployment, prefill_per_s: float, decode_per_s: float) -> Need:
    cap = deployment.capacity
    terms = load_terms(prefill_per_s, decode_per_s, cap.prefill_tokens_per_s, cap.decode_tokens_per_s,
                       cap.mixed_tokens_per_s)
    binding = max(terms, key=lambda k: (terms[k], k))
    return Need(terms[binding], binding)


def allocate_window(
    deployments: list[Deployment], prefill_per_s: float, decode_per_s: float,
    room: dict[str, int], *, model: str, window_start: np.datetime64, fleet_file: str,
) -> tuple[dict[str, int], str]:
    """Replicas per deployment of ONE model for ONE window, and what binds.

    `room` is what each deployment's pool still has (max minus replicas other
    models took in this window); it is reduced in place.
    """
    needs = {d.name: need(d, prefill_per_s, decode_per_s) for d in deployments}
    counts = {d.name: min(d.pool.min, room[d.name]) for d in deployments}
    for name, count in counts.items():
        room[name] -= count

    def covered() -> float:
        return sum(counts[n] / needs[n].replicas_for_all if needs[n].replicas_for_all > 0 else math.inf
                   for n in counts) if any(needs[n].replicas_for_all > 0 for n in counts) else math.inf

    if covered() >= 1 - _EPS:
        return counts, ("pool min" if any(needs[n].replicas_for_all > 0 for n in counts) else "idle")
    order = sorted(deployments, key=lambda d: (d.usd_per_hour * needs[d.name].replicas_for_all, d.name))
    binding = needs[order[0].name].binding
    for d in order:
        shortfall = 1 - covered()
        if shortfall <= _EPS:
            break
        if room[d.name] <= 0:
            continue
        wanted = math.ceil(shortfall * needs[d.name].replicas_for_all - _EPS)
        take = min(wanted, room[d.name])
        counts[d.name] += take
        room[d.name] -= take
        binding = needs[d.name].binding if take == wanted else "pool max"
    if 1 - covered() > _EPS:
        short = (1 - covered()) * 100
        pools = ", ".join(f"{d.pool.name} max {d.pool.max}" for d in deployments)
        raise InputError(
            f"window {to_iso(window_start)}: model {model!r} needs {short:.1f}% more capacity than its pools "
            f"can give ({pools}; planned demand {prefill_per_s:,.0f} prefill + {decode_per_s:,.0f} decode tokens/s)",
            file=fleet_file, field="pools[].max",
            fix="raise max on a pool serving this model, add a pool, or lower planning.quantile/headroom",
        )
    return counts, binding


def routing_shares(deployments: list[Deployment], counts: dict[str, int],
                   prefill_per_s: float, decode_per_s: float) -> dict[str, float]:
    """Each deployment's share of the traffic: its share of the capacity serving the model."""
    served = {}
    for d in deployments:
        r = need(d, prefill_per_s, decode_per_s).replicas_for_all
        if r <= 0:
            # No demand: split by raw capacity so a request that does arrive has somewhere to go.
            served[d.name] = counts[d.name] * d.capacity.decode_tokens_per_s
        else:
            served[d.name] = counts[d.name] / r
    total = sum(served.values())
    if total <= 0:
        return {d.name: 0.0 for d in deployments}
    return {name: value / total for name, value in served.items()}
