"""`preserve profile latency | train | fit | export`, as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from preserve_cli.cli.app import app
from preserve_cli.profile.catalog import get_gpu
from preserve_cli.profile.measurements import time_column
from preserve_cli.profile.operators import (
    OPERATORS,
    LayerDims,
    operator_rows,
    operator_shapes,
)
from preserve_cli.profile.predictor_set import predictor_for, shipped_predictors

runner = CliRunner()
VIDUR = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "profiling" / "vidur"


def invoke(*args: str):
    return runner.invoke(app, ["profile", *args])


def one_line_error(result, *needles: str) -> str:
    assert result.exit_code == 2, result.stdout
    assert result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and "Traceback" not in result.stderr
    for needle in needles:
        assert needle in line
    return line


def test_latency_json_has_every_part_per_token_count():
    result = invoke("latency", "--gpu", "h100-80gb", "--model", "llama-2-70b", "--tp", "4",
                    "--tokens", "1,128,2048", "--json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["source"] == f"onnx:{shipped_predictors().id}"
    assert [i["tokens"] for i in document["iterations"]] == [1, 128, 2048]
    for item in document["iterations"]:
        per_layer = item["dense_ms_per_layer"] + item["attention_ms_per_layer"] + item["comm_ms_per_layer"]
        parts = item["layers"] * per_layer
        rest = item["embedding_ms"] + item["final_norm_ms"] + item["lm_head_ms"] + item["cpu_overhead_ms"]
        assert item["iteration_ms"] == pytest.approx(parts + rest, rel=1e-5)
        assert item["comm_ms_per_layer"] > 0  # tp 4 all-reduces
        assert sum(item["dense_operator_ms"].values()) == pytest.approx(item["dense_ms_per_layer"], rel=1e-5)
    assert document["iterations"][0]["iteration_ms"] < document["iterations"][2]["iteration_ms"]


def test_latency_decode_batch_and_human_table(tmp_path):
    config = tmp_path / "tiny" / "config.json"
    config.parent.mkdir()
    config.write_text(json.dumps({"model_type": "llama", "hidden_size": 2048, "intermediate_size": 5632,
                                  "num_hidden_layers": 22, "num_attention_heads": 32, "num_key_value_heads": 4,
                                  "vocab_size": 32000, "max_position_embeddings": 2048}))
    result = invoke("latency", "--gpu", "a40", "--model", str(config), "--tokens", "32", "--batch", "32",
                    "--context", "500")
    assert result.exit_code == 0, result.stderr
    assert "tiny" in result.stdout and "dense/layer" in result.stdout and "22 layers" in result.stderr


def test_latency_bad_token_list():
    one_line_error(invoke("latency", "--gpu", "a40", "--model", "llama-2-7b", "--tokens", "1,x"), "--tokens", "'x'")
    one_line_error(invoke("latency", "--gpu", "a40", "--model", "llama-2-7b", "--tokens", "4", "--batch", "8"),
                   "tokens >= batch")


def test_train_subset_twice_gives_identical_files(tmp_path):
    args = ["train", "--data", str(VIDUR), "--gpu", "a40", "--exclude-model", "Llama-2-70b-hf", "--json"]
    first = invoke(*args, "--out", str(tmp_path / "a"))
    second = invoke(*args, "--out", str(tmp_path / "b"))
    assert first.exit_code == 0, first.stderr
    assert json.loads(first.stdout)["id"] == json.loads(second.stdout)["id"]
    assert (tmp_path / "a" / "a40.onnx").read_bytes() == (tmp_path / "b" / "a40.onnx").read_bytes()
    one_line_error(invoke("train", "--data", str(tmp_path), "--out", str(tmp_path / "c")), "compute/", "--data")
    # A subset must not overwrite the package's complete set.
    one_line_error(invoke("train", "--data", str(VIDUR), "--gpu", "a40"), "--out", "complete predictor set")


def _measurements_csv(path: Path, speedup: float) -> dict[int, float]:
    """Vidur-layout CSV for a 4096-hidden gated model: the a40 predictor's times / speedup, +-1% noise."""
    dims = LayerDims(4096, 32, 8, 128, 14336, True)
    rng = np.random.default_rng(7)
    tokens = np.array([1, 2, 4, 8, 16, 32, 64, 128, 256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096], float)
    lines = ["n_head,n_kv_head,n_embd,n_expanded_embd,vocab_size,use_gated_mlp,num_tokens,num_tensor_parallel_workers,"
             + ",".join(time_column(op) for op in OPERATORS)]
    dense: dict[int, float] = {}
    a40 = predictor_for(get_gpu("a40"))
    for tp in (1, 2, 4):
        times = a40.predict_ms(operator_rows(operator_shapes(dims, tp), tokens)).reshape(len(OPERATORS), -1)
        times = times / speedup * rng.uniform(0.99, 1.01, times.shape)
        for k, t in enumerate(tokens):
            lines.append(f"32,8,4096,14336,128256,True,{int(t)},{tp}," + ",".join(f"{v:.6f}" for v in times[:, k]))
            if tp == 1:
                dense[int(t)] = float(times[:9, k].sum())
    path.write_text("\n".join(lines) + "\n")
    return dense


