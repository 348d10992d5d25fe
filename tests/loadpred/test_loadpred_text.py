"""The shipped text model (builtin:text): graph, tokenizer, inference without torch, accuracy on ShareGPT."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import onnx
import pytest

from preserve_cli.errors import InputError
from preserve_cli.loadpred import RequestBatch, load_predictor, resolve_model_path
from preserve_cli.loadpred.evaluate import evaluate_sharegpt
from preserve_cli.loadpred.text_tokens import model_inputs, token_counts

SHIPPED = resolve_model_path("builtin:text")
MAX_SHIPPED_BYTES = 25 * 1024 * 1024  # issue 8: the text model ships only if it stays within 25 MB


@pytest.fixture(scope="module")
def predictor():
    return load_predictor("builtin:text")


def test_lengths_are_counted_in_minilm_wordpiece_without_special_tokens(predictor):
    tokenizer = predictor.tokenizer  # the tokenizer.json stored in the model file (no model package needed)
    # WordPiece splits rare words: "tokenization" -> token ##ization; punctuation is a token of its own
    assert token_counts(tokenizer, ["Hello, world!", "", "tokenization"]).tolist() == [4, 0, 2]
    inputs = model_inputs(tokenizer, ["Hello world", "Hi"])
    # [CLS] hello world [SEP] / [CLS] hi [SEP] [PAD]: whole prompts, right-padded, never truncated here
    assert inputs["attention_mask"].tolist() == [[1, 1, 1, 1], [1, 1, 1, 0]]
    assert inputs["input_ids"][1, 3] == 0 and inputs["input_ids"][0, 0] == 101
    long = model_inputs(tokenizer, ["word " * 600])
    assert long["input_ids"].shape == (1, 602)


def test_shipped_model_is_one_small_onnx_graph_from_token_ids_to_length():
    assert SHIPPED.stat().st_size <= MAX_SHIPPED_BYTES
    model = onnx.load(str(SHIPPED))
    assert [i.name for i in model.graph.input] == ["input_ids", "attention_mask", "history"]
    assert [o.name for o in model.graph.output] == ["output_tokens"]
    keys = {prop.key for prop in model.metadata_props}
    assert {"preserve.loadpred", "preserve.tokenizer"} <= keys


def test_predicts_from_prompts_on_cpu_quietly(predictor):
    prompts = ["Write a 2000-word essay on the history of Rome, with sections and references.",
               "What is 2+2? Answer with a number only.", "Translate 'bonjour' to English."]
    out = predictor.predict_output_tokens(RequestBatch(np.zeros(3, dtype=np.int64), np.zeros(3), {}, prompts))
    assert out.shape == (3,) and np.isfinite(out).all() and (out >= 0).all()
    # the essay request is expected to be much longer (the shipped model: 243 tokens against 112 and 148)
    assert out[0] > 1.5 * max(out[1], out[2])
    assert predictor.providers == ["CPUExecutionProvider"]
    # One prompt per run: a prompt's prediction does not depend on the others in the request batch.
    alone = np.array([predictor.predict_texts([prompt])[0] for prompt in reversed(prompts)])[::-1]
    assert alone.tolist() == out.tolist()


def test_the_conversation_history_changes_the_prediction(predictor):
    long_reply = "Here is the first chapter of the story. " * 60  # about 540 tokens
    first_turn, after_long_reply = predictor.predict_texts(["continue", "continue"],
                                                           [(), (("write a long story", long_reply),)])
    # "continue" after a long reply asks for another long one; as an opener it says little
    assert after_long_reply > 2 * first_turn
    # the history reaches the model through RequestBatch.histories (what the simulator's router passes)
    batch = RequestBatch(np.zeros(2, dtype=np.int64), np.zeros(2), {}, ["continue", "continue"],
                         [(), (("write a long story", long_reply),)])
    assert predictor.predict_output_tokens(batch).tolist() == [first_turn, after_long_reply]


def test_requests_without_text_are_refused(predictor):
    with pytest.raises(InputError, match="prompt text"):
        predictor.predict_output_tokens(RequestBatch(np.array([10]), np.zeros(1)))


def test_inference_does_not_import_torch():
    code = ("import sys; from preserve_cli.loadpred import load_predictor; "
            "p = load_predictor('builtin:text'); p.predict_texts(['hello there']); "
            "print('torch' in sys.modules, 'transformers' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]
    assert result.stderr == ""  # no provider warnings on a CPU machine


def test_beats_both_references_on_held_out_sharegpt(predictor):
    evaluation = evaluate_sharegpt(predictor, limit=1500)
    model, mean, bucket = evaluation.scores
    assert evaluation.test_requests == 1500
    assert model.mae < bucket.mae and model.mae < mean.mae
    assert model.acc_100 > bucket.acc_100
