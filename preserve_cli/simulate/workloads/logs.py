"""Workload from request logs: a requests.parquet written by `preserve ingest`, or any raw log
`preserve ingest` reads (Azure 2023/2024, Mooncake, Vidur CSV, ...; format detected, or `--format`),
read in place through the same DuckDB rows the ingest step writes (nothing written)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from preserve_cli.errors import InputError
from preserve_cli.simulate.workload import Workload, make_workload

_LABELS = ("model", "service", "client", "region")


def _select(columns: set[str], source: str) -> str:
    labels = [c for c in _LABELS if c in columns]
    picked = ", ".join(["epoch_us(ts) AS ts_us", "input_tokens", "output_tokens", *labels])
    return f"SELECT {picked} FROM ({source}) WHERE ts IS NOT NULL AND input_tokens IS NOT NULL " \
           f"AND output_tokens IS NOT NULL ORDER BY ts"


def _to_workload(data: dict[str, np.ndarray], source: str, total: int, time_compression: float) -> Workload:
    notes = []
    dropped = total - len(data["ts_us"])
    if dropped:
        notes.append(f"{dropped:,} rows without a time or token count were left out")
    labels = {k: np.asarray(v, dtype=object) for k, v in data.items() if k in _LABELS}
    return make_workload(np.asarray(data["ts_us"], dtype=np.float64) / 1e6, data["input_tokens"],
                         data["output_tokens"], source=source, time_compression=time_compression, labels=labels,
                         notes=tuple(notes))


def workload_from_logs(paths: str | Path | list[str | Path], *, format: str | None = None,
                       mapping: str | None = None, time_compression: float = 1.0) -> Workload:
    """`format`/`mapping` as `preserve ingest --format/--map` (ts=COL,input=COL,output=COL for any CSV/JSONL)."""
    from preserve_cli.ingest import IngestOptions, duckdb_connection, request_rows

    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    source = ", ".join(str(p) for p in paths)
    with duckdb_connection() as con:
        if all(str(p).endswith(".parquet") for p in paths):
            for p in paths:
                if not Path(p).is_file():
                    raise InputError("no such file", file=str(p), fix="give a requests.parquet from `preserve ingest`")
            files = ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths)
            scan = f"SELECT * FROM read_parquet([{files}])"
            columns = {row[0] for row in con.execute(f"DESCRIBE {scan}").fetchall()}
            missing = {"ts", "input_tokens", "output_tokens"} - columns
            if missing:
                raise InputError(f"missing column(s) {', '.join(sorted(missing))}", file=str(paths[0]),
                                 fix="give the requests.parquet `preserve ingest` writes (docs/formats.md)")
            total = con.execute(f"SELECT count(*) FROM ({scan})").fetchone()[0]
            data = con.execute(_select(columns, scan)).fetchnumpy()
            return _to_workload(data, source, total, time_compression)
        rows = request_rows(con, paths, IngestOptions(format=format, mapping=mapping))

        def fetch(query: str):
            total = con.execute(f"SELECT count(*) FROM ({query})").fetchone()[0]
            return total, con.execute(_select(set(rows.columns), query)).fetchnumpy()

        total, data = rows.run(fetch)
        return _to_workload(data, source, total, time_compression)