def test_fit_own_measurements_then_use_them(tmp_path):
    csv = tmp_path / "l40s-ops.csv"
    measured = _measurements_csv(csv, speedup=1.5)
    out = tmp_path / "my-predictors"
    fitted = invoke("fit", str(csv), "--gpu", "l40s", "--out", str(out), "--json")
    assert fitted.exit_code == 0, fitted.stderr
    set_id = json.loads(fitted.stdout)["id"]
    assert sorted(p.name for p in out.iterdir()) == ["l40s.onnx", "manifest.json"]
    result = invoke("latency", "--gpu", "l40s", "--model", "llama-3-8b", "--tokens", "1,256,2048",
                    "--predictors", str(out), "--json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["source"] == f"onnx:{set_id}" and document["predictor"]["extrapolated"] is False
    for item in document["iterations"]:
        assert item["dense_ms_per_layer"] == pytest.approx(measured[item["tokens"]], rel=0.05)
    # Without --predictors the l40s is scaled from the shipped a40 predictor instead.
    plain = json.loads(invoke("latency", "--gpu", "l40s", "--model", "llama-3-8b", "--tokens", "1", "--json").stdout)
    assert plain["source"].endswith(":scaled-from-a40")
    capacity = invoke("--gpu", "l40s", "--model", "llama-3-8b", "--predictors", str(out), "--json")
    assert json.loads(capacity.stdout)["capacities"][0]["source"] == f"onnx:{set_id}"


def test_fit_rejects_bad_measurements(tmp_path):
    csv = tmp_path / "ops.csv"
    _measurements_csv(csv, speedup=1.0)
    lines = csv.read_text().splitlines()
    broken = lines[0] + "\n" + lines[1] + "\n" + lines[2].replace(",True,2,", ",True,-2,") + "\n"
    csv.write_text(broken)
    out = tmp_path / "out"
    one_line_error(invoke("fit", str(csv), "--gpu", "l40s", "--out", str(out)), f"{csv}:3", "num_tokens")
    assert not out.exists()
    csv.write_text("num_tokens,time_stats.add.median\n1,0.1\n")
    one_line_error(invoke("fit", str(csv), "--gpu", "l40s", "--out", str(out)), "missing column", "n_head")
    one_line_error(invoke("fit", str(tmp_path / "nope.csv"), "--gpu", "l40s", "--out", str(out)), "file not found")
    one_line_error(invoke("fit", str(csv), "--gpu", "h100", "--out", str(out)), "unknown GPU 'h100'")


def test_export_dynamo_npz_layout(tmp_path):
    result = invoke("export", "--format", "dynamo", "--gpu", "h100-80gb", "--model", "llama-3-8b",
                    "-o", str(tmp_path / "dyn"), "--json")
    assert result.exit_code == 0, result.stderr
    prefill = np.load(tmp_path / "dyn" / "selected_prefill_interpolation" / "raw_data.npz")
    decode = np.load(tmp_path / "dyn" / "selected_decode_interpolation" / "raw_data.npz")
    # ai-dynamo/dynamo docs/architecture/pre_deployment_profiling.md (shared/research/anchors.md)
    assert sorted(prefill.files) == ["prefill_isl", "prefill_thpt_per_gpu", "prefill_ttft"]
    assert sorted(decode.files) == ["max_kv_tokens", "x_kv_usage", "y_context_length", "z_itl", "z_thpt_per_gpu"]
    isl, ttft = prefill["prefill_isl"], prefill["prefill_ttft"]
    assert isl.ndim == 1 and len(isl) == len(ttft) == len(prefill["prefill_thpt_per_gpu"]) >= 8
    assert np.all(np.diff(ttft) > 0)  # TTFT in ms grows with the prompt
    np.testing.assert_allclose(prefill["prefill_thpt_per_gpu"], isl / (ttft / 1e3))
    assert decode["max_kv_tokens"].shape == (1,)
    n = len(decode["x_kv_usage"])
    assert n > 20 and all(len(decode[k]) == n for k in ("y_context_length", "z_itl", "z_thpt_per_gpu"))
    assert np.all((decode["x_kv_usage"] > 0) & (decode["x_kv_usage"] <= 1))
    running = np.floor(decode["x_kv_usage"] * decode["max_kv_tokens"][0] / decode["y_context_length"])
    np.testing.assert_allclose(decode["z_thpt_per_gpu"], running / (decode["z_itl"] / 1e3))


def test_export_aibrix_profile_layout_and_determinism(tmp_path):
    args = ["export", "--format", "aibrix", "--gpu", "a100-80gb", "--model", "llama-2-7b", "--cost", "1.3"]
    assert invoke(*args, "-o", str(tmp_path / "a.json")).exit_code == 0
    assert invoke(*args, "-o", str(tmp_path / "b.json")).exit_code == 0
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    profile = json.loads((tmp_path / "a.json").read_text())
    # vllm-project/aibrix gpu_optimizer/optimizer/profiling/gen_profile.py (shared/research/anchors.md)
    assert {"gpu", "cost", "tputs", "indexes", "created", "e2e", "slos"} <= set(profile)
    outputs, inputs = profile["indexes"]
    assert len(profile["tputs"]) == len(profile["e2e"]) == len(outputs)
    assert all(len(row) == len(inputs) for row in profile["tputs"] + profile["e2e"])
    assert profile["cost"] == 1.3 and profile["slos"]["percentile"] == 99 and profile["gpu"] == "a100-80gb"
    named = invoke(*args, "--deployment", "llama2-7b-a100", "-o", str(tmp_path / "c.json"))
    assert named.exit_code == 0 and json.loads((tmp_path / "c.json").read_text())["gpu"] == "llama2-7b-a100"
    tputs = np.array(profile["tputs"])
    assert np.all(tputs[:, 0] >= tputs[:, -1])  # longer prompts, fewer requests/s
    assert np.all(tputs[0] >= tputs[-1])        # longer outputs, fewer requests/s
    one_line_error(invoke("export", "--format", "xml", "--gpu", "a40", "--model", "llama-2-7b", "-o",
                          str(tmp_path / "x")), "unknown export format 'xml'", "dynamo")
