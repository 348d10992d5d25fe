"""Vidur / Splitwise request traces (microsoft/vidur request-generator CSVs).

Columns `arrived_at` (seconds since the trace started, float), `num_prefill_tokens`,
`num_decode_tokens`; other columns (e.g. `request_type`) are ignored. Times are
relative: they are added to the epoch (--epoch).
"""

from preserve_cli.ingest.formats.base import LogFormat, numeric_time

VIDUR = LogFormat(
    name="vidur",
    description="Vidur/Splitwise trace CSV (arrived_at in s from trace start, num_prefill_tokens, num_decode_tokens)",
    container="csv",
    columns={"ts": "arrived_at", "input": "num_prefill_tokens", "output": "num_decode_tokens"},
    time=numeric_time("s", relative=True),
)
