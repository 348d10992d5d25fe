"""Where each deployment's per-instance capacity comes from.

1. an entry of the user's capacity.yaml for (gpu, model, tp), if given;
2. otherwise the profile stage's ONNX predictors (trained on measured operator
   timings, shipped in the package) for the pool's GPU, the model's architecture
   (catalog name or config.json) and TP, at the fleet's SLO and the workload's mean
   tokens per request. The capacity's `source` names the predictor set
   (`onnx:<set id>`, with `:scaled-from-<gpu>` for GPUs predicted from a measured
   sibling); schedule.yaml and the plan table print it.
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
        from preserve_cli.profile.catalog import get_gpu, resolve_model
        from preserve_cli.profile.predicted import predicted_capacity

        computed = predicted_capacity(get_gpu(gpu), resolve_model(model.config), tp, fleet.slo, workload)
        return dataclasses.replace(computed, model=model.name)

    return capacity_of
