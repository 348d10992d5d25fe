"""Mooncake traces (kvcache-ai/Mooncake, FAST'25 release).

JSONL, one request a line: `timestamp` (ms since the trace started), `input_length`,
`output_length`, and `hash_ids` (prefix-cache block hashes, not needed for demand and
never read). Times are relative: they are added to the epoch (--epoch).
"""

from preserve_cli.ingest.formats.base import LogFormat, numeric_time

MOONCAKE = LogFormat(
    name="mooncake",
    description="Mooncake JSONL (timestamp in ms from trace start, input_length, output_length)",
    container="jsonl",
    columns={"ts": "timestamp", "input": "input_length", "output": "output_length"},
    time=numeric_time("ms", relative=True),
)
