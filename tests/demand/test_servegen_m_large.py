"""The real ServeGen m-large folder, checked against an independent computation."""

from __future__ import annotations

import ast
import csv
import gzip
import json
from collections import defaultdict

import numpy as np
import pytest
from servegen_folder import M_LARGE
from typer.testing import CliRunner

from preserve_cli.cli.app import app
from preserve_cli.demand.servegen import _pdf_mean, read_servegen

CLIENTS_WITHOUT_DATASET = ("15", "21", "41", "44", "66", "72", "73", "82", "89", "100", "112", "120", "142",
                           "148", "156")


@pytest.fixture(scope="module")
def hourly():
    return read_servegen(M_LARGE, 3600)


@pytest.fixture(scope="module")
def independent_totals():
    """Totals recomputed the plain way: dict loops, JSON instead of numpy for the pdf numbers."""
    requests = defaultdict(lambda: defaultdict(float))      # client -> 6-hour window -> requests
    for path in M_LARGE.glob("chunk-*-trace.csv"):
        client = path.name.split("-")[1]
        with path.open() as handle:
            for row in csv.reader(handle):
                requests[client][int(row[0]) // 21600] += float(row[1]) * 600
    means = {}                                               # (client, window, kind) -> mean length
    for path in M_LARGE.glob("chunk-*-dataset.json.gz"):
        client = path.name.split("-")[1]
        for key, entry in json.loads(gzip.decompress(path.read_bytes())).items():
            for kind in ("input_tokens", "output_tokens"):
                numbers = json.loads("[" + entry[kind].strip()[1:-1].replace(":", ",") + "]")
                weight = sum(numbers[1::2])
                if weight:
                    means[client, int(key) // 21600, kind] = sum(
                        k * p for k, p in zip(numbers[::2], numbers[1::2], strict=True)) / weight
    totals = {"requests": sum(sum(w.values()) for w in requests.values())}
    for kind, metric in (("input_tokens", "prefill_tokens"), ("output_tokens", "decode_tokens")):
        fallback = {}
        for window in range(56):
            known = [(requests[c][window], means[c, window, kind]) for c in requests if (c, window, kind) in means]
            fallback[window] = sum(r * m for r, m in known) / sum(r for r, _ in known)
        totals[metric] = sum(r * means.get((c, window, kind), fallback[window])
                             for c in requests for window, r in requests[c].items())
    return totals


def test_hourly_grid_has_336_full_windows(hourly):
    series = hourly.demand.series["m-large"]
    assert list(hourly.demand.series) == ["m-large"]
    assert len(series) == 336 and not series.missing.any() and (series.coverage == 1).all()
    assert str(series.starts[0]) == "2025-01-06T00:00:00" and str(series.starts[-1]) == "2025-01-19T23:00:00"


def test_totals_equal_an_independent_computation(hourly, independent_totals):
    series = hourly.demand.series["m-large"]
    # Rounded to whole requests/tokens per 10-minute window: at most 0.5 per window off.
    for metric in ("requests", "prefill_tokens", "decode_tokens"):
        assert abs(series.metric(metric).sum() - independent_totals[metric]) <= 0.5 * 2016, metric
    assert series.requests.sum() == 236_892_826


def test_fifteen_clients_fall_back_to_the_mean_distribution(hourly):
    stats = hourly.stats
    assert stats.clients == 162
    assert stats.clients_without_dataset == CLIENTS_WITHOUT_DATASET
    assert stats.fallback_client_windows == 0 and stats.gap_windows_10m == 0
    assert 0.3 < stats.fallback_requests / stats.requests < 0.4
    assert "15 without a token-length dataset" in hourly.demand.notes[0]


def test_ten_minute_windows(hourly):
    fine = read_servegen(M_LARGE, 600).demand.series["m-large"]
    assert len(fine) == 2016 and not fine.missing.any()
    coarse = hourly.demand.series["m-large"]
    assert np.array_equal(fine.prefill_tokens.reshape(-1, 6).sum(axis=1), coarse.prefill_tokens)


def test_fast_pdf_parser_agrees_with_literal_eval():
    document = json.loads(gzip.decompress((M_LARGE / "chunk-0-dataset.json.gz").read_bytes()))
    for key in list(document)[:12]:
        for kind in ("input_tokens", "output_tokens"):
            pdf = ast.literal_eval(document[key][kind])
            if pdf:
                expected = sum(k * p for k, p in pdf.items()) / sum(pdf.values())
                assert _pdf_mean(document[key][kind], M_LARGE, kind) == pytest.approx(expected, rel=1e-12)


def test_cli_json_and_byte_identical_output(tmp_path):
    runner = CliRunner()
    outputs = []
    for run in ("a", "b"):
        path = tmp_path / f"{run}.csv"
        result = runner.invoke(app, ["demand", str(M_LARGE), "--window", "1h", "-o", str(path), "--json"])
        assert result.exit_code == 0, result.stderr
        summary = json.loads(result.stdout)
        outputs.append(path.read_bytes())
    assert outputs[0] == outputs[1]
    assert outputs[0].count(b"\n") == 337
    assert summary["kind"] == "servegen" and summary["windows"] == 336 and summary["missing_windows"] == 0
    assert summary["requests"] == 236_892_826
    assert summary["servegen"][0]["clients_without_dataset"] == 15
    assert summary["series"][0]["series"] == "m-large"

