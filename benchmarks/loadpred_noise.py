"""Loadpred noise floor: how far apart are ShareGPT's responses to the same prompt? (issue 8, task step 1)

No predictor that reads only the prompt can beat, on rows that share a prompt, the best constant per prompt
(preserve_cli/loadpred/noise_floor.py). Lengths in all-MiniLM-L6-v2 WordPiece tokens (the text model's unit).
Rows that copy another row's prompt AND response (one exchange shared twice) are kept once.

  (1) exact duplicates after whitespace normalisation, all turns;
  (2) the same, first turns only (no earlier turns: the spread is the chat model's own variation);
  (3) near-duplicates: prompt embedding cosine >= --cosine (all-MiniLM-L6-v2 mean-pooled, uncased), pairs that
      are not exact duplicates; needs the embedding cache of `preserve loadpred train-text` (--cache-dir;
      computed with onnxruntime when only the exported encoder is there, about 11 minutes);
  and how many held-out rows (seed-0 split) copy a training row's prompt and response.

    python benchmarks/loadpred_noise.py
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from preserve_cli.cli.loadpred_cmd import DEFAULT_CACHE
from preserve_cli.loadpred.noise_floor import (
    SpreadFloor,
    distinct_responses,
    duplicate_groups,
    near_duplicate_pairs,
    normalise,
    pair_floor,
    prompt_floor,
)
from preserve_cli.loadpred.sharegpt import load_sharegpt, split_by_conversation
from preserve_cli.loadpred.text_context import sharegpt_histories
from preserve_cli.loadpred.text_encoder import bundled_model_dir
from preserve_cli.loadpred.text_tokens import load_tokenizer, token_counts


def _print(label: str, floor: SpreadFloor) -> None:
    within = "  ".join(f"within {band}: {share:.1%}" for band, share in floor.spread_within.items())
    print(f"  {label}: {floor.groups:,} prompts/pairs, {floor.rows:,} rows")
    print(f"    spread between responses: mean {floor.spread_mae:.1f} tokens (median row {floor.spread_median:.1f}); "
          f"{within}")
    print(f"    best prompt-only predictor on these rows: MAE >= {floor.floor_mae:.1f}, Acc-100 <= "
          f"{floor.floor_acc_100:.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cosine", type=float, default=0.98)
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--json", action="store_true", help="print one JSON document instead")
    args = parser.parse_args()

    pairs, _ = load_sharegpt()
    prompts, responses = [p.prompt for p in pairs], [p.response for p in pairs]
    tokenizer = load_tokenizer(bundled_model_dir() / "tokenizer.json")
    lengths = token_counts(tokenizer, responses)
    kept = distinct_responses(prompts, responses)
    first_turns = np.array([not history for history in sharegpt_histories(pairs)])
    results = {"samples": len(pairs), "distinct_exchanges": len(kept),
               "exact": prompt_floor(duplicate_groups(prompts, kept), lengths),
               "exact_first_turn": prompt_floor(duplicate_groups(prompts, kept[first_turns[kept]]), lengths)}

    train_rows, test_rows = split_by_conversation(pairs, seed=0)
    seen = {(normalise(prompts[row]), normalise(responses[row])) for row in train_rows}
    results["test_rows_copying_a_training_exchange"] = int(sum(
        (normalise(prompts[row]), normalise(responses[row])) in seen for row in test_rows))

    encoder = args.cache_dir / "encoder.int8.onnx"
    if encoder.exists():
        from preserve_cli.loadpred.text_train import cached_prompt_embeddings

        embeddings, _ = cached_prompt_embeddings(args.cache_dir, encoder.read_bytes(), None, tokenizer, prompts)
        first, second = near_duplicate_pairs(embeddings[kept], args.cosine)
        first, second = kept[first], kept[second]
        not_exact = np.array([normalise(prompts[i]) != normalise(prompts[j]) for i, j in zip(first, second)], dtype=bool)
        results["near"] = pair_floor(first[not_exact], second[not_exact], lengths)

    if args.json:
        print(json.dumps({key: value.to_dict() if isinstance(value, SpreadFloor) else value
                          for key, value in results.items()}, indent=2, sort_keys=True))
        return
    print(f"ShareGPT V3: {results['samples']:,} samples, {results['distinct_exchanges']:,} distinct "
          f"(prompt, response) exchanges; lengths in MiniLM WordPiece tokens")
    _print("(1) exact duplicate prompts", results["exact"])
    _print("(2) exact duplicate prompts, first turns only", results["exact_first_turn"])
    if "near" in results:
        _print(f"(3) near-duplicate prompts (cosine >= {args.cosine}, not exact)", results["near"])
    else:
        print(f"  (3) skipped: no exported encoder in {args.cache_dir} (run `preserve loadpred train-text` first)")
    print(f"  held-out rows (seed-0 split) that copy a training row's prompt and response: "
          f"{results['test_rows_copying_a_training_exchange']:,} of {len(test_rows):,}")


if __name__ == "__main__":
    main()
