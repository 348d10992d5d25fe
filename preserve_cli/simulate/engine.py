"""The discrete-event loop: arrivals, instance events (a heap of next-event times), scaler ticks.

`simulate(workload, pools, router, scaler, predicted)` replays every request of the workload:
the router picks one of the ready (not draining) instances when it arrives; when none is ready
it waits in a fleet-level queue until one is. The scaler is called at t = 0 for the initial
fleet (warm: ready at once) and then every `scaler.interval_s` until the last arrival; the
instances it adds take their pool's `cold_start_s` to become ready and are billed from launch;
the ones it removes stop taking requests, finish what they hold, then stop being billed.
Requests whose prompt + output cannot fit in the KV cache of any pool are not run: they are
counted (`rejected_too_long`) and left out of the latency metrics.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field

import numpy as np

from preserve_cli.simulate.anticipator import Anticipator
from preserve_cli.simulate.instance import (
    ACTIVE,
    DRAINING,
    STARTING,
    STOPPED,
    Instance,
    Requests,
)
from preserve_cli.simulate.timing import InstanceTiming
from preserve_cli.simulate.workload import Workload


@dataclass(frozen=True)
class SimPool:
    """A deployment the simulated fleet draws instances from."""

    name: str
    gpu: str
    model: str
    tp: int
    cold_start_s: float
    usd_per_instance_hour: float
    timing: InstanceTiming
    min_replicas: int = 0
    max_replicas: int = 1_000_000


@dataclass(frozen=True)
class ScalingAction:
    time_s: float
    pool: str
    change: int          # + launched, - drained (or cancelled while starting)
    reason: str


@dataclass
class SimResult:
    workload: Workload
    router: str
    scaler: str
    requests: Requests
    rejected: np.ndarray                # bool per request: prompt + output exceed every pool's KV cache
    instances: list[Instance]
    actions: list[ScalingAction]
    end_s: float                        # relative to the workload start
    pools: dict[str, SimPool] = field(default_factory=dict)


class Simulation:
    """State the routers and scalers see; `run()` does the replay."""

    def __init__(self, workload: Workload, pools: list[SimPool], router, scaler,
                 predicted_output: np.ndarray) -> None:
        self.workload = workload
        self.pools = {pool.name: pool for pool in pools}
        self.router = router
        self.scaler = scaler
        # An engine needs at least one prompt token and yields at least one output token.
        self.requests = Requests(workload.arrival_s.tolist(), np.maximum(workload.input_tokens, 1).tolist(),
                                 np.maximum(workload.output_tokens, 1).tolist(),
                                 np.asarray(predicted_output, dtype=np.float64).tolist())
        largest_kv = max(pool.timing.kv_tokens for pool in pools)
        self.rejected = (np.maximum(workload.input_tokens, 1) + np.maximum(workload.output_tokens, 1)) > largest_kv
        self.instances: list[Instance] = []
        self.routable: list[Instance] = []
        self.pending: list[int] = []
        self.actions: list[ScalingAction] = []
        self.heap: list[tuple[float, int, Instance, int]] = []
        self._seq = 0
        self.anticipate = bool(getattr(router, "needs_anticipator", False) or
                               getattr(scaler, "needs_anticipator", False))
        self.now = 0.0

    # ---- fleet changes (called by scalers)
    def members(self, pool: str) -> list[Instance]:
        """Instances of the pool that are starting or serving (not draining, not stopped)."""
        return [inst for inst in self.instances if inst.pool.name == pool and inst.state in (STARTING, ACTIVE)]

    def set_target(self, pool_name: str, target: int, now: float, reason: str) -> None:
        pool = self.pools[pool_name]
        target = max(pool.min_replicas, min(pool.max_replicas, int(target)))
        members = self.members(pool_name)
        if target > len(members):
            self.launch(pool_name, target - len(members), now, reason)
        elif target < len(members):
            self.drain(pool_name, len(members) - target, now, reason)

    def launch(self, pool_name: str, count: int, now: float, reason: str, warm: bool = False) -> None:
        pool = self.pools[pool_name]
        for _ in range(count):
            ready = now if warm else now + pool.cold_start_s
            inst = Instance(len(self.instances), pool, pool.timing, self.requests, now, ready)
            if self.anticipate:
                inst.observer = Anticipator(inst)
            self.instances.append(inst)
            if inst.state == ACTIVE:
                self._ready(inst, now)
            else:
                self._push(ready, inst, -1)
        self.actions.append(ScalingAction(now, pool_name, count, reason))

    def drain(self, pool_name: str, count: int, now: float, reason: str) -> None:
        """Remove `count` instances: starting ones first (newest first), then the least loaded."""
        members = self.members(pool_name)
        starting = sorted((i for i in members if i.state == STARTING), key=lambda i: -i.id)
        active = sorted((i for i in members if i.state == ACTIVE), key=lambda i: (i.load(), -i.id))
        for inst in (starting + active)[:count]:
            if inst.state == STARTING:
                inst.state = STOPPED
                inst.stopped_at = now
                continue
            inst.state = DRAINING
            self.routable.remove(inst)
            if inst.empty():
                self._stop(inst, now)
        self.actions.append(ScalingAction(now, pool_name, -count, reason))

    # ---- internals
    def _push(self, time: float, inst: Instance, version: int) -> None:
        self._seq += 1
        heapq.heappush(self.heap, (time, self._seq, inst, version))

    def _ready(self, inst: Instance, now: float) -> None:
        inst.state = ACTIVE
        self.routable.append(inst)
        self.routable.sort(key=lambda i: i.id)
        pending, self.pending = self.pending, []
        for r in pending:
            self._route(r, now)

    def _stop(self, inst: Instance, now: float) -> None:
        inst.state = STOPPED
        inst.stopped_at = now

    def _route(self, r: int, now: float) -> None:
        if not self.routable:
            self.pending.append(r)
            return
        inst = self.router.choose(self, r, now)
        event = inst.enqueue(r, now)
        if event is not None:
            self._push(event, inst, inst.version)

    def run(self) -> SimResult:
        arrival = self.requests.arrival
        rejected = self.rejected.tolist()
        n = len(arrival)
        initial = self.scaler.start(self)
        for pool_name, count in initial.items():
            if count > 0:
                self.launch(pool_name, count, 0.0, "initial fleet", warm=True)
        interval = float(self.scaler.interval_s)
        last_arrival = arrival[-1] if n else 0.0
        next_tick = interval if interval > 0 else math.inf
        heap = self.heap
        heappop = heapq.heappop
        i = 0
        end = 0.0
        while True:
            t_arrival = arrival[i] if i < n else math.inf
            t_event = heap[0][0] if heap else math.inf
            t_tick = next_tick if next_tick <= last_arrival else math.inf
            if t_event <= t_arrival and t_event <= t_tick:
                if t_event == math.inf:
                    break
                now, _, inst, version = heappop(heap)
                if version == -1:
                    if inst.state == STARTING:
                        self._ready(inst, now)
                    continue
                if version != inst.version:
                    continue
                end = now
                event = inst.on_event(now)
                if event is not None:
                    self._push(event, inst, inst.version)
                elif inst.state == DRAINING and inst.empty():
                    self._stop(inst, now)
            elif t_tick <= t_arrival:
                self.now = t_tick
                self.scaler.tick(self, t_tick)
                next_tick += interval
            else:
                if not rejected[i]:
                    self._route(i, t_arrival)
                i += 1
        end = max(end, last_arrival)
        for inst in self.instances:
            if inst.state != STOPPED:
                inst.stopped_at = end
        return SimResult(workload=self.workload, router=self.router.name, scaler=self.scaler.name,
                         requests=self.requests, rejected=self.rejected, instances=self.instances,
                         actions=self.actions, end_s=end, pools=self.pools)


def simulate(workload: Workload, pools: list[SimPool], router, scaler, predicted_output: np.ndarray) -> SimResult:
    """Replay `workload` on the fleet `scaler` manages, routing with `router`; see the module docstring."""
    return Simulation(workload, pools, router, scaler, predicted_output).run()
