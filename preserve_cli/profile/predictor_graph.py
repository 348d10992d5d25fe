"""The ONNX graph of one operator-time predictor: shape in, milliseconds out.

Input `X` (float32, N x 6), one row per operator instance:
    operator index (operators.OPERATORS), num_tokens, in_dim, out_dim,
    GPU dense BF16 peak TFLOP/s, GPU memory bandwidth TB/s.
Output `ms` (float32, N x 1): predicted median time of that operator.

Rows are routed by operator class (GEMM: operators 0-3; other: norms, rope, activation, add,
embedding). Per class, a roofline-shaped base time is computed from the shape and the GPU's
peak numbers,
    base = t0 + max(flops / (peak * e_c), bytes / (bandwidth * e_m))
with (t0, e_c, e_m) fitted to the measurements, and a gradient-boosted tree ensemble predicts
log(measured / base) from shape features: log sizes, arithmetic intensity relative to the GPU's
ridge point, GEMM tile counts and wave fill on the measured GPU's SM count, token padding to
tile multiples. The trees correct what the roofline cannot know (launch floors, tile
quantization, cuBLAS kernel switches); the base carries the physics, so a shape outside the
training range still scales with FLOPs and bytes while its correction stays at the value of the
nearest trained shape. Element-wise kernels get fewer features and trees than GEMMs, and each
row only runs its own class's ensemble.

The same builder, without trees, emits one class's feature matrix: training computes its
features with exactly the float32 arithmetic inference will use, so no tree threshold sees a
different value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper

from preserve_cli.profile.operators import GEMM_COUNT

INPUT_COLUMNS = ("operator_index", "num_tokens", "in_dim", "out_dim", "peak_tflops", "bandwidth_tb_s")
CLASSES = ("gemm", "other")
# GEMM tile shapes (rows x cols of the output) common in cuBLAS/CUTLASS kernels for BF16.
TILE_SHAPES = ((64, 128), (128, 128), (128, 256))
TOKEN_PADS = (64, 128, 256)
_PAD_FEATURES = tuple(f"token_pad_{pad}" for pad in TOKEN_PADS)
FEATURES = {
    "gemm": ("operator_index", "ln_tokens", "ln_in_dim", "ln_out_dim", "ln_flops", "ln_bytes",
             "ln_intensity_over_ridge", "ln_roofline_ms",
             *[name for m, n in TILE_SHAPES for name in (f"ln_tiles_{m}x{n}", f"wave_fill_{m}x{n}")],
             *_PAD_FEATURES, "ln_base_ms"),
    "other": ("operator_index", "ln_tokens", "ln_in_dim", "ln_out_dim", "ln_bytes", "ln_roofline_ms",
              *_PAD_FEATURES, "ln_base_ms"),
}
OPSET = [helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)]


@dataclass(frozen=True)
class ClassBase:
    """Roofline base of one operator class: launch floor (ms) and achieved fractions of peak."""

    floor_ms: float
    compute_efficiency: float
    memory_efficiency: float


BaseParams = dict  # class name -> ClassBase


@dataclass(frozen=True)
class TreeEnsemble:
    """A fitted tree ensemble in ONNX TreeEnsembleRegressor terms (all lists, one entry per node)."""

    base_value: float
    tree_ids: list[int]
    node_ids: list[int]
    feature_ids: list[int]
    thresholds: list[float]
    modes: list[str]
    true_ids: list[int]
    false_ids: list[int]
    leaf_tree_ids: list[int]
    leaf_node_ids: list[int]
    leaf_values: list[float]


def ensemble_from_hist_gradient_boosting(model) -> TreeEnsemble:
    """Read a fitted sklearn HistGradientBoostingRegressor's trees (left branch when x <= threshold).

    skl2onnx's converter for this estimator fails on current scikit-learn, and this one keeps
    the thresholds and leaves exactly as fitted.
    """
    fields: dict[str, list] = {name: [] for name in TreeEnsemble.__dataclass_fields__ if name != "base_value"}
    for tree_id, (predictor,) in enumerate(model._predictors):
        for node_id, node in enumerate(predictor.nodes):
            fields["tree_ids"].append(tree_id)
            fields["node_ids"].append(node_id)
            if node["is_leaf"]:
                fields["feature_ids"].append(0)
                fields["thresholds"].append(0.0)
                fields["modes"].append("LEAF")
                fields["true_ids"].append(0)
                fields["false_ids"].append(0)
                fields["leaf_tree_ids"].append(tree_id)
                fields["leaf_node_ids"].append(node_id)
                fields["leaf_values"].append(float(node["value"]))
            else:
                fields["feature_ids"].append(int(node["feature_idx"]))
                fields["thresholds"].append(float(node["num_threshold"]))
                fields["modes"].append("BRANCH_LEQ")
                fields["true_ids"].append(int(node["left"]))
                fields["false_ids"].append(int(node["right"]))
    return TreeEnsemble(base_value=float(np.ravel(model._baseline_prediction)[0]), **fields)


class _Graph:
    """Appends nodes with deterministic names (a counter), so two builds are byte-identical."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._count = 0

    def _name(self, stem: str) -> str:
        self._count += 1
        return f"{stem}_{self._count}"

    def const(self, value: float) -> str:
        name = self._name("c")
        self.initializers.append(helper.make_tensor(name, TensorProto.FLOAT, [], [float(value)]))
        return name

    def op(self, op_type: str, *inputs: str, outputs: int = 1, domain: str = "", output_name: str = "",
           **attributes) -> str | list[str]:
        names = [output_name or self._name(op_type.lower()) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op_type, list(inputs), names, name=self._name("node"), domain=domain,
                                           **attributes))
        return names[0] if outputs == 1 else names

    def int64s(self, values: list[int]) -> str:
        name = self._name("i")
        self.initializers.append(helper.make_tensor(name, TensorProto.INT64, [len(values)], values))
        return name

    # Small arithmetic vocabulary; `b` may be a tensor name or a Python number.
    def _operand(self, value: str | float) -> str:
        return value if isinstance(value, str) else self.const(value)

    def add(self, a, b): return self.op("Add", self._operand(a), self._operand(b))
    def sub(self, a, b): return self.op("Sub", self._operand(a), self._operand(b))
    def mul(self, a, b): return self.op("Mul", self._operand(a), self._operand(b))
    def div(self, a, b): return self.op("Div", self._operand(a), self._operand(b))
    def maximum(self, a, b): return self.op("Max", self._operand(a), self._operand(b))
    def log(self, a): return self.op("Log", a)
    def ceil(self, a): return self.op("Ceil", a)


