"""Workloads: ingested logs and ServeGen-generated streams (counts, compression, determinism)."""

from __future__ import annotations

import numpy as np
import pytest

from preserve_cli.errors import InputError
from preserve_cli.simulate.workloads import load_workload
from preserve_cli.simulate.workloads.servegen import workload_from_servegen
from tests.simulate.conftest import AZURE_CODE, SERVEGEN


def test_raw_log_and_ingested_parquet_give_the_same_workload(tmp_path):
    from preserve_cli.ingest import ingest_logs

    parquet = tmp_path / "requests.parquet"
    ingest_logs(AZURE_CODE, parquet)
    raw, ingested = load_workload([str(AZURE_CODE)]), load_workload([str(parquet)])
    assert len(raw) == 8819  # every row of the Azure 2023 code trace (SOURCES.md)
    assert np.array_equal(raw.input_tokens, ingested.input_tokens)
    assert np.allclose(raw.arrival_s, ingested.arrival_s, atol=1e-6)


def test_slicing_and_time_compression_of_a_log():
    full = load_workload([str(AZURE_CODE)])
    sliced = load_workload([str(AZURE_CODE)], start_s=600, duration_s=600)
    fast = load_workload([str(AZURE_CODE)], start_s=600, duration_s=600, time_compression=10)
    in_range = ((full.arrival_s >= 600) & (full.arrival_s < 1200)).sum()
    assert len(sliced) == len(fast) == in_range
    assert fast.span_s == pytest.approx(sliced.span_s / 10)


def _trace_requests(client: str, first_window: int, windows: int) -> int:
    rows = (SERVEGEN / f"chunk-{client}-trace.csv").read_text().splitlines()[first_window:first_window + windows]
    return sum(round(float(line.split(",")[1]) * 600) for line in rows)


def test_servegen_stream_has_the_trace_counts_per_client_and_window():
    workload = workload_from_servegen(SERVEGEN, start_s=12 * 3600, duration_s=1800, seed=3)
    clients = workload.labels["client"]
    for client in ("1", "5", "30"):
        assert (clients == client).sum() == _trace_requests(client, 72, 3)
    assert workload.span_s < 1800
    assert (workload.input_tokens > 0).all() and (workload.output_tokens > 0).all()
    assert "pooled pdf" in workload.notes[0]


def test_servegen_stream_is_seeded_thinned_and_compressed():
    a = workload_from_servegen(SERVEGEN, start_s=12 * 3600, duration_s=1800, seed=3, rate_scale=0.1)
    b = workload_from_servegen(SERVEGEN, start_s=12 * 3600, duration_s=1800, seed=3, rate_scale=0.1)
    c = workload_from_servegen(SERVEGEN, start_s=12 * 3600, duration_s=1800, seed=3, rate_scale=0.1,
                               time_compression=6)
    full = workload_from_servegen(SERVEGEN, start_s=12 * 3600, duration_s=1800, seed=3)
    assert np.array_equal(a.arrival_s, b.arrival_s) and np.array_equal(a.output_tokens, b.output_tokens)
    assert len(a) == pytest.approx(0.1 * len(full), rel=0.05)
    assert np.allclose(c.arrival_s, a.arrival_s / 6)


def test_bad_rate_scale_and_empty_range_are_input_errors():
    with pytest.raises(InputError, match="rate-scale"):
        workload_from_servegen(SERVEGEN, rate_scale=2.0)
    with pytest.raises(InputError, match="rate-scale"):
        load_workload([str(AZURE_CODE)], rate_scale=0.0)
    with pytest.raises(InputError, match="--start/--duration"):
        load_workload([str(AZURE_CODE)], start_s=10 * 86400, duration_s=60)
