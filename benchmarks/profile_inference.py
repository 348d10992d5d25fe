"""Batched inference speed of the shipped ONNX operator predictors (docs/benchmarks.md, Profile).

A row is one operator query (operator, num_tokens, in_dim, out_dim, GPU peak TFLOP/s, TB/s) ->
predicted ms. The rows are the operators of every catalog model at TP 1/2/4/8 and token counts
drawn log-uniformly from 1..8192, i.e. what capacity sweeps ask. Each timing is ONE
session.run over all rows; the best of `--repeat` runs is reported (wall and process CPU seconds:
the dev machine is shared, and CPU time is the measure other jobs disturb least).

    python benchmarks/profile_inference.py [--rows 1000000] [--repeat 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from preserve_cli.profile.catalog import get_gpu, list_models
from preserve_cli.profile.operators import (
    OPERATORS,
    LayerDims,
    operator_rows,
    operator_shapes,
)
from preserve_cli.profile.predictor_set import (
    execution_providers,
    model_input,
    new_session,
    shipped_predictors,
)


def query_rows(count: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shapes = [operator_shapes(LayerDims.of_model(m), tp) for m in list_models() for tp in (1, 2, 4, 8)
              if m.num_attention_heads % tp == 0]
    per_shape = -(-count // (len(shapes) * len(OPERATORS)))
    tokens = np.round(np.exp(rng.uniform(0, np.log(8192), per_shape)))
    rows = np.concatenate([operator_rows(s, tokens) for s in shapes])
    return rows[rng.permutation(len(rows))[:count]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--gpu", default="h100-80gb")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    predictors = shipped_predictors()
    model_bytes = (predictors.folder / predictors.manifest["predictors"][args.gpu]["file"]).read_bytes()
    x = model_input(query_rows(args.rows), get_gpu(args.gpu))
    results = {}
    for threads in (1, 0):  # 0 = ONNX Runtime's default (all cores)
        session = new_session(model_bytes, threads=threads)
        session.run(None, {"X": x[:1000]})  # warm-up
        best, best_cpu = float("inf"), float("inf")
        for _ in range(args.repeat):
            started, started_cpu = time.perf_counter(), time.process_time()
            session.run(None, {"X": x})
            best = min(best, time.perf_counter() - started)
            best_cpu = min(best_cpu, time.process_time() - started_cpu)
        # CPU seconds (all threads of this process) are the measure least disturbed by other jobs.
        results["1 thread" if threads == 1 else "default threads"] = {
            "seconds": round(best, 4), "rows_per_s": round(len(x) / best), "cpu_seconds": round(best_cpu, 4)}
    document = {"rows": len(x), "predictor": f"onnx:{predictors.id} {args.gpu}",
                "providers": list(execution_providers()),
                "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}", "results": results}
    if args.json:
        print(json.dumps(document, indent=2))
        return 0
    print(f"{len(x):,} rows, predictor onnx:{predictors.id} ({args.gpu}), providers {', '.join(execution_providers())}")
    for label, result in results.items():
        print(f"  {label:16s} {result['seconds']:.3f} s  {result['rows_per_s'] / 1e6:.2f} M rows/s  "
              f"(CPU {result['cpu_seconds']:.3f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
