"""The built-in GPU and model catalogs (package data in `profile/catalog/*.yaml`).

`get_gpu("h100-80gb")`, `resolve_model("llama-3-8b")` or `resolve_model("path/config.json")`;
unknown names raise an `InputError` that lists the known ones.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from preserve_cli.errors import InputError
from preserve_cli.profile.hf_config import read_hf_config
from preserve_cli.profile.specs import (
    GpuSpec,
    ModelSpec,
    gpu_spec_from_mapping,
    model_spec_from_mapping,
)

__all__ = ["GpuSpec", "ModelSpec", "get_gpu", "list_gpus", "list_models", "resolve_model"]

_CATALOG_DIR = resources.files("preserve_cli.profile") / "catalog"


def _load(name: str, top_key: str) -> tuple[str, dict[str, Any]]:
    resource = _CATALOG_DIR / name
    file = f"preserve_cli/profile/catalog/{name}"
    document = yaml.safe_load(resource.read_text(encoding="utf-8"))
    entries = document.get(top_key) if isinstance(document, dict) else None
    if not isinstance(entries, dict) or not entries:
        raise InputError(f"expected a mapping under {top_key!r}", file=file, field=top_key,
                         fix="reinstall preserve-cli; the packaged catalog is damaged")
    return file, entries


@functools.cache
def _gpus() -> dict[str, GpuSpec]:
    file, entries = _load("gpus.yaml", "gpus")
    return {key: gpu_spec_from_mapping(key, entry, file=file) for key, entry in sorted(entries.items())}


@functools.cache
def _models() -> dict[str, ModelSpec]:
    file, entries = _load("models.yaml", "models")
    models = {}
    for key, entry in sorted(entries.items()):
        prefix = f"models.{key}."
        dtype_bytes = entry.get("dtype_bytes")
        if dtype_bytes not in (1, 2, 4):
            raise InputError(f"{dtype_bytes!r} is not 1, 2 or 4", file=file, field=prefix + "dtype_bytes",
                             fix="write the bytes per weight the model is served in")
        sources = entry.get("sources") or {}
        models[key] = model_spec_from_mapping(
            key, entry, file=file, prefix=prefix, hf_repo=str(entry.get("hf_repo", "")),
            dtype_bytes=dtype_bytes, source=str(sources.get("config", "")),
        )
    return models


def list_gpus() -> list[GpuSpec]:
    return list(_gpus().values())


def list_models() -> list[ModelSpec]:
    return list(_models().values())


def get_gpu(name: str) -> GpuSpec:
    gpus = _gpus()
    spec = gpus.get(name.strip().lower())
    if spec is None:
        raise InputError(f"unknown GPU {name!r}", field="gpu",
                         fix=f"use one of: {', '.join(gpus)} (see `preserve profile gpus`)")
    return spec


def _looks_like_path(value: str) -> bool:
    return value.endswith(".json") or "/" in value or "\\" in value or Path(value).is_file()


def resolve_model(name_or_config_path: str) -> ModelSpec:
    """A catalog model by name, or a Hugging Face config.json given by path."""
    value = name_or_config_path.strip()
    models = _models()
    if value.lower() in models:
        return models[value.lower()]
    if _looks_like_path(value):
        return read_hf_config(value)
    raise InputError(f"unknown model {name_or_config_path!r}", field="model",
                     fix=f"use one of: {', '.join(models)}, or the path of a Hugging Face config.json")
