"""Gateway API: an InferencePool per deployment and, per model, an HTTPRoute whose
backendRefs weight the model's traffic over its InferencePools.

Weights change per window; an HTTPRoute is static. Scheme:

* `gateway/inferencepools.yaml` — the pools (static; apply once).
* `gateway/httproutes.yaml` — the routes of the plan's first window: apply now.
* `gateway/windows/<UTC start, e.g. 20250120T0000Z>.yaml` — the routes of every
  window, one file each. The object names do not change between files, so a
  scheduler that applies the current window's file at each window start
  (`kubectl apply -f gateway/windows/$(date -u +%Y%m%dT%H%MZ).yaml`) updates the
  weights in place. One file per window rather than per run of equal weights:
  a nightly re-plan then rewrites every future window's file, and no file from an
  older plan can shadow a newer one.

Weights are integers summing to 1000 per route (largest remainder, the same as
routing.yaml). Routing by model follows the Inference Extension's body-based
router, which copies the request's `model` field into the `X-Gateway-Model-Name`
header; the route matches that header. Defaults taken from the Inference
Extension's `inferencepool` Helm chart: Gateway `inference-gateway`, model
servers on port 8000 (vLLM's default), endpoint picker `<pool>-epp` on port 9002,
request timeout 300 s. Pods are selected by `app: <deployment>`.
"""

from __future__ import annotations

from preserve_cli.emit.common import (
    MANAGED_BY,
    compact_time,
    deployment_labels,
    header,
    integer_weights,
    iso,
    object_metadata,
    window_bounds,
)
from preserve_cli.errors import InputError
from preserve_cli.fileio import dump_yaml_stream
from preserve_cli.plan.model import Deployment, Plan

GATEWAY_NAME = "inference-gateway"
MODEL_HEADER = "X-Gateway-Model-Name"
MODEL_SERVER_PORT = 8000
ENDPOINT_PICKER_PORT = 9002
REQUEST_TIMEOUT = "300s"
WEIGHT_TOTAL = 1000
MAX_BACKEND_REFS = 16  # HTTPRoute CRD: rules[].backendRefs maxItems


def inference_pool(plan: Plan, deployment: Deployment) -> dict:
    return {
        "apiVersion": "inference.networking.k8s.io/v1",
        "kind": "InferencePool",
        "metadata": object_metadata(plan, deployment.name, deployment_labels(deployment)),
        "spec": {
            "selector": {"matchLabels": {"app": deployment.name}},
            "targetPorts": [{"number": MODEL_SERVER_PORT}],
            "endpointPickerRef": {"name": f"{deployment.name}-epp", "port": {"number": ENDPOINT_PICKER_PORT}},
        },
    }


def http_route(plan: Plan, model: str, k: int) -> dict:
    shares = plan.routing[model][k]
    if len(shares) > MAX_BACKEND_REFS:
        raise InputError(f"model {model!r} is served by {len(shares)} deployments; an HTTPRoute rule takes at most "
                         f"{MAX_BACKEND_REFS} backends", file=plan.fleet.source, field=f"models.{model}",
                         fix=f"serve the model from at most {MAX_BACKEND_REFS} pools (pools[].models, models.{model}.regions)")
    weights = integer_weights(shares, WEIGHT_TOTAL)
    start, end = window_bounds(plan, k)
    annotations = {"preserve.dev/window-start": iso(start), "preserve.dev/window-end": iso(end)}
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": object_metadata(plan, model, {**MANAGED_BY, "preserve.dev/model": model}, annotations),
        "spec": {
            "parentRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": GATEWAY_NAME}],
            "rules": [{
                "matches": [{"path": {"type": "PathPrefix", "value": "/"},
                             "headers": [{"type": "Exact", "name": MODEL_HEADER, "value": model}]}],
                "backendRefs": [{"group": "inference.networking.k8s.io", "kind": "InferencePool",
                                 "name": name, "weight": weights[name]} for name in sorted(weights)],
                "timeouts": {"request": REQUEST_TIMEOUT},
            }],
        },
    }


def routes_for_window(plan: Plan, k: int) -> str:
    start, end = window_bounds(plan, k)
    documents = [http_route(plan, model, k) for model in sorted(plan.routing)]
    return dump_yaml_stream(documents, header=header(f"HTTPRoutes for {iso(start)} to {iso(end)}"))


class GatewayEmitter:
    name = "gateway"
    description = ("gateway/: Gateway API InferencePool per deployment, HTTPRoute per model with weighted "
                   "backendRefs (now, and one file per window)")

    def render(self, plan: Plan) -> dict[str, str]:
        files = {"gateway/inferencepools.yaml": dump_yaml_stream(
            [inference_pool(plan, d) for d in plan.deployments], header=header("InferencePools"))}
        for k, start in enumerate(plan.starts):
            files[f"gateway/windows/{compact_time(start)}.yaml"] = routes_for_window(plan, k)
        files["gateway/httproutes.yaml"] = files[f"gateway/windows/{compact_time(plan.starts[0])}.yaml"]
        return files
