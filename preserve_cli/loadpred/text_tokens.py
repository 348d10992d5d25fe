"""Tokenization for the text predictor with the light `tokenizers` package (no torch, no transformers).

Lengths are counted in all-MiniLM-L6-v2's tokenizer: BERT's uncased WordPiece vocabulary (30,522 entries,
the tokenizer.json bundled with the model). Prompt and response token counts exclude [CLS] and [SEP].
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

PAD_ID = 0  # [PAD] in the bundled vocab.txt


def load_tokenizer(tokenizer_json: Path):
    """The WordPiece tokenizer without truncation or padding: the model graph cuts and pads itself."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_json))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def token_counts(tokenizer, texts: list[str]) -> np.ndarray:
    """Tokens per text, special tokens excluded (the unit every length in `loadpred` is counted in)."""
    return np.array([len(encoding.ids) for encoding in tokenizer.encode_batch(texts, add_special_tokens=False)],
                    dtype=np.int64)


def model_inputs(tokenizer, texts: list[str]) -> dict[str, np.ndarray]:
    """`input_ids` and `attention_mask` (int64, N x longest prompt), whole prompts right-padded with [PAD].

    Prompts are not truncated here: the graph encodes the first tokens only but counts the whole mask
    for its prompt-length feature.
    """
    encodings = tokenizer.encode_batch(texts, add_special_tokens=True)
    width = max((len(encoding.ids) for encoding in encodings), default=1)
    ids = np.full((len(texts), width), PAD_ID, dtype=np.int64)
    mask = np.zeros_like(ids)
    for row, encoding in enumerate(encodings):
        ids[row, :len(encoding.ids)] = encoding.ids
        mask[row, :len(encoding.ids)] = 1
    return {"input_ids": ids, "attention_mask": mask}
