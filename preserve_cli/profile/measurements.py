"""Measured operator times in vidur's profile layout (compute/<gpu>/<org>/<model>/mlp.csv).

The same reader serves `preserve profile train` (the vidur CSVs) and `preserve profile fit`
(a user's own measurements, e.g. vidur's profiler `python -m vidur.profiling.mlp.main` run on
their GPU). Columns (docs/formats.md, "operator measurements CSV"):

* shape: n_head, n_kv_head, n_embd, n_expanded_embd, use_gated_mlp, num_tokens,
  num_tensor_parallel_workers;
* times: `time_stats.<operator>.median` in milliseconds for any of the operators in
  operators.OPERATORS (at least one); other columns are ignored.

Each measured cell becomes one predictor row (operator, tokens, in_dim, out_dim) -> ms, with
shapes per TP shard from operators.operator_shapes. Rows measured twice at the same
(num_tokens, TP) are reduced to their median. Every bad cell is an InputError naming the file,
the line and the column.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from preserve_cli.errors import InputError
from preserve_cli.profile.operators import (
    DENSE_OPERATORS,
    OPERATOR_INDEX,
    OPERATORS,
    LayerDims,
    operator_shapes,
)

SHAPE_COLUMNS = ("n_head", "n_kv_head", "n_embd", "n_expanded_embd", "num_tokens", "num_tensor_parallel_workers")
GATED_COLUMN = "use_gated_mlp"


def time_column(operator: str) -> str:
    return f"time_stats.{operator}.median"


@dataclass(frozen=True)
class OperatorTable:
    """Predictor training rows: X (operator, tokens, in, out), ms, the model shape each came from."""

    rows: np.ndarray
    ms: np.ndarray
    shape_group: np.ndarray   # one label per distinct layer shape (models that share it share it)
    model: np.ndarray         # the file's model label (directory or file name)
    tp: np.ndarray            # tensor-parallel degree the row was measured at
    weight: np.ndarray        # operator's share of its dense layer time, + a floor

    def __len__(self) -> int:
        return len(self.ms)

    def select(self, mask: np.ndarray) -> OperatorTable:
        return OperatorTable(*(getattr(self, name)[mask] for name in _FIELDS))

    @staticmethod
    def concat(tables: list[OperatorTable]) -> OperatorTable:
        return OperatorTable(*(np.concatenate([getattr(t, name) for t in tables]) for name in _FIELDS))

    def dense_sums(self, predicted_ms: np.ndarray | None = None) -> np.ndarray:
        """Per (model, tokens, TP) configuration: [measured dense ms/layer, predicted (if given)]."""
        dense = np.isin(self.rows[:, 0], [OPERATOR_INDEX[op] for op in DENSE_OPERATORS])
        keys = np.rec.fromarrays([self.model[dense], self.rows[dense, 1], self.tp[dense]])
        _, config = np.unique(keys, return_inverse=True)
        values = [self.ms[dense]] + ([] if predicted_ms is None else [np.asarray(predicted_ms)[dense]])
        return np.column_stack([np.bincount(config, weights=v) for v in values])


_FIELDS = ("rows", "ms", "shape_group", "model", "tp", "weight")


# Rows whose operator takes a tiny share of the layer still count a little: without this floor
# the fit would ignore element-wise kernels entirely.
WEIGHT_FLOOR = 0.02


def _number_column(frame: pd.DataFrame, column: str, file: str, *, integer: bool) -> np.ndarray:
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(float)
    bad = ~np.isfinite(values) | (values <= 0) | (integer and (values != np.round(values)))
    if bad.any():
        first = int(np.argmax(bad))
        kind = "a positive integer" if integer else "a positive number"
        raise InputError(f"{frame[column].iloc[first]!r} is not {kind}", file=file, line=first + 2, field=column,
                         fix=f"write {kind} in every row (times in milliseconds)")
    return values


def _gated(frame: pd.DataFrame, file: str) -> np.ndarray:
    text = frame[GATED_COLUMN].astype(str).str.strip().str.lower()
    known = text.isin(["true", "false", "1", "0"])
    if not known.all():
        first = int(np.argmax(~known.to_numpy()))
        raise InputError(f"{frame[GATED_COLUMN].iloc[first]!r} is not true/false", file=file, line=first + 2,
                         field=GATED_COLUMN, fix="write True for a gated (SwiGLU) MLP, False otherwise")
    return text.isin(["true", "1"]).to_numpy()


def read_operator_csv(path: Path, model_label: str | None = None) -> OperatorTable:
    file = str(path)
    try:
        frame = pd.read_csv(path)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"not a readable CSV ({' '.join(str(exc).split())})", file=file,
                         fix="see docs/formats.md, operator measurements CSV") from None
    missing = [c for c in (*SHAPE_COLUMNS, GATED_COLUMN) if c not in frame.columns]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}", file=file, line=1, field=missing[0],
                         fix="see docs/formats.md, operator measurements CSV")
    operators = [op for op in OPERATORS if time_column(op) in frame.columns]
    if not operators:
        raise InputError("no time_stats.<operator>.median column", file=file, line=1, field="time_stats",
                         fix=f"add median times in ms for operators such as {', '.join(DENSE_OPERATORS[:4])}")
    if frame.empty:
        raise InputError("no measurement rows", file=file, line=2, fix="add one row per (num_tokens, TP)")
    shape = {c: _number_column(frame, c, file, integer=True) for c in SHAPE_COLUMNS}
    times = {op: _number_column(frame, time_column(op), file, integer=False) for op in operators}
    gated = _gated(frame, file)
    if np.any(shape["n_embd"] % shape["n_head"]):
        first = int(np.argmax(shape["n_embd"] % shape["n_head"] != 0))
        raise InputError("n_embd is not a multiple of n_head", file=file, line=first + 2, field="n_embd",
                         fix="check the model shape columns")
    keys = ["n_head", "n_kv_head", "n_embd", "n_expanded_embd", "num_tokens", "num_tensor_parallel_workers"]
    table = pd.DataFrame({**shape, GATED_COLUMN: gated, **times})
    # Repeated measurements of one configuration: keep their median, as vidur's own profiles do.
    table = table.groupby([*keys, GATED_COLUMN], as_index=False).median()
    label = model_label or path.stem
    return _rows_from_table(table, operators, label)


def _rows_from_table(table: pd.DataFrame, operators: list[str], label: str) -> OperatorTable:
    dense_total = table[[op for op in operators if op in DENSE_OPERATORS]].sum(axis=1).to_numpy()
    blocks = []
    for record, dense in zip(table.to_dict("records"), dense_total):
        heads, embd = int(record["n_head"]), int(record["n_embd"])
        dims = LayerDims(embd, heads, int(record["n_kv_head"]), embd // heads, int(record["n_expanded_embd"]),
                         bool(record[GATED_COLUMN]))
        shapes = operator_shapes(dims, int(record["num_tensor_parallel_workers"]))
        group = f"h{embd}-a{heads}-kv{dims.kv_heads}-f{dims.intermediate}-{'gated' if dims.gated_mlp else 'plain'}"
        for op in operators:
            in_dim, out_dim = shapes[op]
            ms = float(record[op])
            blocks.append((OPERATOR_INDEX[op], float(record["num_tokens"]), in_dim, out_dim, ms,
                           group, int(record["num_tensor_parallel_workers"]), ms / dense + WEIGHT_FLOOR))
    columns = list(zip(*blocks))
    rows = np.column_stack([np.asarray(columns[i], dtype=np.float64) for i in range(4)])
    return OperatorTable(rows=rows, ms=np.asarray(columns[4]), shape_group=np.asarray(columns[5]),
                         model=np.full(len(blocks), label), tp=np.asarray(columns[6]), weight=np.asarray(columns[7]))


def files_sha256(paths: list[Path], root: Path) -> str:
    """One digest over the files' relative names and bytes (sorted), the training data's identity."""
    digest = hashlib.sha256()
    for path in sorted(paths, key=lambda p: p.relative_to(root).as_posix()):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()
