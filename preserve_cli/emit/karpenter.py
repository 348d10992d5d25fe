"""Karpenter NodePools (karpenter.sh/v1), one per GPU pool, capping its GPUs at what the plan uses.

`spec.limits["nvidia.com/gpu"]` = the sum over the models the pool serves of each
model's peak replicas × tp over the horizon (each model's autoscaler may reach its
own peak independently), but never more than the pool max × tp nor the fleet's
GPU cap for that GPU type and region. Every window of the plan fits under it; a
pool the plan never uses gets 0. This caps GPU spend at the plan's budget: pods a
reactive autoscaler adds beyond the plan's peak stay Pending (raise the limit by
hand for reactive headroom).

Node selection is kept cloud-neutral: the requirements carry the region
(`topology.kubernetes.io/region`, a well-known label) and `preserve.dev/gpu`, a
user-domain label Karpenter writes onto the nodes it creates, so a Deployment can
pin to the pool with a nodeSelector. That label does not choose the hardware:
the node class (or a provider label such as AWS's
`karpenter.k8s.aws/instance-gpu-name`, added by hand) does. The nodeClassRef
defaults to the EC2NodeClass `default` of Karpenter's AWS getting-started guide;
change it for another provider. GPU nodes carry the `nvidia.com/gpu:NoSchedule`
taint of Karpenter's GPU examples, so only pods that tolerate it land there
(clusters with the ExtendedResourceToleration admission plugin add the
toleration to any pod that requests nvidia.com/gpu).
"""

from __future__ import annotations

from preserve_cli.emit.common import MANAGED_BY, header, object_metadata, replica_peak
from preserve_cli.fileio import dump_yaml_stream
from preserve_cli.plan.fleet import Pool
from preserve_cli.plan.model import Plan
from preserve_cli.plan.smoothing import cold_start_lead_s

GPU_RESOURCE = "nvidia.com/gpu"
GPU_LABEL = "preserve.dev/gpu"
REGION_LABEL = "topology.kubernetes.io/region"
UNSET_REGION = "default"  # what the fleet reader fills in when a pool names no region
DEFAULT_NODE_CLASS = {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "default"}


def pool_gpu_limit(plan: Plan, pool: Pool) -> int:
    serving = [d for d in plan.deployments if d.pool.name == pool.name]
    limit = min(sum(replica_peak(plan, d) for d in serving), pool.max) * pool.tp
    for cap in plan.fleet.gpu_limits:
        if cap.gpu == pool.gpu and cap.region == pool.region:
            limit = min(limit, cap.max_gpus)
    return limit


def node_pool(plan: Plan, pool: Pool) -> dict:
    requirements = [{"key": GPU_LABEL, "operator": "In", "values": [pool.gpu]}]
    if pool.region != UNSET_REGION:
        requirements.append({"key": REGION_LABEL, "operator": "In", "values": [pool.region]})
    labels = {**MANAGED_BY, "preserve.dev/pool": pool.name}
    metadata = object_metadata(plan, pool.name, labels)
    del metadata["namespace"]  # NodePools are cluster-scoped
    return {
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodePool",
        "metadata": metadata,
        "spec": {
            "template": {
                "metadata": {"labels": {"preserve.dev/pool": pool.name}},
                "spec": {
                    "nodeClassRef": dict(DEFAULT_NODE_CLASS),
                    "requirements": requirements,
                    "taints": [{"key": GPU_RESOURCE, "effect": "NoSchedule"}],
                },
            },
            "limits": {GPU_RESOURCE: pool_gpu_limit(plan, pool)},
            "disruption": {
                # Only empty nodes go: consolidating an under-used GPU node would evict
                # serving replicas. An empty node stays one cold-start lead, the time the
                # plan starts scale-ups early, so an imminent scale-up can reuse it.
                # Always written: the v1.14 release's CRD requires consolidateAfter.
                "consolidationPolicy": "WhenEmpty",
                "consolidateAfter": f"{cold_start_lead_s(pool.cold_start_s)}s",
            },
        },
    }


def planned_pools(plan: Plan) -> list[Pool]:
    """Pools that serve at least one deployment of the plan, in fleet order."""
    used = {d.pool.name for d in plan.deployments}
    return [p for p in plan.fleet.pools if p.name in used]


class KarpenterEmitter:
    name = "karpenter"
    description = "karpenter-nodepools.yaml: a Karpenter NodePool per pool, GPU limit = the plan's peak GPUs"

    def render(self, plan: Plan) -> dict[str, str]:
        documents = [node_pool(plan, p) for p in planned_pools(plan)]
        return {"karpenter-nodepools.yaml": dump_yaml_stream(documents, header=header("Karpenter NodePools"))}
