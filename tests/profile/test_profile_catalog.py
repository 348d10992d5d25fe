"""GPU and model catalogs: sourced numbers, derived model quantities, config.json input."""

from __future__ import annotations

import csv
import json
from importlib import resources
from pathlib import Path

import pytest
import yaml

from preserve_cli.errors import InputError
from preserve_cli.profile.catalog import get_gpu, list_gpus, list_models, resolve_model

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
REQUIRED_GPUS = {"a40", "a100-40gb", "a100-80gb", "h100-80gb", "h200", "l40s", "l4"}
REQUIRED_MODELS = {"llama-2-7b", "llama-2-13b", "llama-2-70b", "llama-3-8b", "llama-3-70b", "llama-3.1-8b",
                   "llama-3.1-70b", "mistral-7b", "qwen2.5-7b"}


def _raw(name: str, key: str) -> dict:
    text = (resources.files("preserve_cli.profile") / "catalog" / name).read_text(encoding="utf-8")
    return yaml.safe_load(text)[key]


def test_catalogs_hold_the_required_entries():
    assert REQUIRED_GPUS <= {g.key for g in list_gpus()}
    assert REQUIRED_MODELS <= {m.key for m in list_models()}


def test_every_gpu_number_names_its_source():
    for key, entry in _raw("gpus.yaml", "gpus").items():
        numbers = [name for name, value in entry.items()
                   if isinstance(value, (int, float)) and not isinstance(value, bool)]
        assert {"memory_gb", "memory_gib", "bf16_dense_tflops", "memory_bandwidth_tb_s", "pcie_gb_s"} <= set(numbers)
        for name in numbers:
            source = entry["sources"].get(name, "")
            assert len(source) > 20, f"{key}.{name} has no source"
        assert "price" not in " ".join(entry).lower(), f"{key}: prices belong to the fleet file"


def test_every_model_cites_its_config_json():
    for key, entry in _raw("models.yaml", "models").items():
        assert entry["hf_repo"] in entry["sources"]["config"], key
        assert "config.json" in entry["sources"]["config"]
        assert entry["sources"]["dtype_bytes"]


def test_sparsity_figures_are_halved_to_dense():
    h100, h200, l4 = get_gpu("h100-80gb"), get_gpu("h200"), get_gpu("l4")
    assert h100.bf16_dense_tflops == pytest.approx(1979 / 2, rel=1e-3)  # datasheet prints 1,979* with sparsity
    assert h200.bf16_dense_tflops == h100.bf16_dense_tflops              # same Hopper die, more/faster HBM
    assert l4.bf16_dense_tflops == pytest.approx(242 / 2)                # datasheet prints 242* with sparsity
    assert "sparsity" in h100.sources["bf16_dense_tflops"]


def test_interconnect_choice_follows_nvlink_domain():
    assert get_gpu("h100-80gb").interconnect(1) == "none"
    assert get_gpu("h100-80gb").interconnect(8) == "nvlink"
    assert get_gpu("a40").interconnect(2) == "nvlink"
    assert get_gpu("a40").interconnect(4) == "pcie"      # the NVLink bridge joins pairs only
    assert get_gpu("l40s").interconnect(2) == "pcie"
    assert get_gpu("h100-80gb").link_bytes_per_s(2) > get_gpu("l40s").link_bytes_per_s(2)


@pytest.mark.parametrize(("model", "expected"), [("llama-2-7b", 6.74e9), ("llama-2-70b", 6.9e10),
                                                 ("llama-3-8b", 8.03e9), ("llama-2-13b", 1.302e10),
                                                 ("mistral-7b", 7.24e9), ("qwen2.5-7b", 7.62e9)])
def test_parameter_counts_match_published_sizes(model, expected):
    assert resolve_model(model).parameter_count == pytest.approx(expected, rel=0.01)


def test_kv_bytes_per_token():
    assert resolve_model("llama-2-7b").kv_bytes_per_token == 512 * 1024   # 2 x 32 layers x 32 heads x 128 x 2 B
    assert resolve_model("llama-3-8b").kv_bytes_per_token == 128 * 1024   # GQA: 8 KV heads
    assert resolve_model("llama-2-70b").kv_bytes_per_token == 320 * 1024


