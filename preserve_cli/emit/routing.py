"""routing.yaml: ONE YAML document with each model's traffic split per window.

Weights are integers summing to 1000 per window (Gateway API backendRefs take
integer weights); `shares` are the exact fractions. Adjacent windows with the
same weights are merged.
"""

from __future__ import annotations

from preserve_cli.emit.common import GENERATED_BY, header, integer_weights, iso, window_bounds
from preserve_cli.fileio import dump_yaml
from preserve_cli.plan.model import Plan


def routing_document(plan: Plan) -> dict:
    models = {}
    for model, per_window in plan.routing.items():
        backends = {d.name: {"pool": d.pool.name, "region": d.pool.region, "gpu": d.pool.gpu}
                    for d in plan.deployments if d.model == model}
        spans: list[dict] = []
        for k, shares in enumerate(per_window):
            start, stop = window_bounds(plan, k)
            weights = integer_weights(shares)
            if spans and spans[-1]["weights"] == weights and spans[-1]["end"] == iso(start):
                spans[-1]["end"] = iso(stop)
                continue
            spans.append({"start": iso(start), "end": iso(stop), "weights": weights,
                          "shares": {name: round(value, 4) for name, value in shares.items()}})
        models[model] = {"backends": backends, "windows": spans}
    return {
        "schema": "preserve.dev/routing/v1",
        "generated_by": GENERATED_BY,
        "window_s": plan.window_s,
        "weight_total": 1000,
        "models": models,
    }


class RoutingEmitter:
    name = "routing"
    description = "routing.yaml: traffic share per model, deployment and window (one YAML document)"

    def render(self, plan: Plan) -> dict[str, str]:
        return {"routing.yaml": dump_yaml(routing_document(plan), header=header("Routing weights"))}