def _work(cls: str, tokens, in_dim, out_dim):
    """FLOPs and bytes of one operator: a GEMM does 2 FLOPs per multiply-add and reads its weight
    matrix once; the others do ~1 FLOP per element. 16-bit activations and weights."""
    if cls == "gemm":
        return 2 * tokens * in_dim * out_dim, 2 * (tokens * (in_dim + out_dim) + in_dim * out_dim)
    return tokens * (in_dim + out_dim), 2 * tokens * (in_dim + out_dim)


def _features(g: _Graph, x: str, cls: str, base: ClassBase, sm_count: int) -> tuple[list[str], str]:
    operator, tokens, in_dim, out_dim, peak, bandwidth = g.op("Split", x, g.int64s([1] * 6), outputs=6, axis=1)
    if cls == "gemm":
        flops = g.mul(g.mul(g.mul(tokens, in_dim), out_dim), 2.0)
        bytes_moved = g.mul(g.add(g.mul(tokens, g.add(in_dim, out_dim)), g.mul(in_dim, out_dim)), 2.0)
    else:
        flops = g.mul(tokens, g.add(in_dim, out_dim))
        bytes_moved = g.mul(flops, 2.0)
    compute_ms = g.div(flops, g.mul(peak, 1e9))        # TFLOP/s -> FLOP/ms
    memory_ms = g.div(bytes_moved, g.mul(bandwidth, 1e9))
    base_ms = g.add(base.floor_ms, g.maximum(g.mul(compute_ms, 1 / base.compute_efficiency),
                                             g.mul(memory_ms, 1 / base.memory_efficiency)))
    ln_base = g.log(base_ms)
    ln_bytes, ln_roof = g.log(bytes_moved), g.log(g.maximum(compute_ms, memory_ms))
    columns = {"operator_index": operator, "ln_tokens": g.log(tokens), "ln_in_dim": g.log(in_dim),
               "ln_out_dim": g.log(out_dim), "ln_bytes": ln_bytes, "ln_roofline_ms": ln_roof, "ln_base_ms": ln_base}
    for pad in TOKEN_PADS:
        columns[f"token_pad_{pad}"] = g.div(g.mul(g.ceil(g.mul(tokens, 1 / pad)), float(pad)), tokens)
    if cls == "gemm":
        ln_flops = g.log(flops)
        columns["ln_flops"] = ln_flops
        columns["ln_intensity_over_ridge"] = g.sub(g.sub(ln_flops, ln_bytes), g.log(g.div(peak, bandwidth)))
        for rows, cols in TILE_SHAPES:
            tiles = g.mul(g.ceil(g.mul(tokens, 1 / rows)), g.ceil(g.mul(out_dim, 1 / cols)))
            waves = g.ceil(g.div(tiles, float(sm_count)))
            columns[f"ln_tiles_{rows}x{cols}"] = g.log(tiles)
            columns[f"wave_fill_{rows}x{cols}"] = g.div(tiles, g.mul(waves, float(sm_count)))
    return [columns[name] for name in FEATURES[cls]], ln_base


