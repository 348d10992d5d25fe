"""requests.parquet (from `preserve ingest`) -> what a length predictor sees, plus the true output lengths."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from preserve_cli.errors import InputError
from preserve_cli.loadpred.base import RequestBatch

CANONICAL_COLUMNS = ("ts", "input_tokens", "output_tokens")
LABEL_COLUMNS = ("model", "service", "client")  # categorical columns a feature predictor uses when present


@dataclass(frozen=True)
class LabelledRequests:
    """Requests as a router sees them, and the output tokens each one really produced (the label)."""

    batch: RequestBatch
    output_tokens: np.ndarray  # int64

    def __len__(self) -> int:
        return len(self.batch)

    def take(self, rows: np.ndarray | slice) -> LabelledRequests:
        batch = self.batch
        prompts, histories = (None if texts is None else list(_as_objects(texts)[rows])
                              for texts in (batch.prompts, batch.histories))
        return LabelledRequests(
            RequestBatch(batch.input_tokens[rows], batch.arrival_s[rows],
                         {name: values[rows] for name, values in batch.labels.items()}, prompts, histories),
            self.output_tokens[rows])

    def time_split(self, train_fraction: float) -> tuple[LabelledRequests, LabelledRequests]:
        """The first `train_fraction` of the requests in arrival order, and the rest (no look-ahead)."""
        if not 0.0 < train_fraction < 1.0:
            raise InputError(f"train fraction {train_fraction} is not in (0, 1)", field="--train-fraction",
                             fix="give e.g. 0.8 for the first 80% to train")
        order = np.argsort(self.batch.arrival_s, kind="stable")
        cut = round(len(order) * train_fraction)
        if cut == 0 or cut == len(order):
            raise InputError(f"{len(order)} requests are too few to split {train_fraction:.0%} / "
                             f"{1 - train_fraction:.0%}", field="--train-fraction", fix="give a longer log")
        return self.take(order[:cut]), self.take(order[cut:])


def read_requests(path: str | Path) -> LabelledRequests:
    """Read requests.parquet: ts, input_tokens, output_tokens and the optional label columns."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    try:
        table = pq.read_table(path)
    except FileNotFoundError:
        raise
    except Exception as exc:  # pyarrow raises several types for "not Parquet"
        raise InputError(f"cannot read as Parquet ({type(exc).__name__})", file=path,
                         fix="give requests.parquet written by `preserve ingest`") from exc
    missing = [name for name in CANONICAL_COLUMNS if name not in table.column_names]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}", file=path, field=missing[0],
                         fix="give requests.parquet written by `preserve ingest`")
    if table.num_rows == 0:
        raise InputError("no requests in the file", file=path, fix="ingest a log with requests in it")
    ts = table.column("ts").cast(pa.timestamp("us", tz="UTC")).to_numpy().astype("datetime64[us]").astype(np.int64)
    labels = {name: np.asarray(table.column(name).to_pylist(), dtype=object)
              for name in LABEL_COLUMNS if name in table.column_names}
    batch = RequestBatch(np.asarray(table.column("input_tokens").to_numpy(), dtype=np.int64), ts / 1e6, labels)
    return LabelledRequests(batch, np.asarray(table.column("output_tokens").to_numpy(), dtype=np.int64))


def read_any_requests(path: str | Path) -> LabelledRequests:
    """requests.parquet as is; any other log is ingested first (format detected, as `preserve ingest` does)."""
    import tempfile

    from preserve_cli.ingest import ingest_logs
    from preserve_cli.ingest.peek import is_parquet

    path = Path(path)
    if path.is_file() and is_parquet(path):
        import pyarrow.parquet as pq

        if set(CANONICAL_COLUMNS) <= set(pq.read_schema(path).names):
            return read_requests(path)
    with tempfile.TemporaryDirectory(prefix="preserve-loadpred-") as folder:
        target = Path(folder) / "requests.parquet"
        ingest_logs(path, target)
        return read_requests(target)


def _as_objects(items: list) -> np.ndarray:
    """A 1-D object array of `items` (np.asarray would turn a list of tuples into a 2-D array)."""
    array = np.empty(len(items), dtype=object)
    for index, item in enumerate(items):
        array[index] = item
    return array
