"""Karpenter NodePools: valid against the upstream CRD (and the CEL rules jsonschema skips), with a
GPU limit every planned window fits under and no more than the fleet's GPU cap."""

from __future__ import annotations

import re

from tests.emit.conftest import MULTI_GPU_CAP
from tests.emit.k8s_schemas import crd_schema, validate_stream


def node_pools(run) -> dict[str, dict]:
    documents = validate_stream(run.files["karpenter-nodepools.yaml"], crd_schema("karpenter.sh_nodepools.yaml"),
                                api_version="karpenter.sh/v1", kind="NodePool")
    return {doc["metadata"]["name"]: doc for doc in documents}


def peak_gpus(plan, pool_name: str) -> int:
    """The most GPUs the pool's deployments hold together in any window."""
    serving = [d for d in plan.deployments if d.pool.name == pool_name]
    return max(sum(int(plan.replicas[d.name][k]) * d.pool.tp for d in serving) for k in range(len(plan.starts)))


def test_node_pools_validate_including_the_crds_cel_rules(any_run):
    pools = node_pools(any_run)
    assert set(pools) == {d.pool.name for d in any_run.plan.deployments}
    for pool in pools.values():
        assert "namespace" not in pool["metadata"]  # cluster-scoped
        template = pool["spec"]["template"]["spec"]
        assert all(template["nodeClassRef"][key] for key in ("group", "kind", "name"))
        for requirement in template["requirements"]:
            domain = requirement["key"].split("/")[0]
            assert not domain.endswith("karpenter.sh") and requirement["key"] != "kubernetes.io/hostname"
            assert requirement["operator"] != "In" or requirement["values"]
        # Written always: Karpenter v1.14's CRD requires it.
        assert re.fullmatch(r"([0-9]+(s|m|h))+|Never", pool["spec"]["disruption"]["consolidateAfter"])


def test_gpu_limit_covers_every_window(any_run):
    plan = any_run.plan
    for name, pool in node_pools(any_run).items():
        assert pool["spec"]["limits"]["nvidia.com/gpu"] >= peak_gpus(plan, name) > 0


def test_gpu_limit_sums_the_models_peaks_and_stops_at_the_gpu_cap(multi_run):
    plan = multi_run.plan
    pools = node_pools(multi_run)
    shared = [d for d in plan.deployments if d.pool.name == "h100-eastus"]
    assert {d.model for d in shared} == {"chat", "code"}
    sum_of_peaks = sum(int(plan.replicas[d.name].max()) for d in shared) * 2
    assert sum_of_peaks > MULTI_GPU_CAP  # the cap binds in this fleet
    assert pools["h100-eastus"]["spec"]["limits"]["nvidia.com/gpu"] == MULTI_GPU_CAP
    a100 = plan.deployment("a100-westus")
    assert pools["a100-westus"]["spec"]["limits"]["nvidia.com/gpu"] == int(plan.replicas[a100.name].max())


def test_node_pools_select_the_pools_gpu_and_region(multi_run):
    for name, pool in node_pools(multi_run).items():
        fleet_pool = next(p for p in multi_run.plan.fleet.pools if p.name == name)
        requirements = {r["key"]: r["values"] for r in pool["spec"]["template"]["spec"]["requirements"]}
        assert requirements == {"preserve.dev/gpu": [fleet_pool.gpu], "topology.kubernetes.io/region": [fleet_pool.region]}
        assert pool["spec"]["template"]["metadata"]["labels"] == {"preserve.dev/pool": name}
