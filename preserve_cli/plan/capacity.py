"""Where each deployment's per-instance capacity comes from.

1. an entry of the user's capacity.yaml for (gpu, model, tp), if given;
2. otherwise the profile stage's model for the pool's GPU, the model's
   architecture (catalog name or config.json) and TP, at the fleet's SLO and the
   workload's mean tokens per request.
"""

from __future__ import annotations

import dataclasses

from preserve_cli.plan.fleet import Fleet, ModelEntry
from preserve_cli.plan.planner import CapacityProvider
from preserve_cli.profile.schema import InstanceCapacity, read_capacities
from preserve_cli.profile.slo import WorkloadShape


def capacity_provider(fleet: Fleet, capacity_path: str | None) -> CapacityProvider:
    given: dict[tuple[str, str, int], InstanceCapacity] = {}
    if capacity_path:
        for entry in read_capacities(capacity_path):
            given[entry.key] = entry

    def capacity_of(gpu: str, model: ModelEntry, tp: int, workload: WorkloadShape) -> InstanceCapacity:
        for key in ((gpu, model.name, tp), (gpu, model.config, tp)):
            if key in given:
                return dataclasses.replace(given[key], model=model.name)
        from preserve_cli.profile.first_order import first_order_capacity
        from preserve_cli.profile.catalog import get_gpu, resolve_model

        computed = first_order_capacity(get_gpu(gpu), resolve_model(model.config), tp, fleet.slo, workload)
        return dataclasses.replace(computed, model=model.name)

    return capacity_of
