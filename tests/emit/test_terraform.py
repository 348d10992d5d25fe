"""Terraform: terraform.yaml is ONE plain YAML document (what yamldecode accepts) holding valid
manifests, the tfvars match the module's variables, and every key the examples/terraform module
reads exists in the emitted files (checked statically: there is no terraform binary here)."""

from __future__ import annotations

import json
import re

import hcl2
import pytest
import yaml

from tests.conftest import REPO
from tests.emit.k8s_schemas import crd_schema

MODULE = REPO / "examples" / "terraform"
IDENTIFIER_PATH = r"([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)"


def has_path(document, dotted: str) -> bool:
    for key in dotted.split("."):
        if not isinstance(document, dict) or key not in document:
            return False
        document = document[key]
    return True


@pytest.fixture(scope="module")
def module() -> dict[str, dict]:
    """Each .tf file of the example module, parsed (a syntax error fails here)."""
    files = {path.name: hcl2.loads(path.read_text()) for path in sorted(MODULE.glob("*.tf"))}
    assert set(files) == {"main.tf", "variables.tf", "outputs.tf"}
    return files


def unquote(label: str) -> str:
    """python-hcl2 keeps block labels as written: '"schedule"'."""
    return label.strip('"')


def variables(module) -> dict[str, dict]:
    return {unquote(name): spec for block in module["variables.tf"]["variable"] for name, spec in block.items()}


def test_terraform_yaml_is_one_plain_document(any_run):
    text = any_run.files["terraform.yaml"]
    assert len(list(yaml.compose_all(text))) == 1
    kinds = {type(token).__name__ for token in yaml.scan(text)}
    assert not kinds & {"AnchorToken", "AliasToken", "TagToken", "DocumentStartToken"}
    document = yaml.safe_load(text)
    assert document["schema"] == "preserve.dev/terraform/v1"
    assert set(document["deployments"]) == {d.name for d in any_run.plan.deployments}
    json.dumps(document)  # only strings, numbers, lists and maps: what yamldecode maps to HCL values


def test_embedded_manifests_validate_against_the_crds(any_run):
    document = yaml.safe_load(any_run.files["terraform.yaml"])
    for deployment in document["deployments"].values():
        crd_schema("keda.sh_scaledobjects.yaml").validate(deployment["keda_scaled_object"])
    for pool in document["pools"].values():
        crd_schema("karpenter.sh_nodepools.yaml").validate(pool["karpenter_node_pool"])
        assert pool["karpenter_node_pool"]["spec"]["limits"]["nvidia.com/gpu"] == pool["gpu_limit"]
    # The same objects the keda and karpenter emitters write.
    assert [d["keda_scaled_object"] for d in document["deployments"].values()] == \
        list(yaml.safe_load_all(any_run.files["keda-scaledobjects.yaml"]))
    assert [p["karpenter_node_pool"] for p in document["pools"].values()] == \
        list(yaml.safe_load_all(any_run.files["karpenter-nodepools.yaml"]))


def test_tfvars_set_exactly_the_modules_required_variables(any_run, module):
    tfvars = json.loads(any_run.files["preserve.auto.tfvars.json"])
    declared = variables(module)
    required = {name for name, spec in declared.items() if "default" not in spec}
    assert set(tfvars) <= set(declared)
    assert required <= set(tfvars)
    document = yaml.safe_load(any_run.files["terraform.yaml"])
    # The module's preconditions compare these; they hold for files of one run.
    assert tfvars["preserve_plan_start"] == document["start"]
    assert tfvars["preserve_replicas_now"] == {n: d["replicas_now"] for n, d in document["deployments"].items()}
    assert tfvars["preserve_gpu_limits"] == {n: p["gpu_limit"] for n, p in document["pools"].items()}
    plan = any_run.plan
    assert tfvars["preserve_replicas_now"] == {d.name: int(plan.replicas[d.name][0]) for d in plan.deployments}


def test_every_reference_in_the_module_resolves(any_run, module):
    document = yaml.safe_load(any_run.files["terraform.yaml"])
    declared = variables(module)
    checked = 0
    for name in ("main.tf", "outputs.tf"):
        text = json.dumps(module[name])
        for variable in re.findall(r"\bvar\.([A-Za-z_][A-Za-z0-9_]*)", text):
            assert variable in declared, f"{name}: var.{variable} is not declared"
        for path in re.findall(r"\blocal\.plan\." + IDENTIFIER_PATH, text):
            assert has_path(document, path), f"{name}: local.plan.{path} is not in terraform.yaml"
            checked += 1
    resources = [body for block in module["main.tf"]["resource"]
                 for by_name in block.values() for body in by_name.values()]
    for body in resources:
        text = json.dumps(body)
        source = re.search(r"local\.plan\.([A-Za-z_]+)", json.dumps(body.get("for_each", "")))
        entries = document[source.group(1)].values() if source else []
        for path in re.findall(r"\beach\.value\." + IDENTIFIER_PATH, text):
            assert source, f"each.value.{path} in a resource without for_each over the plan"
            assert all(has_path(entry, path) for entry in entries), f"each.value.{path} missing in an entry"
            checked += 1
    # for-expressions: `for key, value in local.plan.<map> : ... value.<path>`
    for name in ("main.tf", "outputs.tf"):
        text = json.dumps(module[name])
        for _, value, source in re.findall(r"for (\w+), (\w+) in local\.plan\.(\w+)", text):
            for path in re.findall(rf"\b{value}\." + IDENTIFIER_PATH, text):
                assert all(has_path(entry, path) for entry in document[source].values()), f"{value}.{path}"
                checked += 1
    assert checked >= 20  # the module does read the plan


def test_module_applies_the_manifests_for_each_deployment_and_pool(module):
    resources = {(unquote(kind), unquote(name)): body for block in module["main.tf"]["resource"]
                 for kind, by_name in block.items() for name, body in by_name.items()}
    assert "local.plan.deployments" in resources[("kubernetes_config_map_v1", "schedule")]["for_each"]
    assert "each.value.keda_scaled_object" in resources[("kubernetes_manifest", "keda_scaled_object")]["manifest"]
    assert "each.value.karpenter_node_pool" in resources[("kubernetes_manifest", "karpenter_node_pool")]["manifest"]
    (local,) = module["main.tf"]["locals"]
    assert "yamldecode(file(" in local["plan"]
