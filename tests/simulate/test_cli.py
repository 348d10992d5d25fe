"""`preserve simulate` and `preserve simulate compare`: JSON shape, determinism, files, bad input."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from preserve_cli.cli.app import app
from tests.simulate.conftest import AZURE_CONV, SERVEGEN
from tests.simulate.test_scalers import FLEET


def cli(*args: str):
    return CliRunner().invoke(app, list(args))


def _fleet(tmp_path):
    path = tmp_path / "fleet.yaml"
    path.write_text(FLEET)
    return str(path)


def test_compare_json_has_one_run_per_scaler_and_router_and_is_deterministic(tmp_path):
    args = ["simulate", "compare", str(AZURE_CONV), "--fleet", _fleet(tmp_path), "--duration", "5m",
            "--scalers", "static,preserve", "--routers", "round-robin,preserve", "--lengths", "noisy", "--seed", "4",
            "--timeline-dir", str(tmp_path / "timelines"), "--json"]
    first, again = cli(*args), cli(*args)
    assert first.exit_code == 0, first.output
    assert first.stdout == again.stdout
    document = json.loads(first.stdout)
    runs = document["runs"]
    assert [(r["scaler"], r["router"]) for r in runs] == [("static", "round-robin"), ("static", "preserve"),
                                                         ("preserve", "round-robin"), ("preserve", "preserve")]
    for run in runs:
        for key in ("requests", "p99_normalized_latency_s", "p99_ttft_s", "slo_attainment", "gpu_hours", "cost_usd"):
            assert key in run
        assert run["requests"] == document["workload"]["requests"]
        assert run["lengths"] == "noisy"
    timeline = (tmp_path / "timelines" / "preserve_preserve.csv").read_text().splitlines()
    assert timeline[0].startswith("window_start,window_start_s,arrivals")
    assert timeline[1].startswith("2023-11-16T18:15:47Z,0,")


def test_simulate_defaults_to_run_and_prints_a_table(tmp_path):
    result = cli("simulate", str(AZURE_CONV), "--fleet", _fleet(tmp_path), "--duration", "2m", "--instances", "2",
                 "--timeline", str(tmp_path / "t.csv"))
    assert result.exit_code == 0, result.output
    assert "p99_normalized_latency_s" in result.stdout and "static" in result.stdout
    assert (tmp_path / "t.csv").exists()


def test_servegen_folder_with_time_compression(tmp_path):
    result = cli("simulate", str(SERVEGEN), "--fleet", _fleet(tmp_path), "--start", "12h", "--duration", "1h",
                 "--rate-scale", "0.01", "--time-compression", "6", "--instances", "2", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["workload"]["time_compression"] == 6
    assert document["workload"]["span_s"] <= 600
    assert document["run"]["requests"] > 0


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    fleet = _fleet(tmp_path)
    for args, needle in [(["--router", "random"], "--router"), (["--scaler", "plan"], "--plan"),
                         (["--lengths", "psychic"], "--lengths"), (["--pool", "nope"], "pools"),
                         (["--time-compression", "0"], "--time-compression")]:
        result = cli("simulate", str(AZURE_CONV), "--fleet", fleet, "--duration", "1m", *args)
        assert result.exit_code == 2, (args, result.output)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], lines
    missing = cli("simulate", str(tmp_path / "nope.csv"), "--fleet", fleet)
    assert missing.exit_code == 2 and len(missing.stderr.strip().splitlines()) == 1


def test_a_loadpred_model_file_drives_the_preserve_router(tmp_path):
    from tests.simulate.conftest import AZURE_CODE

    # A small training log keeps the test fast; the predictor's quality is not what is tested here.
    small_log = tmp_path / "code-head.csv"
    small_log.write_text("\n".join(AZURE_CODE.read_text().splitlines()[:401]) + "\n")
    model = tmp_path / "lengths.onnx"
    trained = cli("loadpred", "train", str(small_log), "-o", str(model), "--json")
    assert trained.exit_code == 0, trained.output
    result = cli("simulate", str(AZURE_CODE), "--fleet", _fleet(tmp_path), "--duration", "5m", "--router", "preserve",
                 "--length-predictor", str(model), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["run"]["lengths"].startswith("predictor:")
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    failed = cli("simulate", str(AZURE_CODE), "--fleet", _fleet(tmp_path), "--duration", "1m",
                 "--length-predictor", str(broken))
    assert failed.exit_code == 2 and len(failed.stderr.strip().splitlines()) == 1
