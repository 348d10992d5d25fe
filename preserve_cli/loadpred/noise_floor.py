"""How far apart are the responses to the same prompt? The floor under any prompt-only length predictor.

A predictor that reads only the prompt gives one answer per prompt. Where a data set holds the same prompt
several times with different responses, no such predictor can beat, on those rows, the error of the best
constant for the group: the group median for the absolute error, and the densest 200-token window for
Acc-100 (share within 100 tokens). `prompt_floor` measures that, and the spread between the responses
(the mean |length_i - length_j| over pairs of responses to one prompt, each row weighted equally so one
prompt asked 700 times does not outweigh the rest).

Two kinds of "same prompt":
* exact duplicates after whitespace normalisation (`duplicate_groups`);
* near-duplicates: embedding cosine similarity >= a threshold (`near_duplicate_pairs`), e.g. the same
  question with a different name or number in it. For a pair the best constant is any value between the
  two lengths, so its floor is half their distance.

Records that are copies of one conversation (same prompt AND the same response text) are one sample shared
twice, not two answers: `distinct_responses` keeps one row per (prompt, response) so they do not pull the
floor down.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import asdict, dataclass

import numpy as np

_RUNS_OF_WHITESPACE = re.compile(r"\s+")
WITHIN_TOKENS = (25, 50, 100)  # PreServe Table 2's accuracy bands


def normalise(text: str) -> str:
    """Runs of whitespace -> one space, ends stripped (case and punctuation are kept: they change answers)."""
    return _RUNS_OF_WHITESPACE.sub(" ", text).strip()


def distinct_responses(prompts: list[str], responses: list[str]) -> np.ndarray:
    """Row indices keeping the first row of each (normalised prompt, normalised response) pair."""
    seen: set[tuple[str, str]] = set()
    kept = []
    for row, (prompt, response) in enumerate(zip(prompts, responses, strict=True)):
        key = (normalise(prompt), normalise(response))
        if key not in seen:
            seen.add(key)
            kept.append(row)
    return np.array(kept, dtype=np.int64)


def duplicate_groups(prompts: list[str], rows: np.ndarray | None = None) -> list[np.ndarray]:
    """Groups (row indices, two or more) of `rows` whose prompts are equal after `normalise`."""
    rows = np.arange(len(prompts)) if rows is None else rows
    groups: dict[str, list[int]] = defaultdict(list)
    for row in rows.tolist():
        groups[normalise(prompts[row])].append(row)
    return [np.array(group, dtype=np.int64) for group in groups.values() if len(group) > 1]


@dataclass(frozen=True)
class SpreadFloor:
    """Spread of response lengths among rows that share a prompt, and the best prompt-only score there."""

    groups: int  # prompts (or near-duplicate pairs) measured
    rows: int  # rows in them
    spread_mae: float  # mean |length_i - length_j| between responses to one prompt, each row weighted equally
    spread_median: float  # median of the same per-row mean distances
    spread_within: dict[int, float]  # share of response pairs within 25/50/100 tokens, each row weighted equally
    floor_mae: float  # MAE of the best constant per group (the group median): no prompt-only model does better
    floor_acc_100: float  # Acc-100 of the best constant per group: no prompt-only model does better

    def to_dict(self) -> dict:
        result = asdict(self)
        result["spread_within"] = {str(band): share for band, share in self.spread_within.items()}
        return result


def _densest_window(lengths: np.ndarray, half_width: float) -> int:
    """Most lengths inside one window [c - half_width, c + half_width] (two-pointer sweep over sorted lengths)."""
    ordered = np.sort(lengths)
    ends = np.searchsorted(ordered, ordered + 2 * half_width, side="right")
    return int((ends - np.arange(len(ordered))).max())


def prompt_floor(groups: list[np.ndarray], lengths: np.ndarray) -> SpreadFloor:
    """Spread and best-constant floor over exact-duplicate groups (see the module docstring)."""
    lengths = np.asarray(lengths, dtype=np.float64)
    row_mean_distance, row_within = [], {band: [] for band in WITHIN_TOKENS}
    floor_error, floor_hits, rows = 0.0, 0, 0
    for group in groups:
        values = lengths[group]
        distance = np.abs(values[:, None] - values[None, :])
        others = len(values) - 1  # the diagonal (a row against itself) is left out of every mean
        row_mean_distance.extend((distance.sum(axis=1) / others).tolist())
        for band in WITHIN_TOKENS:
            row_within[band].extend((((distance <= band).sum(axis=1) - 1) / others).tolist())
        floor_error += float(np.abs(values - np.median(values)).sum())
        floor_hits += _densest_window(values, 100)
        rows += len(values)
    return _floor(len(groups), rows, row_mean_distance, row_within, floor_error, floor_hits)


def near_duplicate_pairs(embeddings: np.ndarray, threshold: float, *, block: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Row pairs (i < j) whose embeddings have cosine similarity >= `threshold` (blockwise, O(N^2) dot products)."""
    unit = np.asarray(embeddings, dtype=np.float32)
    unit = unit / np.maximum(np.linalg.norm(unit, axis=1, keepdims=True), 1e-12)
    first, second = [], []
    for start in range(0, len(unit), block):
        similarity = unit[start:start + block] @ unit[start:].T
        rows, columns = np.nonzero(similarity >= threshold)
        columns = columns + start
        upper = columns > rows + start
        first.append(rows[upper] + start)
        second.append(columns[upper])
    if not first:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(first).astype(np.int64), np.concatenate(second).astype(np.int64)


def pair_floor(first: np.ndarray, second: np.ndarray, lengths: np.ndarray) -> SpreadFloor:
    """Spread and floor over row pairs (near-duplicates): per row, the mean over the rows it is paired with.

    The floor of a pair is half the distance of its lengths (the best constant lies between them), and its
    Acc-100 floor counts both rows when they are within 200 tokens of each other, one row otherwise;
    each row takes the mean over its pairs.
    """
    lengths = np.asarray(lengths, dtype=np.float64)
    distance = np.abs(lengths[first] - lengths[second])
    both = np.concatenate([first, second])
    twice = np.concatenate([distance, distance])
    partners = np.bincount(both)
    members = np.flatnonzero(partners)

    def per_row(values: np.ndarray) -> np.ndarray:
        return np.bincount(both, weights=values, minlength=len(partners))[members] / partners[members]

    mean_distance = per_row(twice)
    within = {band: per_row((twice <= band).astype(np.float64)).tolist() for band in WITHIN_TOKENS}
    floor_error = float((mean_distance / 2).sum())
    floor_hits = float(per_row(np.where(twice <= 200, 1.0, 0.5)).sum())
    return _floor(len(first), len(members), mean_distance.tolist(), within, floor_error, floor_hits)


def _floor(groups: int, rows: int, row_mean_distance: list[float], row_within: dict[int, list[float]],
           floor_error: float, floor_hits: float) -> SpreadFloor:
    if rows == 0:
        nan = float("nan")
        return SpreadFloor(groups, 0, nan, nan, {band: nan for band in WITHIN_TOKENS}, nan, nan)
    return SpreadFloor(groups, rows, float(np.mean(row_mean_distance)), float(np.median(row_mean_distance)),
                       {band: float(np.mean(shares)) for band, shares in row_within.items()},
                       floor_error / rows, floor_hits / rows)