def test_weight_bytes_and_flops_per_token():
    model = resolve_model("llama-2-7b")
    assert model.weight_bytes == model.parameter_count * 2
    base = model.flops_per_token(0)
    # 2 FLOPs per matmul weight: every parameter except the input embedding and the norms.
    assert base == pytest.approx(2 * (model.parameter_count - 32000 * 4096), rel=1e-3)
    # attention adds 4 x layers x q_dim per context token
    assert model.flops_per_token(1000) - base == pytest.approx(4 * 32 * 4096 * 1000)
    assert model.flops_per_token(0, include_lm_head=False) == pytest.approx(base - 2 * 32000 * 4096)


@pytest.mark.parametrize("gpu", ["a100", "h100", "a40"])
@pytest.mark.parametrize(("model", "folder"), [("llama-2-7b", "Llama-2-7b-hf"), ("llama-2-70b", "Llama-2-70b-hf")])
def test_llama2_shapes_agree_with_vidur_profiles(gpu, model, folder):
    path = SHARED / "data" / "profiling" / "vidur" / "compute" / gpu / "meta-llama" / folder / "mlp.csv"
    with path.open(newline="") as handle:
        row = next(csv.DictReader(handle))
    spec = resolve_model(model)
    assert int(row["n_head"]) == spec.num_attention_heads
    assert int(row["n_kv_head"]) == spec.num_key_value_heads
    assert int(row["n_embd"]) == spec.hidden_size
    assert int(row["n_expanded_embd"]) == spec.intermediate_size


def test_unknown_names_list_the_known_ones():
    with pytest.raises(InputError) as gpu_error:
        get_gpu("h100")
    assert "h100-80gb" in str(gpu_error.value) and "a40" in str(gpu_error.value)
    with pytest.raises(InputError) as model_error:
        resolve_model("llama-4")
    assert "llama-3-8b" in str(model_error.value) and "config.json" in str(model_error.value)


LLAMA2_7B_CONFIG = {
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096, "intermediate_size": 11008,
    "max_position_embeddings": 4096, "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 32,
    "tie_word_embeddings": False, "torch_dtype": "float16", "vocab_size": 32000,
    "_name_or_path": "meta-llama/Llama-2-7b-hf",
}


def _write_config(tmp_path: Path, fields: dict, folder: str = "my-llama") -> Path:
    path = tmp_path / folder / "config.json"
    path.parent.mkdir()
    path.write_text(json.dumps(fields, indent=2), encoding="utf-8")
    return path


def test_config_json_path_resolves_like_the_catalog_entry(tmp_path):
    spec = resolve_model(str(_write_config(tmp_path, LLAMA2_7B_CONFIG)))
    catalog = resolve_model("llama-2-7b")
    assert spec.key == "my-llama"
    assert spec.hf_repo == "meta-llama/Llama-2-7b-hf"
    assert (spec.parameter_count, spec.kv_bytes_per_token) == (catalog.parameter_count, catalog.kv_bytes_per_token)


def test_config_json_without_kv_heads_means_no_gqa(tmp_path):
    fields = {k: v for k, v in LLAMA2_7B_CONFIG.items() if k != "num_key_value_heads"}
    assert resolve_model(str(_write_config(tmp_path, fields))).num_key_value_heads == 32


@pytest.mark.parametrize(("change", "field"), [
    ({"hidden_size": None}, "hidden_size"),
    ({"num_hidden_layers": "32"}, "num_hidden_layers"),
    ({"vocab_size": -1}, "vocab_size"),
    ({"model_type": "gpt2"}, "model_type"),
    ({"torch_dtype": "int8"}, "torch_dtype"),
    ({"num_key_value_heads": 5}, "num_key_value_heads"),
    ({"tie_word_embeddings": "no"}, "tie_word_embeddings"),
])
def test_bad_config_json_names_file_and_field(tmp_path, change, field):
    fields = {**LLAMA2_7B_CONFIG, **change}
    if change.get("hidden_size", 0) is None:
        del fields["hidden_size"]
    path = _write_config(tmp_path, fields)
    with pytest.raises(InputError) as error:
        resolve_model(str(path))
    assert error.value.file == str(path)
    assert error.value.field == field
    assert error.value.fix


def test_unreadable_config_json(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"model_type": "llama",\n "hidden_size": 4096', encoding="utf-8")
    with pytest.raises(InputError) as error:
        resolve_model(str(broken))
    assert error.value.line == 2
    with pytest.raises(InputError, match="file not found"):
        resolve_model(str(tmp_path / "missing" / "config.json"))
