"""ServeGen reader on a small folder whose every number is worked out by hand (see servegen_folder.py)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from servegen_folder import SYNTHETIC_DATASETS, SYNTHETIC_RATES, write_servegen

from preserve_cli.demand.schema import demand_to_csv
from preserve_cli.demand.servegen import demand_from_servegen, read_servegen
from preserve_cli.errors import InputError

# Fallback means for client 2 (no dataset) and for client 1 in hours 6-12 (dataset lacks it):
#   hours 0-6: clients 0 (210 requests, input 200, output 10) and 1 (3 requests, 58, 81):
#              input (210*200 + 3*58) / 213 = 198, output (210*10 + 3*81) / 213 = 11
#   hours 6-12: only client 0 has a pdf: input 400, output 35.
# Per 10-minute window (requests, prefill, decode):
#   w0:  client 0 6*(200,10) + client 1 3*(58,81)   = 9, 1374, 303
#   w1:  client 0 6*(200,10) + client 2 6*(198,11)  = 12, 2388, 126
#   w2-4, w6-35: client 0 alone                     = 6, 1200, 60
#   w5:  every client 0 -> a gap (missing)
#   w36-71: client 0 6*(400,35) = 6, 2400, 210; w37 adds client 2 and w40 client 1, 6*(400,35) each.
EXPECTED_10M = {0: (9, 1374, 303), 1: (12, 2388, 126), 5: None,
                **{i: (6, 1200, 60) for i in [2, 3, 4, *range(6, 36)]},
                **{i: (6, 2400, 210) for i in range(36, 72)},
                37: (12, 4800, 420), 40: (12, 4800, 420)}

EXPECTED_HOURLY_CSV = "\n".join([
    "series,window_start,window_s,coverage,requests,prefill_tokens,decode_tokens",
    # hour 0 = w0..w5: 5 of 6 windows observed; 9+12+3*6 requests, 1374+2388+3*1200, 303+126+3*60
    "synth,2025-01-06T00:00:00Z,3600,0.833333,39,7362,609",
    *[f"synth,2025-01-06T0{h}:00:00Z,3600,1,36,7200,360" for h in range(1, 6)],
    # hour 6 = w36..w41: 48 requests at (400, 35)
    "synth,2025-01-06T06:00:00Z,3600,1,48,19200,1680",
    *[f"synth,2025-01-06T{h:02d}:00:00Z,3600,1,36,14400,1260" for h in range(7, 12)],
]) + "\n"


def test_ten_minute_windows_match_hand_computation(synthetic):
    series = demand_from_servegen(synthetic, 600).series["synth"]
    assert len(series) == 72
    for i, expected in EXPECTED_10M.items():
        if expected is None:
            assert series.coverage[i] == 0 and math.isnan(series.prefill_tokens[i]) and math.isnan(series.requests[i])
        else:
            got = (series.requests[i], series.prefill_tokens[i], series.decode_tokens[i])
            assert got == expected, f"window {i}"
            assert series.coverage[i] == 1


def test_hourly_csv_is_exactly_the_hand_computed_file(synthetic):
    assert demand_to_csv(demand_from_servegen(synthetic, 3600)) == EXPECTED_HOURLY_CSV


def test_six_hour_windows_and_reported_assumptions(synthetic):
    result = read_servegen(synthetic, 21_600)
    series = result.demand.series["synth"]
    assert list(series.requests) == [219, 228]
    assert list(series.prefill_tokens) == [7362 + 5 * 7200, 19200 + 5 * 14400]
    assert list(series.decode_tokens) == [609 + 5 * 360, 1680 + 5 * 1260]
    assert series.coverage[0] == pytest.approx(35 / 36) and series.coverage[1] == 1
    stats = result.stats
    assert stats.clients == 3
    assert stats.clients_without_dataset == ("2",)
    assert stats.fallback_client_windows == 1           # client 1, hours 6-12
    assert stats.fallback_requests == 6 + 6 + 6         # client 2 (w1, w37) and client 1 (w40)
    assert stats.requests == 447 and stats.gap_windows_10m == 1
    notes = " ".join(result.demand.notes)
    assert "1 without a token-length dataset (chunk-2)" in notes
    assert "1 client 6-hour windows with traffic but no pdf" in notes
    assert "18 of 447 requests" in notes
    assert "1 10-minute windows where every client reported 0 requests: gaps" in notes


def test_empty_window_as_zero_when_asked(synthetic):
    series = demand_from_servegen(synthetic, 600, empty_windows="zero").series["synth"]
    assert series.coverage[5] == 1 and series.requests[5] == 0 and series.prefill_tokens[5] == 0
    assert demand_from_servegen(synthetic, 3600, empty_windows="zero").series["synth"].coverage[0] == 1


def test_an_hour_where_every_client_is_idle_is_missing_not_zero(tmp_path):
    rates = {"0": {i: 0.01 for i in range(72) if not 6 <= i < 12}}
    folder = write_servegen(tmp_path / "idle", rates, {"0": SYNTHETIC_DATASETS["0"]})
    series = demand_from_servegen(folder, 3600).series["idle"]
    assert list(series.missing) == [False, True] + [False] * 10
    assert series.coverage[1] == 0
    assert "idle,2025-01-06T01:00:00Z,3600,0,,,\n" in demand_to_csv(demand_from_servegen(folder, 3600))


def test_epoch_moves_timestamps(synthetic):
    series = demand_from_servegen(synthetic, 3600, epoch="2024-05-10T13:00:00Z").series["synth"]
    assert str(series.starts[0]) == "2024-05-10T13:00:00" and str(series.starts[-1]) == "2024-05-11T00:00:00"


def test_only_uncompressed_dataset_json_is_read_too(tmp_path):
    folder = write_servegen(tmp_path / "plain", SYNTHETIC_RATES, {})
    for client, dataset in SYNTHETIC_DATASETS.items():
        (folder / f"chunk-{client}-dataset.json").write_text(json.dumps(dataset))
    assert demand_to_csv(demand_from_servegen(folder, 3600)) == EXPECTED_HOURLY_CSV.replace("synth,", "plain,")


def test_unnormalised_and_repeated_key_pdfs_follow_python_literal_semantics(tmp_path):
    # Weights 2:6 -> mean (100*2 + 300*6) / 8 = 250; in a dict literal the last repeated key wins: {7: 1}.
    datasets = {"0": {"0": {"input_tokens": "{100: 2, 300: 6}", "output_tokens": "{7: 5, 9: 0, 7: 1}"},
                      "21600": {"input_tokens": "{}", "output_tokens": "{}"}}}
    folder = write_servegen(tmp_path / "odd", {"0": {0: 0.01}}, datasets)
    series = demand_from_servegen(folder, 21_600).series["odd"]
    assert series.prefill_tokens[0] == 6 * 250
    assert series.decode_tokens[0] == 6 * 7
    assert series.missing[1]


@pytest.mark.parametrize("window_s", [900, 300, 86_400, 172_800])
def test_window_must_be_a_multiple_of_10m_dividing_the_span(synthetic, window_s):
    with pytest.raises(InputError) as error:
        demand_from_servegen(synthetic, window_s)
    assert "synth" in str(error.value) and "fix:" in str(error.value)


def test_unlisted_rows_are_counted(tmp_path):
    folder = write_servegen(tmp_path / "short", SYNTHETIC_RATES, SYNTHETIC_DATASETS)
    lines = (folder / "chunk-2-trace.csv").read_text().splitlines()
    (folder / "chunk-2-trace.csv").write_text("\n".join(lines[:36]) + "\n")   # client 2 stops at 6 h
    result = read_servegen(folder, 3600)
    assert result.stats.unlisted_client_windows == 36
    assert any("36 client 10-minute windows absent" in note for note in result.demand.notes)
    # Client 2's request in window 37 is gone from the file, so hour 6 has 6 requests fewer.
    assert result.demand.series["short"].requests[6] == 42


def test_every_10m_value_is_a_whole_number_so_windows_add_up(synthetic):
    fine = demand_from_servegen(synthetic, 600).series["synth"]
    coarse = demand_from_servegen(synthetic, 3600).series["synth"]
    assert np.array_equal(np.nansum(fine.prefill_tokens.reshape(-1, 6), axis=1), coarse.prefill_tokens)
