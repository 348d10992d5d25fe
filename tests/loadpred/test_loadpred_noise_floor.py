"""The prompt-only noise floor: spread of response lengths to one prompt, and the best constant's score."""

from __future__ import annotations

import numpy as np
import pytest

from preserve_cli.loadpred.noise_floor import (
    distinct_responses,
    duplicate_groups,
    near_duplicate_pairs,
    normalise,
    pair_floor,
    prompt_floor,
)


def test_whitespace_is_normalised_but_case_is_kept():
    assert normalise("  Write\n\ta   poem ") == "Write a poem"
    assert normalise("Continue") != normalise("continue")


def test_copies_of_one_exchange_count_once_and_groups_need_two_rows():
    prompts = ["hi", "hi ", "hi", "write a poem", "solo"]
    responses = ["hello", "hello", "hey there", "roses", "x"]
    kept = distinct_responses(prompts, responses)
    assert kept.tolist() == [0, 2, 3, 4]  # row 1 repeats row 0's prompt and response
    groups = duplicate_groups(prompts, kept)
    assert [group.tolist() for group in groups] == [[0, 2]]


def test_prompt_floor_is_the_group_median_error_and_the_densest_window():
    # one prompt answered with 10, 20 and 400 tokens; another with 100 and 100
    groups = [np.array([0, 1, 2]), np.array([3, 4])]
    lengths = np.array([10, 20, 400, 100, 100])
    floor = prompt_floor(groups, lengths)
    assert (floor.groups, floor.rows) == (2, 5)
    # best constant: 20 for the first group (errors 10, 0, 380), 100 for the second (0, 0)
    assert floor.floor_mae == pytest.approx(390 / 5)
    # within 100 of one constant: 2 of the first group, both of the second
    assert floor.floor_acc_100 == pytest.approx(4 / 5)
    # per row, mean distance to the other answers: (10+390)/2, (10+380)/2, (390+380)/2, 0, 0
    assert floor.spread_mae == pytest.approx((200 + 195 + 385) / 5)
    assert floor.spread_within[25] == pytest.approx((0.5 + 0.5 + 0 + 1 + 1) / 5)


def test_near_duplicates_are_found_by_cosine_and_scored_pairwise():
    embeddings = np.array([[1.0, 0.0], [0.99, 0.05], [0.0, 1.0], [2.0, 0.01]])
    first, second = near_duplicate_pairs(embeddings, 0.98, block=2)  # a block edge between rows 1 and 2
    assert sorted(zip(first.tolist(), second.tolist())) == [(0, 1), (0, 3), (1, 3)]
    floor = pair_floor(np.array([0]), np.array([1]), np.array([50, 350]))
    assert (floor.rows, floor.spread_mae, floor.floor_mae) == (2, 300.0, 150.0)
    assert floor.floor_acc_100 == 0.5  # 300 apart: one constant serves only one of the two
    assert floor.spread_within[100] == 0.0


def test_no_duplicates_gives_an_empty_floor_not_an_error():
    floor = prompt_floor([], np.array([1, 2]))
    assert floor.rows == 0 and np.isnan(floor.floor_mae)
    assert floor.to_dict()["spread_within"].keys() == {"25", "50", "100"}
