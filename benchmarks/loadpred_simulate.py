"""The simulator's PreServe router with each output-length predictor, next to the true-length run (issue 8).

Static fleet of --instances instances of the bundled example fleet's first pool and model, static scaler;
the PreServe router believes, per run: the true length, PreServe's noise (MAE 78.25 tokens, seeded), a
learned predictor, or a reference (mean, bucket-median). Least-requests (true lengths, which it ignores)
is the router baseline.

  (a) Azure LLM inference trace 2023, conv: the feature model and the references trained on the first
      80% of the requests; the replay is the last 20% (from 2,632 s), compressed --compression times
      (4: near the overload boundary of 4 instances, as PreServe's RQ3 runs at its QPS boundary);
  (b) ShareGPT's held-out prompts (seed-0 split, the first --prompts of them) as Poisson arrivals at
      --qps, lengths in the MiniLM tokenizer: the shipped text model (builtin:text, reading each prompt
      and its conversation's earlier turns) and the references fitted on the training part.

    python benchmarks/loadpred_simulate.py
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from preserve_cli.loadpred import load_predictor
from preserve_cli.loadpred.base import RequestBatch
from preserve_cli.loadpred.evaluate import sharegpt_requests
from preserve_cli.loadpred.feature_model import train_feature_model
from preserve_cli.loadpred.feature_predictor import FeaturePredictor
from preserve_cli.loadpred.model_file import load_model_bytes
from preserve_cli.loadpred.references import BucketMedianPredictor, MeanPredictor
from preserve_cli.loadpred.requests_io import read_any_requests
from preserve_cli.loadpred.sharegpt import load_sharegpt, split_by_conversation
from preserve_cli.loadpred.text_context import sharegpt_histories
from preserve_cli.plan.fleet import read_fleet
from preserve_cli.plan.pipeline import default_fleet_path
from preserve_cli.simulate.api import SimulationOptions, simulate_fleet
from preserve_cli.simulate.workload import make_workload

AZURE_2023 = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "traces" / "azure_llm_2023"
COLUMNS = ("p99_normalized_latency_s", "mean_ttft_s", "p99_ttft_s", "normalized_slo_attainment", "preemptions")


@dataclass(frozen=True)
class Precomputed:
    """Predictions made beforehand for the workload's rows (labels["row"]): text needs the prompts, which
    the simulator's workload does not carry."""

    name: str
    values: np.ndarray

    def predict_output_tokens(self, batch: RequestBatch) -> np.ndarray:
        return self.values[batch.labels["row"].astype(np.int64)]


def _runs(workload, fleet, instances: int, predictors: list) -> None:
    print(f"  {'router':<15} {'lengths':<26} " + " ".join(f"{c:>26}" for c in COLUMNS))
    for router, lengths in [("preserve", "true"), ("preserve", "noisy"), *[("preserve", p) for p in predictors],
                            ("least-requests", "true")]:
        run = simulate_fleet(workload, fleet, SimulationOptions(router=router, lengths=lengths, instances=instances))
        values = " ".join(f"{run.metrics[c]:>26.4g}" for c in COLUMNS)
        print(f"  {router:<15} {run.metrics['lengths']:<26} {values}")


def azure(fleet, instances: int, compression: float) -> None:
    requests = read_any_requests(AZURE_2023 / "AzureLLMInferenceTrace_conv.csv")
    train, test = requests.time_split(0.8)
    data = train_feature_model(train)
    predictors = [FeaturePredictor(data, load_model_bytes(data)), MeanPredictor.fit(train.output_tokens),
                  BucketMedianPredictor.fit(train.batch.input_tokens, train.output_tokens)]
    workload = make_workload(test.batch.arrival_s, test.batch.input_tokens, test.output_tokens,
                             source="azure-2023-conv last 20%", time_compression=compression)
    print(f"(a) Azure 2023 conv, last 20% ({len(test):,} requests), x{compression:g}, {instances} instances")
    _runs(workload, fleet, instances, predictors)


def sharegpt(fleet, instances: int, prompts: int, qps: float) -> None:
    pairs, _ = load_sharegpt()
    train_rows, test_rows = split_by_conversation(pairs, seed=0)
    text = load_predictor("builtin:text")
    histories = sharegpt_histories(pairs)  # the text model reads each prompt's earlier turns
    train = sharegpt_requests(pairs, text.tokenizer, train_rows, histories)
    test = sharegpt_requests(pairs, text.tokenizer, test_rows[:prompts], histories)
    arrivals = 1.7e9 + np.cumsum(np.random.default_rng(0).exponential(1.0 / qps, len(test)))
    workload = make_workload(arrivals, np.maximum(test.batch.input_tokens, 1), test.output_tokens,
                             source="sharegpt test prompts", labels={"row": np.arange(len(test))})
    predicted = Precomputed(text.name, text.predict_texts(list(test.batch.prompts), test.batch.histories))
    references = [MeanPredictor.fit(train.output_tokens),
                  BucketMedianPredictor.fit(train.batch.input_tokens, train.output_tokens)]
    predictors = [predicted, *[Precomputed(r.name, r.predict_output_tokens(test.batch)) for r in references]]
    print(f"(b) ShareGPT held-out prompts ({len(test):,}), Poisson {qps:g} req/s, {instances} instances")
    _runs(workload, fleet, instances, predictors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", type=int, default=4)
    parser.add_argument("--compression", type=float, default=4.0)
    parser.add_argument("--prompts", type=int, default=3000)
    parser.add_argument("--qps", type=float, default=8.0)
    parser.add_argument("--only", choices=("azure", "sharegpt"))
    args = parser.parse_args()
    fleet = read_fleet(default_fleet_path())
    if args.only in (None, "azure"):
        azure(fleet, args.instances, args.compression)
    if args.only in (None, "sharegpt"):
        sharegpt(fleet, args.instances, args.prompts, args.qps)


if __name__ == "__main__":
    main()
