"""The example fleets end to end: every model covered in every window within pool and GPU limits,
and every manifest valid against the upstream schemas (../shared/schemas)."""

from __future__ import annotations

import pytest
import yaml

from preserve_cli.plan.pipeline import run_plan
from tests.conftest import REPO
from tests.emit.k8s_schemas import crd_schema, hpa_schema, validate_stream

ALL_EMITTERS = ["schedule", "routing", "keda", "aibrix", "hpa", "gateway", "karpenter", "terraform"]
FLEETS = {
    "default": ([], REPO / "examples" / "fleet.yaml"),
    "single-pool": ([], REPO / "examples" / "fleets" / "single-pool.yaml"),
    "multi-region": ([], REPO / "examples" / "fleets" / "multi-region.yaml"),  # names its own demand file
}


@pytest.fixture(scope="module", params=sorted(FLEETS))
def example(request):
    inputs, fleet = FLEETS[request.param]
    return request.param, run_plan(inputs, fleet_path=str(fleet), emit=ALL_EMITTERS)


def test_capacity_covers_every_model_within_limits(example):
    _, run = example
    plan = run.plan
    fleet = plan.fleet
    scale = (1 + fleet.planning.headroom) / plan.window_s
    for k in range(len(plan.starts)):
        for model, demand in plan.demand.items():
            prefill = demand.prefill_tokens[k] * scale
            decode = demand.decode_tokens[k] * scale
            if prefill + decode == 0:
                continue
            covered = 0.0
            for d in plan.deployments:
                if d.model != model:
                    continue
                cap = d.capacity
                mixed = (prefill + decode) / cap.mixed_tokens_per_s if cap.mixed_tokens_per_s else \
                    prefill / cap.prefill_tokens_per_s + decode / cap.decode_tokens_per_s
                need = max(prefill / cap.prefill_tokens_per_s, decode / cap.decode_tokens_per_s, mixed)
                covered += int(plan.replicas[d.name][k]) / need
            assert covered >= 1 - 1e-6, (model, k)
        for pool in fleet.pools:
            total = sum(int(plan.replicas[d.name][k]) for d in plan.deployments if d.pool.name == pool.name)
            assert pool.min <= total <= pool.max
        for limit in fleet.gpu_limits:
            used = sum(int(plan.replicas[d.name][k]) * d.pool.tp for d in plan.deployments
                       if d.pool.gpu == limit.gpu and d.pool.region == limit.region)
            assert used <= limit.max_gpus


def test_every_manifest_validates(example):
    _, run = example
    files = run.files
    validate_stream(files["keda-scaledobjects.yaml"], crd_schema("keda.sh_scaledobjects.yaml"),
                    api_version="keda.sh/v1alpha1", kind="ScaledObject")
    validate_stream(files["aibrix-podautoscalers.yaml"], crd_schema("autoscaling.aibrix.ai_podautoscalers.yaml"),
                    api_version="autoscaling.aibrix.ai/v1alpha1", kind="PodAutoscaler")
    validate_stream(files["hpa.yaml"], hpa_schema(), api_version="autoscaling/v2", kind="HorizontalPodAutoscaler")
    validate_stream(files["karpenter-nodepools.yaml"], crd_schema("karpenter.sh_nodepools.yaml"),
                    api_version="karpenter.sh/v1", kind="NodePool")
    validate_stream(files["gateway/inferencepools.yaml"], crd_schema("inference.networking.k8s.io_inferencepools.yaml"),
                    api_version="inference.networking.k8s.io/v1", kind="InferencePool")
    routes = [name for name in files if name.startswith("gateway/") and "inferencepools" not in name]
    assert routes
    for name in routes:
        validate_stream(files[name], crd_schema("gateway.networking.k8s.io_httproutes.yaml"),
                        api_version="gateway.networking.k8s.io/v1", kind="HTTPRoute")
    terraform = list(yaml.safe_load_all(files["terraform.yaml"]))
    assert len(terraform) == 1  # yamldecode needs exactly one document


def test_reruns_are_byte_identical(example):
    name, run = example
    inputs, fleet = FLEETS[name]
    again = run_plan(inputs, fleet_path=str(fleet), emit=ALL_EMITTERS)
    assert again.files == run.files
