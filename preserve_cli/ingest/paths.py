"""Which files a list of PATHS arguments means: files, folders (every file directly
inside, sorted) and glob patterns (sorted matches), in the order given, each once."""

from __future__ import annotations

import glob
from collections.abc import Iterable
from pathlib import Path

from preserve_cli.errors import InputError

_GLOB_CHARS = frozenset("*?[")


def resolve_paths(paths: str | Path | Iterable[str | Path]) -> list[Path]:
    items = [paths] if isinstance(paths, (str, Path)) else list(paths)
    if not items:
        raise InputError("no input path given", field="PATHS", fix="pass log files, folders or glob patterns")
    files: list[Path] = []
    seen: set[Path] = set()
    for item in items:
        for path in _expand(str(item)):
            key = path.resolve()
            if key not in seen:
                seen.add(key)
                files.append(path)
    return files


def _expand(item: str) -> list[Path]:
    path = Path(item)
    if path.is_file():
        return [path]
    if path.is_dir():
        inside = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        if not inside:
            raise InputError("folder has no files", file=item, fix="pass a folder that holds the log files")
        return inside
    if _GLOB_CHARS & set(item):
        matches = sorted(Path(m) for m in glob.glob(item, recursive=True) if Path(m).is_file())
        if matches:
            return matches
        raise InputError("no file matched this pattern", file=item, fix="check the pattern and the folder")
    raise InputError("no such file or folder", file=item, fix="check the path")
