"""Azure LLM inference traces (Azure/AzurePublicDataset).

2023 trace (Splitwise, ISCA'24): `TIMESTAMP,ContextTokens,GeneratedTokens`, wall-clock
UTC with 100 ns ticks (`2023-11-16 18:17:03.9799600`). The 2024 week-long traces use
the same columns; their timestamps may carry an offset (`2024-05-10 00:00:00.0000000+00:00`).
Both layouts parse with the wall-clock rules in `preserve_cli.ingest.sql`.
"""

from preserve_cli.ingest.formats.base import WALLCLOCK_UTC, LogFormat

AZURE = LogFormat(
    name="azure",
    description="Azure LLM inference trace CSV (TIMESTAMP, ContextTokens, GeneratedTokens; 2023 and 2024 layouts)",
    container="csv",
    columns={"ts": "TIMESTAMP", "input": "ContextTokens", "output": "GeneratedTokens"},
    time=WALLCLOCK_UTC,
)
