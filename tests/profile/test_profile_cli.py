"""`preserve profile` command group: capacities, catalogs, and one-line errors."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from preserve_cli.cli.app import app
from preserve_cli.profile.predictor_set import shipped_predictors
from preserve_cli.profile.schema import read_capacities

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, ["profile", *args])


def test_json_result_and_capacity_yaml(tmp_path):
    out = tmp_path / "capacity.yaml"
    result = invoke("--gpu", "h100-80gb", "--model", "llama-3-8b", "--tp", "1", "-o", str(out), "--json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["output"] == str(out)
    [entry] = document["capacities"]
    # Default: the shipped ONNX predictors, named by their set id.
    assert (entry["gpu"], entry["model"], entry["tp"]) == ("h100-80gb", "llama-3-8b", 1)
    assert entry["source"] == f"onnx:{shipped_predictors().id}"
    assert entry["decode_tokens_per_s"] > 0 and entry["kv_tokens"] > 0
    assert document["skipped"] == []
    [loaded] = read_capacities(out)
    assert loaded.kv_tokens == entry["kv_tokens"] and loaded.source == entry["source"]


def test_first_order_method_is_still_available(tmp_path):
    result = invoke("--gpu", "h100-80gb", "--model", "llama-3-8b", "--method", "first-order", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["capacities"][0]["source"] == "first-order"
    bad = invoke("--gpu", "h100-80gb", "--model", "llama-3-8b", "--method", "magic")
    _assert_one_line_error(bad, "unknown method 'magic'", "onnx")


def test_cartesian_product_reports_infeasible_combinations(tmp_path):
    out = tmp_path / "capacity.yaml"
    result = invoke("--gpu", "h100-80gb", "--gpu", "a100-80gb", "--model", "llama-2-70b", "--tp", "1", "--tp", "2",
                    "--tp", "4", "-o", str(out), "--json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert sorted((c["gpu"], c["tp"]) for c in document["capacities"]) == [
        ("a100-80gb", 2), ("a100-80gb", 4), ("h100-80gb", 2), ("h100-80gb", 4)]
    assert sorted((s["gpu"], s["tp"]) for s in document["skipped"]) == [("a100-80gb", 1), ("h100-80gb", 1)]
    assert all("does not fit" in s["reason"] for s in document["skipped"])
    assert len(read_capacities(out)) == 4


def test_human_mode_prints_a_table_and_notes_on_stderr(tmp_path):
    out = tmp_path / "capacity.yaml"
    result = invoke("--gpu", "a100-80gb", "--model", "llama-2-70b", "--tp", "1", "--tp", "4", "-o", str(out),
                    "--input-tokens", "500", "--output-tokens", "200", "--tpot-ms", "80", "--ttft-s", "1.5")
    assert result.exit_code == 0, result.stderr
    assert "a100-80gb" in result.stdout and "mu_d" in result.stdout
    assert "skipped a100-80gb x llama-2-70b tp=1" in result.stderr
    assert f"wrote {out}" in result.stderr
    [loaded] = read_capacities(out)
    assert loaded.assumptions["workload"] == {"mean_input_tokens": 500, "mean_output_tokens": 200,
                                              "mean_decode_context_tokens": 600}
    assert loaded.assumptions["slo"] == {"ttft_p99_s": 1.5, "tpot_p99_ms": 80}


def _assert_one_line_error(result, *needles: str) -> None:
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    for needle in needles:
        assert needle in lines[0]
    assert "Traceback" not in result.stderr


def test_unknown_gpu(tmp_path):
    out = tmp_path / "capacity.yaml"
    result = invoke("--gpu", "h100", "--model", "llama-3-8b", "-o", str(out))
    _assert_one_line_error(result, "unknown GPU 'h100'", "h100-80gb")
    assert not out.exists()


def test_unknown_model(tmp_path):
    result = invoke("--gpu", "h100-80gb", "--model", "llama-9", "-o", str(tmp_path / "c.yaml"))
    _assert_one_line_error(result, "unknown model 'llama-9'", "llama-3-8b")


def test_impossible_slo(tmp_path):
    out = tmp_path / "capacity.yaml"
    result = invoke("--gpu", "l4", "--model", "llama-2-13b", "--tp", "2", "--tpot-ms", "10", "-o", str(out), "--json")
    _assert_one_line_error(result, "SLO impossible", "2xl4", "--tpot-ms")
    assert not out.exists()


def test_bad_config_json(tmp_path):
    config = tmp_path / "mymodel" / "config.json"
    config.parent.mkdir()
    config.write_text(json.dumps({"model_type": "llama", "hidden_size": 4096, "num_hidden_layers": 32}))
    result = invoke("--gpu", "h100-80gb", "--model", str(config), "-o", str(tmp_path / "c.yaml"))
    _assert_one_line_error(result, str(config), "num_attention_heads")


def test_config_json_model_is_profiled(tmp_path):
    config = tmp_path / "my-mistral" / "config.json"
    config.parent.mkdir()
    config.write_text(json.dumps({
        "model_type": "mistral", "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
        "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 32000,
        "max_position_embeddings": 32768, "torch_dtype": "bfloat16"}))
    result = invoke("--gpu", "h100-80gb", "--model", str(config), "-o", str(tmp_path / "c.yaml"), "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["capacities"][0]["model"] == "my-mistral"


def test_missing_gpu_or_model():
    _assert_one_line_error(invoke("--model", "llama-3-8b"), "--gpu")


def test_catalog_listings():
    gpus = invoke("gpus", "--json")
    assert gpus.exit_code == 0
    names = {g["name"] for g in json.loads(gpus.stdout)["gpus"]}
    assert {"a40", "a100-40gb", "a100-80gb", "h100-80gb", "h200", "l40s", "l4"} <= names
    models = invoke("models", "--json")
    assert models.exit_code == 0
    by_name = {m["name"]: m for m in json.loads(models.stdout)["models"]}
    assert by_name["llama-3-8b"]["kv_bytes_per_token"] == 131072
    assert "h200" in invoke("gpus").stdout
    assert "qwen2.5-7b" in invoke("models").stdout


def test_bad_tp_or_tokens_fail_before_any_combination(tmp_path):
    result = invoke("--gpu", "h100-80gb", "--gpu", "a100-80gb", "--model", "llama-3-8b", "--tp", "1", "--tp", "0",
                    "-o", str(tmp_path / "c.yaml"))
    _assert_one_line_error(result, "field 'tp'", "0 is not a positive integer")
    result = invoke("--gpu", "h100-80gb", "--model", "llama-3-8b", "--output-tokens", "0",
                    "-o", str(tmp_path / "c.yaml"))
    _assert_one_line_error(result, "mean_output_tokens")


def test_same_inputs_give_byte_identical_capacity_yaml(tmp_path):
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    args = ("--gpu", "h200", "--gpu", "l40s", "--model", "qwen2.5-7b", "--tp", "1", "--tp", "2")
    assert invoke(*args, "-o", str(first)).exit_code == 0
    assert invoke(*args, "-o", str(second)).exit_code == 0
    assert first.read_bytes() == second.read_bytes()
