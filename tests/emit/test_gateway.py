"""Gateway API: InferencePools and HTTPRoutes valid against both upstream CRDs; per window,
route weights that sum to 1000 and match the plan's routing shares."""

from __future__ import annotations

import pytest

from preserve_cli.emit.common import compact_time, integer_weights
from preserve_cli.emit.gateway import MAX_BACKEND_REFS, http_route
from preserve_cli.errors import InputError
from tests.emit.k8s_schemas import crd_schema, validate_stream


def routes(text: str) -> dict[str, dict]:
    documents = validate_stream(text, crd_schema("gateway.networking.k8s.io_httproutes.yaml"),
                                api_version="gateway.networking.k8s.io/v1", kind="HTTPRoute")
    return {doc["metadata"]["name"]: doc for doc in documents}


def test_inference_pools_validate_and_select_each_deployment(any_run):
    documents = validate_stream(any_run.files["gateway/inferencepools.yaml"],
                                crd_schema("inference.networking.k8s.io_inferencepools.yaml"),
                                api_version="inference.networking.k8s.io/v1", kind="InferencePool")
    assert {doc["metadata"]["name"] for doc in documents} == {d.name for d in any_run.plan.deployments}
    for doc in documents:
        assert doc["spec"]["selector"]["matchLabels"] == {"app": doc["metadata"]["name"]}
        assert doc["spec"]["endpointPickerRef"] == {"name": f"{doc['metadata']['name']}-epp", "port": {"number": 9002}}


def test_every_window_has_routes_whose_weights_match_the_routing_shares(any_run):
    plan = any_run.plan
    pools = {d.name: d.model for d in plan.deployments}
    for k, start in enumerate(plan.starts):
        by_model = routes(any_run.files[f"gateway/windows/{compact_time(start)}.yaml"])
        assert set(by_model) == set(plan.routing)  # same object names in every window: apply updates in place
        for model, route in by_model.items():
            (rule,) = route["spec"]["rules"]
            assert rule["matches"][0]["headers"] == [{"type": "Exact", "name": "X-Gateway-Model-Name", "value": model}]
            weights = {ref["name"]: ref["weight"] for ref in rule["backendRefs"]}
            assert all(ref["kind"] == "InferencePool" and ref["group"] == "inference.networking.k8s.io"
                       for ref in rule["backendRefs"])
            assert set(weights) == {name for name, m in pools.items() if m == model}
            shares = plan.routing[model][k]
            assert weights == integer_weights(shares, 1000)
            if sum(shares.values()) > 0:
                assert sum(weights.values()) == 1000
                assert all(abs(weights[name] / 1000 - share) <= 1e-3 for name, share in shares.items())
            assert route["metadata"]["annotations"]["preserve.dev/window-start"] == str(start) + "Z"


def test_routes_to_apply_now_are_the_first_windows(any_run):
    first = f"gateway/windows/{compact_time(any_run.plan.starts[0])}.yaml"
    assert any_run.files["gateway/httproutes.yaml"] == any_run.files[first]
    window_files = [path for path in any_run.files if path.startswith("gateway/windows/")]
    assert len(window_files) == len(any_run.plan.starts)


def test_weights_follow_the_plan_across_windows(multi_run):
    """The two-model plan shifts chat traffic between regions over the day: the route files differ."""
    plan = multi_run.plan
    chat = [routes(multi_run.files[f"gateway/windows/{compact_time(s)}.yaml"])["chat"] for s in plan.starts]
    distinct = {tuple(ref["weight"] for ref in r["spec"]["rules"][0]["backendRefs"]) for r in chat}
    assert len(distinct) > 1


def test_more_backends_than_an_httproute_takes_is_an_input_error(single_run):
    plan = single_run.plan
    model = next(iter(plan.routing))
    original = plan.routing[model][0]
    plan.routing[model][0] = {f"pool-{i}": 1 / (MAX_BACKEND_REFS + 1) for i in range(MAX_BACKEND_REFS + 1)}
    try:
        with pytest.raises(InputError, match="at most 16 backends"):
            http_route(plan, model, 0)
    finally:
        plan.routing[model][0] = original
