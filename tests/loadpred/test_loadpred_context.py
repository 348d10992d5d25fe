"""Conversation history for the text predictor: ShareGPT histories and their token-count features."""

from __future__ import annotations

import numpy as np
import pytest

from preserve_cli.loadpred.base import RequestBatch
from preserve_cli.loadpred.requests_io import LabelledRequests
from preserve_cli.loadpred.sharegpt import PromptResponse
from preserve_cli.loadpred.text_context import (
    HISTORY_COLUMNS,
    TokenCountCache,
    history_features,
    sharegpt_histories,
)


class WhitespaceTokenizer:
    """Stands in for the WordPiece tokenizer: one token per word (the `tokenizers` encode_batch shape)."""

    class _Encoding:
        def __init__(self, text: str) -> None:
            self.ids = text.split()

    def encode_batch(self, texts, add_special_tokens=True):
        return [self._Encoding(text) for text in texts]


def test_history_runs_across_the_parts_of_one_conversation_and_restarts_with_the_next():
    pairs = [PromptResponse("a_0", "p1", "r1"), PromptResponse("a_0", "p2", "r2"),
             PromptResponse("a_1", "p3", "r3"), PromptResponse("b_0", "q1", "s1")]
    histories = sharegpt_histories(pairs)
    assert histories == [(), (("p1", "r1"),), (("p1", "r1"), ("p2", "r2")), ()]


def test_history_features_count_turns_and_tokens():
    histories = [(), (("one two", "a b c d"),), (("one two", "a b c d"), ("three", "e f"))]
    features = history_features(WhitespaceTokenizer(), histories, 3)
    assert features.shape == (3, len(HISTORY_COLUMNS)) and features.dtype == np.float32
    assert features[0].tolist() == [0, 0, 0, 0, 0]  # a first turn
    # turns, previous reply, previous prompt, mean reply, all history tokens
    assert features[1].tolist() == [1, 4, 2, 4, 6]
    assert features[2].tolist() == [2, 2, 1, 3, 9]


def test_no_histories_means_first_turns_and_a_length_mismatch_is_refused():
    assert not history_features(WhitespaceTokenizer(), None, 2).any()
    with pytest.raises(ValueError, match="2 histories for 3 requests"):
        history_features(WhitespaceTokenizer(), [(), ()], 3)


def test_taking_rows_keeps_each_request_with_its_own_history():
    histories = [(), (("p", "r"),), (("p", "r"), ("q", "s"))]
    batch = RequestBatch(np.array([1, 2, 3]), np.zeros(3), {}, ["a", "b", "c"], histories)
    taken = LabelledRequests(batch, np.array([5, 6, 7])).take(np.array([2, 0]))
    assert taken.batch.prompts == ["c", "a"]
    assert taken.batch.histories == [histories[2], ()]
    assert taken.output_tokens.tolist() == [7, 5]


def _tiny_text_model(tmp_path, with_history: bool):
    """A hand-written text model: output = prompt tokens (+ 10 x the previous reply's tokens, if it reads history)."""
    import onnx
    from onnx import TensorProto, helper

    from preserve_cli.loadpred import resolve_model_path
    from preserve_cli.loadpred.model_file import TEXT_KIND, ModelInfo, with_info
    from preserve_cli.loadpred.text_predictor import TOKENIZER_METADATA_KEY

    nodes = [helper.make_node("Cast", ["attention_mask"], ["mask_f"], to=TensorProto.FLOAT),
             helper.make_node("ReduceSum", ["mask_f", "axis"], ["with_specials"], keepdims=1),
             helper.make_node("Sub", ["with_specials", "two"], ["prompt_tokens"])]
    inputs = [helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "tokens"])
              for name in ("input_ids", "attention_mask")]
    initializers = [helper.make_tensor("axis", TensorProto.INT64, [1], [1]),
                    helper.make_tensor("two", TensorProto.FLOAT, [], [2.0])]
    if with_history:
        inputs.append(helper.make_tensor_value_info("history", TensorProto.FLOAT, ["batch", len(HISTORY_COLUMNS)]))
        initializers += [helper.make_tensor("pick", TensorProto.FLOAT, [len(HISTORY_COLUMNS), 1],
                                            [0, 10, 0, 0, 0])]
        nodes += [helper.make_node("MatMul", ["history", "pick"], ["from_history"]),
                  helper.make_node("Add", ["prompt_tokens", "from_history"], ["output_tokens"])]
    else:
        nodes.append(helper.make_node("Identity", ["prompt_tokens"], ["output_tokens"]))
    graph = helper.make_graph(nodes, "tiny", inputs,
                              [helper.make_tensor_value_info("output_tokens", TensorProto.FLOAT, ["batch", 1])],
                              initializers)
    model = with_info(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8),
                      ModelInfo(kind=TEXT_KIND, name="tiny", trained_on="hand-written", training_requests=0))
    entry = model.metadata_props.add()
    entry.key = TOKENIZER_METADATA_KEY
    shipped = onnx.load(str(resolve_model_path("builtin:text")))  # its tokenizer.json: no model package needed
    entry.value = next(prop.value for prop in shipped.metadata_props if prop.key == TOKENIZER_METADATA_KEY)
    path = tmp_path / f"tiny-{with_history}.onnx"
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize("with_history", [True, False])
def test_text_models_with_and_without_a_history_input_both_load(tmp_path, with_history):
    from preserve_cli.loadpred import load_predictor

    predictor = load_predictor(_tiny_text_model(tmp_path, with_history))
    assert predictor.reads_history is with_history
    # "hello world" is 2 tokens; the previous reply "one two three" is 3 tokens
    out = predictor.predict_texts(["hello world", "hello world"], [(), (("hi", "one two three"),)])
    assert out.tolist() == ([2.0, 32.0] if with_history else [2.0, 2.0])
    assert predictor.predict_texts(["hello world"]).tolist() == [2.0]  # no histories: a first turn


class CountingTokenizer(WhitespaceTokenizer):
    def __init__(self) -> None:
        self.encoded: list[str] = []

    def encode_batch(self, texts, add_special_tokens=True):
        self.encoded.extend(texts)
        return super().encode_batch(texts, add_special_tokens)


def test_the_count_cache_tokenizes_each_text_once_and_drops_the_oldest_first():
    tokenizer, cache = CountingTokenizer(), TokenCountCache(capacity=3)
    first = history_features(tokenizer, [(("a b", "c d e"),)], 1, cache)
    assert tokenizer.encoded == ["a b", "c d e"]
    # the next turn of the same chat: only the newest exchange is tokenized, the numbers are the same as cold
    history = (("a b", "c d e"), ("f", "g h"))
    warm = history_features(tokenizer, [history], 1, cache)
    assert tokenizer.encoded == ["a b", "c d e", "f", "g h"]
    assert warm.tolist() == history_features(WhitespaceTokenizer(), [history], 1).tolist()
    assert first[0, 1] == 3 and len(cache) == 3  # capacity 3: "a b", the oldest, was dropped
    history_features(tokenizer, [(("a b", "g h"),)], 1, cache)
    assert tokenizer.encoded[-1] == "a b"  # counted again after its eviction; "g h" still cached