def _ensemble(g: _Graph, features: str, trees: TreeEnsemble) -> str:
    return g.op(
        "TreeEnsembleRegressor", features, domain="ai.onnx.ml", n_targets=1, aggregate_function="SUM",
        post_transform="NONE", base_values=[trees.base_value], nodes_treeids=trees.tree_ids,
        nodes_nodeids=trees.node_ids, nodes_featureids=trees.feature_ids, nodes_values=trees.thresholds,
        nodes_modes=trees.modes, nodes_truenodeids=trees.true_ids, nodes_falsenodeids=trees.false_ids,
        nodes_missing_value_tracks_true=[0] * len(trees.node_ids), target_treeids=trees.leaf_tree_ids,
        target_nodeids=trees.leaf_node_ids, target_ids=[0] * len(trees.leaf_node_ids),
        target_weights=trees.leaf_values)


def _finish(g: _Graph, outputs: list) -> onnx.ModelProto:
    inputs = [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, len(INPUT_COLUMNS)])]
    graph = helper.make_graph(g.nodes, "operator_time", inputs, outputs, g.initializers)
    model = helper.make_model(graph, opset_imports=OPSET, ir_version=8, producer_name="preserve")
    onnx.checker.check_model(model)
    return model


def feature_model(cls: str, base: ClassBase, sm_count: int) -> onnx.ModelProto:
    """Features (output `features`, N x len(FEATURES[cls])) of rows that all belong to `cls`."""
    g = _Graph()
    columns, _ = _features(g, "X", cls, base, sm_count)
    g.op("Concat", *columns, axis=1, output_name="features")
    return _finish(g, [helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, len(FEATURES[cls])])])


def build_model(base: BaseParams, sm_count: int, trees: dict[str, TreeEnsemble]) -> onnx.ModelProto:
    """The predictor: route rows by class, base x exp(trees) per class, scatter back in row order."""
    g = _Graph()
    operator = g.op("Squeeze", g.op("Slice", "X", g.int64s([0]), g.int64s([1]), g.int64s([1])), g.int64s([1]))
    is_gemm = g.op("Less", operator, g.const(GEMM_COUNT - 0.5))
    result = g.mul(g.op("Unsqueeze", operator, g.int64s([1])), 0.0)  # N x 1 zeros
    for cls, mask in (("gemm", is_gemm), ("other", g.op("Not", is_gemm))):
        index = g.op("Transpose", g.op("NonZero", mask), perm=[1, 0])
        columns, ln_base = _features(g, g.op("GatherND", "X", index), cls, base[cls], sm_count)
        residual = _ensemble(g, g.op("Concat", *columns, axis=1), trees[cls])
        result = g.op("ScatterND", result, index, g.op("Exp", g.add(residual, ln_base)),
                      output_name="ms" if cls == "other" else "")
    return _finish(g, [helper.make_tensor_value_info("ms", TensorProto.FLOAT, [None, 1])])


# Public names of the graph-building helpers for other tree-ensemble predictors (preserve_cli.loadpred):
# same deterministic node naming, same TreeEnsembleRegressor encoding of a fitted HistGradientBoosting model.
GraphBuilder = _Graph
tree_ensemble_node = _ensemble


def fit_base_params(rows: np.ndarray, ms: np.ndarray, weights: np.ndarray, peak_tflops: float,
                    bandwidth_tb_s: float) -> BaseParams:
    """Weighted least squares in log space, per operator class, of t0 + max(compute / e_c, memory / e_m).

    Element-wise kernels do ~0.5 FLOP per byte, hundreds of times below any GPU's ridge point, so
    their compute term never binds and e_c cannot be identified from data: it is fixed at 1 for
    them and only the launch floor and e_m are fitted.
    """
    from scipy.optimize import least_squares

    fitted: BaseParams = {}
    for cls in CLASSES:
        mask = class_mask(rows, cls)
        if not mask.any():
            continue
        flops, bytes_moved = _work(cls, rows[mask, 1], rows[mask, 2], rows[mask, 3])
        c, m = flops / (peak_tflops * 1e9), bytes_moved / (bandwidth_tb_s * 1e9)
        y, w = np.log(ms[mask]), np.sqrt(weights[mask])
        fit_compute = cls == "gemm"

        def residuals(log_params: np.ndarray, c=c, m=m, y=y, w=w, fit_compute=fit_compute) -> np.ndarray:
            floor, e_m = np.exp(log_params[0]), np.exp(log_params[-1])
            e_c = np.exp(log_params[1]) if fit_compute else 1.0
            return w * (np.log(floor + np.maximum(c / e_c, m / e_m)) - y)

        # Start: a 5 us launch floor and 70-80% of peak, typical of measured GEMMs.
        start = np.log([0.005, 0.7, 0.8] if fit_compute else [0.005, 0.8])
        values = np.exp(least_squares(residuals, start, method="trf").x)
        floor, e_m = values[0], values[-1]
        e_c = values[1] if fit_compute else 1.0
        fitted[cls] = ClassBase(*[float(f"{v:.6g}") for v in (floor, e_c, e_m)])
    return fitted


def class_mask(rows: np.ndarray, cls: str) -> np.ndarray:
    is_gemm = rows[:, 0] < GEMM_COUNT - 0.5
    return is_gemm if cls == "gemm" else ~is_gemm


def serialized(model: onnx.ModelProto) -> bytes:
    return model.SerializeToString(deterministic=True)

