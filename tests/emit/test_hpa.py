"""HPAs: valid autoscaling/v2 objects whose bounds hold the plan at every window."""

from __future__ import annotations

from tests.emit.k8s_schemas import hpa_schema, validate_stream


def hpas(run) -> dict[str, dict]:
    documents = validate_stream(run.files["hpa.yaml"], hpa_schema(),
                                api_version="autoscaling/v2", kind="HorizontalPodAutoscaler")
    return {doc["spec"]["scaleTargetRef"]["name"]: doc for doc in documents}


def test_hpas_validate_against_the_kubernetes_schema(any_run):
    assert set(hpas(any_run)) == {d.name for d in any_run.plan.deployments}


def test_bounds_are_the_plans_floor_and_the_pool_max(any_run):
    plan = any_run.plan
    for name, hpa in hpas(any_run).items():
        replicas = plan.replicas[name]
        spec = hpa["spec"]
        # Never holds more than the plan wants in any window (1 is the HPA's lowest minimum) ...
        assert spec["minReplicas"] == max(1, int(replicas.min()))
        assert all(spec["minReplicas"] <= max(1, int(r)) for r in replicas)
        # ... and can reach every planned count, and beyond it up to the pool max.
        assert spec["maxReplicas"] == plan.deployment(name).pool.max >= int(replicas.max())
        assert hpa["metadata"]["annotations"]["preserve.dev/planned-peak"] == str(int(replicas.max()))


def test_scale_down_keeps_the_plans_step_limit(single_run):
    plan = single_run.plan
    assert plan.fleet.planning.max_step_change == 0.5
    for hpa in hpas(single_run).values():
        down = hpa["spec"]["behavior"]["scaleDown"]
        assert down["selectPolicy"] == "Max"
        assert {(p["type"], p["value"]) for p in down["policies"]} == {("Percent", 50), ("Pods", 1)}
        assert all(0 < p["periodSeconds"] <= 1800 for p in down["policies"])


def test_hpa_metric_is_kv_cache_use_per_pod(single_run):
    for hpa in hpas(single_run).values():
        (metric,) = hpa["spec"]["metrics"]
        assert metric["type"] == "Pods"
        assert metric["pods"]["metric"]["name"] == "vllm_kv_cache_usage_perc"
        assert metric["pods"]["target"] == {"type": "AverageValue", "averageValue": "500m"}
