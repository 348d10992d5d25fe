"""preserve's own requests Parquet (what `preserve ingest` writes, docs/formats.md), read back as a log:
to merge several ingests, re-check a file made elsewhere, or ingest a warehouse export in
that layout. Parquet only: `ts`, `input_tokens`, `output_tokens`, optional labels and latencies.
"""

from preserve_cli.ingest.formats.base import LABEL_ROLES, LATENCY_ROLES, WALLCLOCK_UTC, LogFormat

REQUESTS = LogFormat(
    name="requests",
    description="preserve requests Parquet (ts, input_tokens, output_tokens, labels, ttft_ms, e2e_ms)",
    container="parquet",
    columns={"ts": "ts", "input": "input_tokens", "output": "output_tokens"},
    optional_columns={**{role: role for role in LABEL_ROLES}, **{role: role for role in LATENCY_ROLES}},
    time=WALLCLOCK_UTC,
)
