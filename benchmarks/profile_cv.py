"""Leave-one-model-out cross-validation of the operator-time predictors (docs/benchmarks.md, Profile).

For each model in ../shared/data/profiling/vidur/compute, train the predictors WITHOUT it (and
without every other model of the same layer shape: Llama-2-70B and Llama-3-70B share all dense
shapes, so holding out one alone would let its twin answer), then predict it from its shape
alone and compare `dense_ms_per_layer` (the sum of the nine per-layer operator medians) with
the measurement at every (num_tokens, TP) it was measured at.

    python benchmarks/profile_cv.py [--data ../shared/data/profiling/vidur] [--json]
        [--gemm-trees 30 --gemm-learning-rate 0.35 --other-trees 10 --other-learning-rate 0.5]

The tree options re-run the comparison of ensemble sizes in docs/benchmarks.md; the defaults are the
shipped configuration (training.Hyperparameters).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from preserve_cli.profile.catalog import get_gpu
from preserve_cli.profile.predictor_set import model_input, new_session
from preserve_cli.profile.training import (
    Hyperparameters,
    TreeParams,
    read_vidur_compute,
    train_vidur,
)


def dense_errors(table, predicted: np.ndarray) -> np.ndarray:
    """|predicted / measured - 1| of dense_ms_per_layer at each (model, tokens, TP) configuration."""
    sums = table.dense_sums(predicted)
    return np.abs(sums[:, 1] / sums[:, 0] - 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(REPO / ".." / "shared" / "data" / "profiling" / "vidur"))
    parser.add_argument("--json", action="store_true")
    shipped = Hyperparameters()
    for cls in ("gemm", "other"):
        parser.add_argument(f"--{cls}-trees", type=int, default=getattr(shipped, cls).max_iter)
        parser.add_argument(f"--{cls}-learning-rate", type=float, default=getattr(shipped, cls).learning_rate)
    args = parser.parse_args()
    hyper = Hyperparameters(**{cls: TreeParams(getattr(args, f"{cls}_trees"), getattr(args, f"{cls}_learning_rate"),
                                               getattr(shipped, cls).max_leaf_nodes) for cls in ("gemm", "other")})
    data = Path(args.data)
    tables, _ = read_vidur_compute(data)
    started = time.perf_counter()
    results = []
    groups = sorted({(g, m) for t in tables.values() for g, m in zip(t.shape_group, t.model)})
    by_shape: dict[str, list[str]] = {}
    for shape, model in groups:
        by_shape.setdefault(shape, []).append(model)
    for shape, models in by_shape.items():
        _, fitted = train_vidur(data, None, exclude_models=models, hyper=hyper)
        for gpu, table in tables.items():
            for model in models:
                held = table.select(table.model == model)
                if not len(held) or gpu not in fitted:
                    continue
                session = new_session(fitted[gpu].onnx, cpu_only=True)
                predicted = session.run(None, {"X": model_input(held.rows, get_gpu(gpu))})[0][:, 0]
                errors = dense_errors(held, predicted.astype(np.float64))
                results.append({"gpu": gpu, "held_out": model, "also_held_out": [m for m in models if m != model],
                                "configurations": len(errors), "mape_pct": round(100 * float(errors.mean()), 2),
                                "p90_ape_pct": round(100 * float(np.quantile(errors, 0.9)), 2),
                                "max_ape_pct": round(100 * float(errors.max()), 2)})
    elapsed = time.perf_counter() - started
    if args.json:
        print(json.dumps({"results": results, "seconds": round(elapsed, 1)}, indent=2))
        return 0
    print("| GPU | held-out model (trained without) | configurations | MAPE % | p90 APE % | max APE % |")
    print("|---|---|---|---|---|---|")
    for r in sorted(results, key=lambda r: (r["gpu"], r["held_out"])):
        also = f" (+ {', '.join(r['also_held_out'])})" if r["also_held_out"] else ""
        print(f"| {r['gpu']} | {r['held_out']}{also} | {r['configurations']} | {r['mape_pct']:.2f} | "
              f"{r['p90_ape_pct']:.2f} | {r['max_ape_pct']:.2f} |")
    for gpu in sorted({r["gpu"] for r in results}):
        rows = [r for r in results if r["gpu"] == gpu]
        print(f"\n{gpu}: worst held-out MAPE {max(r['mape_pct'] for r in rows):.2f}%, "
              f"mean {np.mean([r['mape_pct'] for r in rows]):.2f}%", end="")
    print(f"\n\n{len(by_shape)} folds in {elapsed:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
