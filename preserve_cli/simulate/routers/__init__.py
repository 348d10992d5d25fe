"""Routers: pick the instance a request goes to. One module per router, registered by name.

A router has `name`, optionally `needs_anticipator = True`, and `choose(sim, r, now) -> Instance`
over `sim.routable` (ready, not draining, sorted by instance id; never empty when called).
"""

from __future__ import annotations

from collections.abc import Callable

from preserve_cli.errors import InputError
from preserve_cli.simulate.routers.least_requests import LeastRequestsRouter
from preserve_cli.simulate.routers.preserve import PreServeRouter
from preserve_cli.simulate.routers.round_robin import RoundRobinRouter

ROUTERS: dict[str, Callable[[], object]] = {
    RoundRobinRouter.name: RoundRobinRouter,
    LeastRequestsRouter.name: LeastRequestsRouter,
    PreServeRouter.name: PreServeRouter,
}


def make_router(name: str):
    try:
        return ROUTERS[name]()
    except KeyError:
        raise InputError(f"unknown router {name!r}", field="--router",
                         fix=f"use one of: {', '.join(ROUTERS)}") from None
