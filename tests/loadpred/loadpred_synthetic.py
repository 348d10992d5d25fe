"""Synthetic request logs whose output length depends on the prompt length and the model label."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from preserve_cli.loadpred.base import RequestBatch
from preserve_cli.loadpred.requests_io import LabelledRequests


def synthetic_requests(rows: int = 4000, seed: int = 0) -> LabelledRequests:
    """Model "chatty" answers ~4x longer than "terse"; longer prompts get longer answers; 10% noise."""
    rng = np.random.default_rng(seed)
    input_tokens = rng.integers(10, 4000, rows)
    model = rng.choice(np.array(["chatty", "terse"], dtype=object), rows)
    base = np.where(model == "chatty", 400.0, 100.0) * (1 + input_tokens / 4000)
    output_tokens = np.maximum(1, np.round(base * rng.lognormal(0.0, 0.1, rows))).astype(np.int64)
    arrival_s = 1.7e9 + np.sort(rng.uniform(0, 3600, rows))
    return LabelledRequests(RequestBatch(input_tokens.astype(np.int64), arrival_s, {"model": model}), output_tokens)


def write_parquet(requests: LabelledRequests, path: Path) -> Path:
    """The canonical requests.parquet layout of `preserve ingest`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    us = (requests.batch.arrival_s * 1e6).astype(np.int64)
    table = pa.table({"ts": pa.array(us, pa.timestamp("us", tz="UTC")),
                      "input_tokens": pa.array(requests.batch.input_tokens, pa.int64()),
                      "output_tokens": pa.array(requests.output_tokens, pa.int64()),
                      "model": pa.array(list(requests.batch.labels["model"]), pa.string())})
    pq.write_table(table, path)
    return path
