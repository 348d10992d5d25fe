"""Deterministic, atomic output.

Outputs are written to a temporary file in the target directory and renamed into
place, so a failed run never leaves a half-written file. YAML and JSON are
rendered with a fixed key order and fixed float formatting so that the same
inputs give byte-identical files (GitOps diffs then mean something).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to `target`; rename it onto `target` on success.

    On any exception the temporary file is removed and `target` is untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    # mkstemp creates 0600; outputs should get the usual permissions (0666 less the umask).
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def write_text_atomic(target: str | Path, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def clean_number(value: Any, digits: int = 6) -> Any:
    """Round floats to `digits` significant digits; integral floats become ints.

    Stable float formatting is what makes two runs byte-identical even when the
    last bits of a sum differ with evaluation order.
    """
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return None
        rounded = float(f"{value:.{digits}g}")
        if rounded.is_integer() and abs(rounded) < 2**53:
            return int(rounded)
        return rounded
    if hasattr(value, "item"):  # numpy scalar
        return clean_number(value.item(), digits)
    if isinstance(value, dict):
        return {k: clean_number(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_number(v, digits) for v in value]
    return value


class _Dumper(yaml.SafeDumper):
    """Safe dumper that never emits anchors/aliases (Terraform's yamldecode and
    some k8s tooling reject them) and keeps insertion order."""

    def ignore_aliases(self, data: Any) -> bool:  # noqa: ARG002
        return True


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_Dumper.add_representer(str, _str_presenter)


def dump_yaml(document: Any, *, header: str | None = None) -> str:
    """One YAML document, insertion-ordered keys, cleaned numbers."""
    body = yaml.dump(
        clean_number(document), Dumper=_Dumper, sort_keys=False, default_flow_style=False,
        allow_unicode=True, width=120,
    )
    if header:
        comment = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
        return comment + body
    return body


def dump_yaml_stream(documents: list[Any], *, header: str | None = None) -> str:
    """Several YAML documents separated by `---` (for Kubernetes manifests)."""
    parts = [dump_yaml(doc) for doc in documents]
    text = "---\n" + "---\n".join(parts)
    if header:
        text = "".join(f"# {line}\n" for line in header.splitlines()) + text
    return text


def dump_json(document: Any) -> str:
    return json.dumps(clean_number(document), indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def read_input_text(path: str | Path, *, expected: str) -> str:
    """Read a user's input file as UTF-8; every failure is an InputError.

    `expected` says what the file should be (e.g. "a fleet YAML file"); it goes
    into the fix of the one-line error.
    """
    from preserve_cli.errors import InputError

    name = str(path)
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("file not found", file=name, fix=f"check the path; expected {expected}") from None
    except IsADirectoryError:
        raise InputError("is a directory", file=name, fix=f"pass {expected}") from None
    except PermissionError:
        raise InputError("permission denied", file=name, fix="make the file readable") from None
    except UnicodeDecodeError:
        raise InputError("not a UTF-8 text file", file=name, fix=f"pass {expected}") from None


def read_input_yaml(path: str | Path, *, expected: str) -> Any:
    """safe_load a user's YAML file; syntax errors name the line."""
    from preserve_cli.errors import InputError

    text = read_input_text(path, expected=expected)
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or "syntax error"
        raise InputError(f"invalid YAML: {problem}", file=str(path), line=None if mark is None else mark.line + 1,
                         fix="fix the YAML syntax at that line") from None
    if document is None:
        raise InputError("file is empty", file=str(path), fix=f"pass {expected}")
    return document
