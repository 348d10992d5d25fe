"""The plan artifact (typed): replicas per deployment and window, routing, reasons."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from preserve_cli.plan.fleet import Fleet, Pool
from preserve_cli.profile.schema import InstanceCapacity


@dataclass(frozen=True)
class Deployment:
    """One model served from one pool: what a Kubernetes Deployment / KEDA target is."""

    name: str
    pool: Pool
    model: str
    capacity: InstanceCapacity

    @property
    def usd_per_hour(self) -> float:
        return self.pool.usd_per_instance_hour


@dataclass(frozen=True)
class Segment:
    """Replicas in force from `start` to `end` (UTC), cold-start lead already applied."""

    start: datetime
    end: datetime
    replicas: int


@dataclass(frozen=True)
class ModelDemand:
    """Planned demand of one model: the chosen forecast quantile, tokens per window."""

    model: str
    prefill_tokens: np.ndarray
    decode_tokens: np.ndarray
    forecast_model: str


@dataclass
class Plan:
    fleet: Fleet
    window_s: int
    starts: np.ndarray                      # datetime64[s] UTC, one per window
    deployments: list[Deployment]
    demand: dict[str, ModelDemand]          # model -> planned demand
    required: dict[str, np.ndarray]         # deployment -> replicas the demand alone needs
    replicas: dict[str, np.ndarray]         # deployment -> replicas after smoothing (what is emitted)
    routing: dict[str, list[dict[str, float]]]  # model -> per window {deployment: share}
    binding: dict[str, list[str]]           # model -> per window: what limits (prefill/decode/mixed/pool max/min)
    segments: dict[str, list[Segment]]      # deployment -> schedule with cold-start lead
    notes: list[str] = field(default_factory=list)
    inputs: dict[str, str] = field(default_factory=dict)  # what the plan was made from
    solver: dict = field(default_factory=dict)            # planner used, solve time, gap, baseline cost

    def deployment(self, name: str) -> Deployment:
        for d in self.deployments:
            if d.name == name:
                return d
        raise KeyError(name)

    def capacity_tokens(self, window: int, metric: str) -> float:
        """Tokens per window all deployments of all models can serve (sum over pools)."""
        total = 0.0
        for d in self.deployments:
            rate = d.capacity.prefill_tokens_per_s if metric == "prefill_tokens" else d.capacity.decode_tokens_per_s
            total += float(self.replicas[d.name][window]) * rate * self.window_s
        return total

    def gpu_hours(self, deployment: str) -> float:
        d = self.deployment(deployment)
        return float(self.replicas[deployment].sum()) * d.pool.tp * self.window_s / 3600

    def cost_usd(self, deployment: str) -> float:
        d = self.deployment(deployment)
        return float(self.replicas[deployment].sum()) * d.usd_per_hour * self.window_s / 3600
