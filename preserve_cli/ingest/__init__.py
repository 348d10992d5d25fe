"""Ingest: request logs -> canonical requests Parquet (`ts` UTC, `input_tokens`,
`output_tokens`, optional labels and latencies `ttft_ms`, `e2e_ms`).

Logs: traces (Azure, BurstGPT, Mooncake, Vidur), usage records and gateway logs (OpenAI,
LiteLLM, Kong), Parquet exports, any CSV/JSONL/Parquet via --map; plain, gzip or zstd;
files, folders and globs (docs/ingest.md). `warehouse.demand_sql` gives the demand
aggregation as SQL for a warehouse (docs/warehouse.md).

Library API:
* `ingest_logs(paths, output, ...) -> IngestSummary` writes requests.parquet;
* `request_rows(con, paths, options)` gives the same canonical rows as DuckDB SQL
  without writing anything (the demand step aggregates them in one pass);
* `duckdb_connection()` opens a DuckDB set up for both (bounded memory, UTC).
"""

from preserve_cli.ingest.api import IngestSummary, ingest_logs
from preserve_cli.ingest.dirty import SkipStat
from preserve_cli.ingest.plan import IngestOptions
from preserve_cli.ingest.rows import RequestRows, duckdb_connection, request_rows

__all__ = ["IngestOptions", "IngestSummary", "RequestRows", "SkipStat", "duckdb_connection",
           "ingest_logs", "request_rows"]
