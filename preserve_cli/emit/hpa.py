"""autoscaling/v2 HorizontalPodAutoscalers, one per deployment: the plan's envelope.

An HPA has no schedule, so it cannot follow the plan hour by hour (KEDA and
AIBrix schedules do that). What it carries instead, safe to leave applied for
the whole horizon:

* minReplicas = the fewest replicas the plan holds in any window (at least 1:
  the HPA API refuses 0 without the alpha HPAScaleToZero gate). It never holds
  GPUs the plan does not want at any hour.
* maxReplicas = the pool max: the plan covers a forecast quantile, so demand
  beats it some of the time; the metric may then scale up to what the pool allows.
* metric: vLLM's KV-cache use per pod, target 0.5 average (SageServe's scale-out
  threshold, research/sageserve.md). vLLM exports it as `vllm:kv_cache_usage_perc`;
  the HPA reads it through the custom metrics API, so a metrics adapter (e.g.
  prometheus-adapter) must expose it under the name below.
* scale-down pace = the plan's own step limit (planning.max_step_change): at most
  that fraction of the replicas, or one replica, per window (the HPA caps a
  policy's period at 1800 s).
"""

from __future__ import annotations

from preserve_cli.emit.common import (
    deployment_labels,
    header,
    object_metadata,
    replica_floor,
    replica_peak,
)
from preserve_cli.fileio import dump_yaml_stream
from preserve_cli.plan.model import Deployment, Plan

KV_CACHE_METRIC = "vllm_kv_cache_usage_perc"
TARGET_KV_USE = "500m"          # 0.5 as a Kubernetes quantity
MAX_POLICY_PERIOD_S = 1800      # HPA validation: 0 < periodSeconds <= 1800


def scale_down_behavior(plan: Plan) -> dict | None:
    step = plan.fleet.planning.max_step_change
    if step <= 0:  # smoothing off: the plan has no pace to keep
        return None
    period = min(plan.window_s, MAX_POLICY_PERIOD_S)
    percent = max(1, min(100, round(step * 100)))
    return {"scaleDown": {
        # Max: whichever allows the larger drop, as the plan's step is "the fraction, at least one replica".
        "selectPolicy": "Max",
        "policies": [{"type": "Percent", "value": percent, "periodSeconds": period},
                     {"type": "Pods", "value": 1, "periodSeconds": period}],
    }}


def horizontal_pod_autoscaler(plan: Plan, deployment: Deployment) -> dict:
    annotations = {
        "preserve.dev/planned-floor": str(replica_floor(plan, deployment)),
        "preserve.dev/planned-peak": str(replica_peak(plan, deployment)),
    }
    spec = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment.name},
        "minReplicas": max(1, replica_floor(plan, deployment)),
        "maxReplicas": deployment.pool.max,
        "metrics": [{
            "type": "Pods",
            "pods": {"metric": {"name": KV_CACHE_METRIC},
                     "target": {"type": "AverageValue", "averageValue": TARGET_KV_USE}},
        }],
    }
    behavior = scale_down_behavior(plan)
    if behavior:
        spec["behavior"] = behavior
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": object_metadata(plan, deployment.name, deployment_labels(deployment), annotations),
        "spec": spec,
    }


class HpaEmitter:
    name = "hpa"
    description = ("hpa.yaml: an autoscaling/v2 HPA per deployment: min = the plan's floor, max = pool max, "
                   "on KV-cache use")

    def render(self, plan: Plan) -> dict[str, str]:
        documents = [horizontal_pod_autoscaler(plan, d) for d in plan.deployments]
        return {"hpa.yaml": dump_yaml_stream(documents, header=header("HorizontalPodAutoscalers"))}
