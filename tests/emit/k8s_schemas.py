"""Upstream schemas from ../shared/schemas, ready for jsonschema (imported by the emitter tests)."""

from __future__ import annotations

import json
from functools import cache

import jsonschema
import yaml

from tests.conftest import SHARED

SCHEMAS = SHARED / "schemas"


@cache
def crd_schema(file_name: str) -> jsonschema.Draft202012Validator:
    """A validator for the openAPIV3Schema of the CRD's storage version (built once: the
    HTTPRoute schema is large, and checking the schema itself on every call is slow)."""
    document = yaml.safe_load((SCHEMAS / file_name).read_text())
    (version,) = [v for v in document["spec"]["versions"] if v.get("storage")]
    schema = version["schema"]["openAPIV3Schema"]
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@cache
def hpa_schema() -> jsonschema.Draft7Validator:
    """kubeconform's standalone-strict HPA schema (its `$schema` names no draft; draft 7 reads it)."""
    schema = json.loads((SCHEMAS / "horizontalpodautoscaler-autoscaling-v2.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def validate_stream(text: str, validator, *, api_version: str, kind: str) -> list[dict]:
    """Every document of a YAML stream valid against the schema and of the right kind; returns them."""
    documents = list(yaml.safe_load_all(text))
    assert documents, "empty stream"
    for document in documents:
        assert document["apiVersion"] == api_version and document["kind"] == kind
        validator.validate(document)
    return documents
