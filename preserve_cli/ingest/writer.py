"""requests.parquet: canonical rows streamed from DuckDB into a deterministic Parquet file.

The rows arrive in file order as Arrow batches. On the way through, each batch is
counted (rows, token sums, first/last time) and checked for time order, so a sorted
log — the usual case — is written in ONE pass. An unsorted log is then sorted by
DuckDB (out-of-core) and written again.

Row groups always hold exactly ROW_GROUP_ROWS rows (the last one the rest), whatever
batch sizes DuckDB's parallel scan produces, so the same input gives the same bytes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from preserve_cli.ingest import sql
from preserve_cli.ingest.rows import DATA_ERROR_PREFIXES, RequestRows, StreamedDataError

ROW_GROUP_ROWS = 1 << 20   # ~1M rows: big enough for fast scans, small enough to stream
ARROW_BATCH_ROWS = 1 << 17
# The integer columns (time and token counts) are bit-packed deltas, uncompressed. Measured on
# 10M Azure-like rows (benchmarks/ingest.py data; docs/benchmarks.md, "Ingest"), CPU seconds of
# pyarrow writing them / DuckDB aggregating them hourly, and the file size:
#   deltas, uncompressed (this)                   0.22 / 0.09   56 MB
#   time deltas, token dictionary ids, snappy     0.25 / 0.12   54 MB  (session 2's choice)
#   the same uncompressed                         0.24 / 0.12   54 MB
#   all plain, uncompressed                       0.17 / 0.09  240 MB
# Snappy finds nothing left to squeeze in bit-packed data (0.1%), and deltas, unlike a dictionary,
# do not fall back to plain when a row group holds more distinct counts than a dictionary page.
DELTA_COLUMNS = ("ts", "input_tokens", "output_tokens")
# Labels (dictionary ids) and latencies keep session 2's snappy (not re-measured: the benchmark log has neither).
OTHER_COMPRESSION = "snappy"

Progress = Callable[[int], None]


@dataclass
class WriteStats:
    rows: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    first_us: int | None = None
    last_us: int | None = None
    unsorted: bool = False
    _previous_us: int | None = None

    def add(self, ts_us: np.ndarray, input_tokens: np.ndarray, output_tokens: np.ndarray) -> None:
        if not len(ts_us):
            return
        self.rows += len(ts_us)
        self.input_tokens += int(input_tokens.sum())
        self.output_tokens += int(output_tokens.sum())
        in_order = not np.any(ts_us[1:] < ts_us[:-1])
        # In a sorted batch the ends are the extremes: no extra pass over the times.
        low, high = (int(ts_us[0]), int(ts_us[-1])) if in_order else (int(ts_us.min()), int(ts_us.max()))
        self.first_us = low if self.first_us is None else min(self.first_us, low)
        self.last_us = high if self.last_us is None else max(self.last_us, high)
        behind = self._previous_us is not None and int(ts_us[0]) < self._previous_us
        self.unsorted = self.unsorted or behind or not in_order
        self._previous_us = int(ts_us[-1])


def arrow_schema(columns: list[str]) -> pa.Schema:
    fields = [pa.field("ts", pa.timestamp("us", tz="UTC")), pa.field("input_tokens", pa.int64()),
              pa.field("output_tokens", pa.int64())]
    fields += [pa.field(name, pa.float64() if sql.column_type(name) == "DOUBLE" else pa.string())
               for name in columns[3:]]
    return pa.schema(fields)


def parquet_settings(schema: pa.Schema) -> dict:
    """pyarrow ParquetWriter settings per column: see DELTA_COLUMNS."""
    others = [name for name in schema.names if name not in DELTA_COLUMNS]
    return {
        "compression": {name: "none" if name in DELTA_COLUMNS else OTHER_COMPRESSION for name in schema.names},
        # Labels repeat a lot (dictionary ids); latencies (DOUBLE) hardly ever.
        "use_dictionary": [name for name in others if sql.column_type(name) != "DOUBLE"],
        "column_encoding": {name: "DELTA_BINARY_PACKED" for name in DELTA_COLUMNS if name in schema.names},
    }


def arrow_batches(con: duckdb.DuckDBPyConnection, query: str) -> Iterator[pa.RecordBatch]:
    """The rows of `query` as Arrow batches; a DuckDB data error met on the way is raised as
    StreamedDataError (so that RequestRows takes the line-exact path), not as a bare OSError."""
    reader = con.sql(query).to_arrow_reader(ARROW_BATCH_ROWS)
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        except OSError as exc:
            if str(exc).startswith(DATA_ERROR_PREFIXES):
                raise StreamedDataError(str(exc)) from exc
            raise
        yield batch


def stream_to_parquet(con: duckdb.DuckDBPyConnection, query: str, target: Path, schema: pa.Schema,
                      progress: Progress | None = None) -> WriteStats:
    """Write the rows of `query` to `target`, counting them on the way."""
    stats = WriteStats()
    pending: list[pa.Table] = []
    pending_rows = 0
    with pq.ParquetWriter(target, schema, sorting_columns=[pq.SortingColumn(0)], **parquet_settings(schema)) as writer:
        for batch in arrow_batches(con, query):
            table = pa.Table.from_batches([batch]).cast(schema)
            stats.add(*(column.to_numpy() for column in (table.column(0).cast(pa.int64()), table.column(1),
                                                          table.column(2))))
            pending.append(table)
            pending_rows += table.num_rows
            while pending_rows >= ROW_GROUP_ROWS:
                merged = pa.concat_tables(pending)
                writer.write_table(merged.slice(0, ROW_GROUP_ROWS), row_group_size=ROW_GROUP_ROWS)
                rest = merged.slice(ROW_GROUP_ROWS)
                pending, pending_rows = [rest], rest.num_rows
            if progress is not None:
                progress(stats.rows)
        if pending_rows:
            writer.write_table(pa.concat_tables(pending), row_group_size=ROW_GROUP_ROWS)
    return stats


def write_requests(rows: RequestRows, target: Path, progress: Progress | None = None) -> WriteStats:
    """Write the canonical rows to `target` (a temporary path: the caller renames it), sorted by time."""
    schema = arrow_schema(rows.columns)
    stats = rows.run(lambda query: stream_to_parquet(rows.con, query, target, schema, progress))
    if stats.unsorted and stats.rows:
        # Every column takes part in the order so that ties sort the same way every run.
        order = ", ".join(rows.columns)
        resorted = target.with_name(target.name + ".sorted")
        try:
            stream_to_parquet(rows.con, f"SELECT * FROM read_parquet({sql.literal(str(target))}) ORDER BY {order}",
                              resorted, schema)
            os.replace(resorted, target)
        finally:
            resorted.unlink(missing_ok=True)
    return stats
