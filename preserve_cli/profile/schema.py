"""The capacity artifact: what one instance (a TP group of GPUs) can serve within the SLO.

File format (`capacity.yaml`, documented in docs/formats.md):

    capacities:
      - gpu: h100-80gb
        model: llama-2-7b
        tp: 1
        prefill_tokens_per_s: 18000     # mu_p: prompt tokens/s within the TTFT target
        decode_tokens_per_s: 2500       # mu_d: generated tokens/s within the TPOT target
        mixed_tokens_per_s: 2900        # mu_t (optional): prompt+generated tokens/s when both share the GPU
        kv_tokens: 120000               # M: KV-cache capacity in tokens
        max_batch: 256                  # largest decode batch that meets the TPOT target
        source: first-order             # how the numbers were obtained

Users may write this file by hand (e.g. from their own load tests) and pass it
with `preserve plan --capacity capacity.yaml`; entries given there take precedence
over computed ones.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


from preserve_cli.errors import InputError
from preserve_cli.fileio import dump_yaml, read_input_yaml, write_text_atomic


@dataclass(frozen=True)
class InstanceCapacity:
    gpu: str
    model: str
    tp: int
    prefill_tokens_per_s: float
    decode_tokens_per_s: float
    # None: not measured; the planner then assumes prefill and decode time-share
    # the GPU, i.e. P/mu_p + D/mu_d <= replicas, at each window's own token mix.
    mixed_tokens_per_s: float | None
    kv_tokens: int
    max_batch: int
    source: str = "capacity.yaml"
    assumptions: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.gpu, self.model, self.tp)


_NUMERIC = ("prefill_tokens_per_s", "decode_tokens_per_s", "mixed_tokens_per_s", "kv_tokens", "max_batch")


def capacities_to_yaml(capacities: list[InstanceCapacity]) -> str:
    entries = []
    for c in sorted(capacities, key=lambda c: c.key):
        entry = asdict(c)
        if not entry["assumptions"]:
            entry.pop("assumptions")
        if entry["mixed_tokens_per_s"] is None:
            entry.pop("mixed_tokens_per_s")
        entries.append(entry)
    return dump_yaml({"capacities": entries})


def write_capacities(capacities: list[InstanceCapacity], path: str | Path) -> None:
    write_text_atomic(path, capacities_to_yaml(capacities))


def read_capacities(path: str | Path) -> list[InstanceCapacity]:
    path = str(path)
    document = read_input_yaml(path, expected="a capacity YAML file (see docs/formats.md)")
    if not isinstance(document, dict) or not isinstance(document.get("capacities"), list):
        raise InputError("expected a mapping with a 'capacities' list", file=path, field="capacities",
                         fix="see docs/formats.md for the capacity.yaml layout")
    result = []
    for index, entry in enumerate(document["capacities"]):
        where = f"capacities[{index}]"
        if not isinstance(entry, dict):
            raise InputError("each entry must be a mapping", file=path, field=where,
                             fix="write gpu:, model:, tp: and the capacity numbers")
        for name in ("gpu", "model", *_NUMERIC):
            if name not in entry:
                if name == "mixed_tokens_per_s" and "prefill_tokens_per_s" in entry and "decode_tokens_per_s" in entry:
                    continue
                raise InputError(f"missing {name!r}", file=path, field=f"{where}.{name}",
                                 fix="see docs/formats.md for the capacity.yaml layout")
        values = {}
        for name in _NUMERIC:
            if name not in entry:
                continue
            value = entry[name]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise InputError(f"{value!r} is not a positive number", file=path, field=f"{where}.{name}",
                                 fix="write a positive number")
            values[name] = value
        tp = entry.get("tp", 1)
        if isinstance(tp, bool) or not isinstance(tp, int) or tp < 1:
            raise InputError(f"{tp!r} is not a positive integer", file=path, field=f"{where}.tp",
                             fix="write the tensor-parallel degree, e.g. 1, 2, 4, 8")
        result.append(InstanceCapacity(
            gpu=str(entry["gpu"]), model=str(entry["model"]), tp=tp,
            prefill_tokens_per_s=float(values["prefill_tokens_per_s"]),
            decode_tokens_per_s=float(values["decode_tokens_per_s"]),
            mixed_tokens_per_s=float(values["mixed_tokens_per_s"]) if "mixed_tokens_per_s" in values else None,
            kv_tokens=int(values["kv_tokens"]), max_batch=int(values["max_batch"]),
            source=str(entry.get("source", "capacity.yaml")),
            assumptions=dict(entry.get("assumptions") or {}),
        ))
    return result
