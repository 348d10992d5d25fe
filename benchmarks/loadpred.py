"""Loadpred benchmark: accuracy and speed of the output-length predictors (issue 8).

  (f) feature predictor on the Azure LLM inference trace 2023, conv and code (../shared), time split:
      first 80% of each trace to train, last 20% to test; MAE, Acc-25/50/100, pinball loss for the model,
      "predict the mean" and "median for this input-length bucket", and the clairvoyant bound of any
      prompt-length-only predictor (bucket medians of the test part itself); then batch inference speed on
      --rows rows (the conv test rows repeated), both the ONNX run alone and features + run;
  (t) text predictor (--text-model, default the shipped builtin:text) on ShareGPT's held-out 20% (random
      8:2 by conversation, seed 0, each prompt with its conversation's earlier turns): the same scores;
      one prompt at a time (one thread, as a router calls it; tokenizing prompt and history included)
      over --latency-prompts test prompts: mean / p50 / p99 ms, with the history token counts cached
      (warm), counted afresh per request (cold), and without history; throughput over the whole test part with
      all cores (still one prompt per run: see text_predictor.py on int8 and batching).

    python benchmarks/loadpred.py                 # (f) and (t)
    python benchmarks/loadpred.py --only features # (f): about 30 s
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from preserve_cli.loadpred import load_predictor
from preserve_cli.loadpred.base import RequestBatch
from preserve_cli.loadpred.evaluate import evaluate_features, evaluate_sharegpt
from preserve_cli.loadpred.feature_model import train_feature_model
from preserve_cli.loadpred.feature_predictor import FeaturePredictor
from preserve_cli.loadpred.features import feature_matrix
from preserve_cli.loadpred.model_file import load_model_bytes
from preserve_cli.loadpred.requests_io import read_any_requests
from preserve_cli.loadpred.sharegpt import load_sharegpt, split_by_conversation
from preserve_cli.loadpred.text_context import TokenCountCache, sharegpt_histories

CLAIRVOYANT_BUCKETS_PER_OCTAVE = (1, 8)
AZURE_2023 = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "traces" / "azure_llm_2023"


def _print_scores(evaluation) -> None:
    print(f"  {evaluation.data}: {evaluation.split}; {evaluation.train_requests} train, "
          f"{evaluation.test_requests} test")
    for s in evaluation.scores:
        p90 = "-" if s.pinball_p90 is None else f"{s.pinball_p90:.2f}"
        print(f"    {s.predictor:<16} MAE {s.mae:7.2f}  Acc-25 {s.acc_25:6.1%}  Acc-50 {s.acc_50:6.1%}  "
              f"Acc-100 {s.acc_100:6.1%}  pinball p50 {s.pinball_p50:7.2f}  p90 {p90}")
    for line in evaluation.notes:
        print(f"    note: {line}")


def _best_of(repeat: int, work) -> tuple[float, float]:
    """Fastest wall-clock seconds and the CPU seconds of that run (all threads: load-independent cost)."""
    best = (float("inf"), float("inf"))
    for _ in range(repeat):
        started, cpu = time.perf_counter(), time.process_time()
        work()
        best = min(best, (time.perf_counter() - started, time.process_time() - cpu))
    return best


def _print_clairvoyant(test) -> None:
    """MAE of input-length bucket medians taken from the test part itself: what a predictor that reads only the
    prompt length could reach with hindsight (finer buckets overfit the test part, so the bound is generous)."""
    actual = test.output_tokens.astype(np.float64)
    octaves = np.log2(np.maximum(test.batch.input_tokens.astype(np.float64), 1.0))
    cells = []
    for per_octave in CLAIRVOYANT_BUCKETS_PER_OCTAVE:
        bucket = np.floor(per_octave * octaves)
        medians = np.zeros_like(actual)
        for value in np.unique(bucket):
            medians[bucket == value] = np.median(actual[bucket == value])
        cells.append(f"{per_octave}/octave {np.abs(actual - medians).mean():.2f}")
    print(f"    clairvoyant (bucket medians of the test part itself): MAE {', '.join(cells)}; "
          f"one median for all {np.abs(actual - np.median(actual)).mean():.2f}")


def features(rows: int, repeat: int) -> None:
    print("(f) feature predictor, Azure LLM inference trace 2023")
    for name in ("conv", "code"):
        requests = read_any_requests(AZURE_2023 / f"AzureLLMInferenceTrace_{name}.csv")
        _print_scores(evaluate_features(requests, name))
        _print_clairvoyant(requests.time_split(0.8)[1])
    requests = read_any_requests(AZURE_2023 / "AzureLLMInferenceTrace_conv.csv")
    train, test = requests.time_split(0.8)
    data = train_feature_model(train)
    predictor = FeaturePredictor(data, load_model_bytes(data))
    copies = -(-rows // len(test))
    batch = RequestBatch(np.tile(test.batch.input_tokens, copies)[:rows], np.tile(test.batch.arrival_s, copies)[:rows])
    x = feature_matrix(batch, predictor.spec)
    onnx_only = _best_of(repeat, lambda: predictor.quantiles_from_features(x))
    end_to_end = _best_of(repeat, lambda: predictor.predict_output_tokens(batch))
    print(f"  batch inference, {rows:,} rows, providers {predictor.providers}, best of {repeat}:")
    for label, (wall, cpu) in (("ONNX run (p50 + p90)", onnx_only), ("features + ONNX run ", end_to_end)):
        print(f"    {label}: {wall:.3f} s = {rows / wall / 1e6:.2f} M rows/s wall; "
              f"{cpu:.3f} CPU-s = {rows / cpu / 1e6:.2f} M rows per CPU-second")


def text(model: str, latency_prompts: int) -> None:
    print(f"(t) text predictor {model}, ShareGPT")
    predictor = load_predictor(model, threads=0)
    _print_scores(evaluate_sharegpt(predictor))
    pairs, _ = load_sharegpt()
    histories = sharegpt_histories(pairs)
    _, test_rows = split_by_conversation(pairs, seed=0)
    single = load_predictor(model, threads=1)
    prompts = [pairs[row].prompt for row in test_rows[:latency_prompts]]
    single.predict_texts(prompts[:5])  # warm-up
    # warm: in conversation order with the predictor's count cache (each request counts its newest exchange,
    # as a router meeting a chat's turns in order); cold: every request counts its whole history;
    # prompt only: no history given (what a log without earlier turns costs).
    for label, cache, with_history in (("warm", TokenCountCache(), True), ("cold", TokenCountCache(capacity=0), True),
                                       ("prompt only", TokenCountCache(), False)):
        single.history_counts = cache
        times = []
        for row in test_rows[:latency_prompts]:
            started = time.perf_counter()
            single.predict_texts([pairs[row].prompt], [histories[row]] if with_history else None)
            times.append((time.perf_counter() - started) * 1e3)
        times = np.array(times)
        print(f"  one at a time, 1 thread, {len(prompts)} test prompts (tokenize + run), {label}: mean "
              f"{times.mean():.2f} ms, p50 {np.median(times):.2f} ms, p99 {np.percentile(times, 99):.2f} ms; "
              f"providers {single.providers}")
    all_prompts = [pairs[row].prompt for row in test_rows]
    started = time.perf_counter()
    predictor.predict_texts(all_prompts, [histories[row] for row in test_rows])
    elapsed = time.perf_counter() - started
    print(f"  whole test part, all cores: {len(all_prompts):,} prompts in {elapsed:.1f} s = "
          f"{len(all_prompts) / elapsed:,.0f} prompts/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=("features", "text"))
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--text-model", default="builtin:text")
    parser.add_argument("--latency-prompts", type=int, default=500)
    args = parser.parse_args()
    if args.only in (None, "features"):
        features(args.rows, args.repeat)
    if args.only in (None, "text"):
        text(args.text_model, args.latency_prompts)


if __name__ == "__main__":
    main()
