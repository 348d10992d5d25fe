"""Emitters: Plan -> files. Built-in and third-party ones load through one entry-point group.

A third-party package adds an emitter by declaring, in its own pyproject.toml,

    [project.entry-points."preserve.emitters"]
    my-format = "my_package.module:MyEmitter"

where MyEmitter has `name`, `description` and `render(plan) -> {relative_path: text}`
(see plugins/README.md and the example plugin there).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Protocol, runtime_checkable

from preserve_cli.errors import InputError
from preserve_cli.plan.model import Plan

GROUP = "preserve.emitters"
DEFAULT_EMITTERS = ("schedule", "routing", "keda")


@runtime_checkable
class Emitter(Protocol):
    name: str
    description: str

    def render(self, plan: Plan) -> dict[str, str]:
        """Relative file path -> file content. Must be deterministic."""


@dataclass(frozen=True)
class EmitterInfo:
    name: str
    description: str
    module: str
    distribution: str


def _entry_points() -> dict:
    found = {}
    for ep in entry_points(group=GROUP):
        found.setdefault(ep.name, ep)  # first installation wins; duplicates are reported by `preserve emitters`
    return dict(sorted(found.items()))


def available_emitters() -> list[EmitterInfo]:
    infos = []
    for name, ep in _entry_points().items():
        emitter = load_emitter(name)
        dist = ep.dist.name if getattr(ep, "dist", None) else "?"
        infos.append(EmitterInfo(name=name, description=emitter.description, module=ep.value, distribution=dist))
    return infos


def load_emitter(name: str) -> Emitter:
    eps = _entry_points()
    if name not in eps:
        raise InputError(f"unknown emitter {name!r}", field="--emit",
                         fix=f"use one of {', '.join(eps) or '(none installed)'}; `preserve emitters` lists them")
    cls = eps[name].load()
    emitter = cls() if isinstance(cls, type) else cls
    if not isinstance(emitter, Emitter):
        raise InputError(f"emitter {name!r} ({eps[name].value}) has no name/description/render",
                         field="--emit", fix="fix or uninstall the plugin that provides it")
    return emitter


def parse_emit_list(text: str | None) -> list[str]:
    if not text:
        return list(DEFAULT_EMITTERS)
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise InputError("no emitter named", field="--emit", fix="write e.g. --emit schedule,routing,keda")
    return list(dict.fromkeys(names))


def render_all(plan: Plan, names: list[str]) -> dict[str, str]:
    """Render every chosen emitter; two emitters may not write the same file."""
    files: dict[str, str] = {}
    for name in names:
        for path, text in load_emitter(name).render(plan).items():
            if path in files:
                raise InputError(f"emitters write the same file {path!r}", field="--emit",
                                 fix="drop one of the emitters that writes it")
            files[path] = text
    return dict(sorted(files.items()))
