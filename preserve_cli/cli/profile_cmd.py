"""`preserve profile`: per-instance capacity (mu_p, mu_d, mu_t, M) for GPU x model x TP.

`profile` is a command group: without a subcommand it computes capacities (ONNX predictors by
default) and writes capacity.yaml. Subcommands: `gpus` and `models` list the catalogs,
`latency` explains one iteration, `train` regenerates the shipped predictors from vidur's CSVs,
`fit` makes predictors from your own measurements, `export` writes Dynamo / AIBrix profiles.
The work is done by preserve_cli.profile; these functions parse flags and report.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from preserve_cli.cli.common import (
    JSON_OPTION,
    fail,
    handles_input_errors,
    note,
    print_json,
    stderr,
    stdout,
)
from preserve_cli.errors import InputError
from preserve_cli.profile.catalog import list_gpus, list_models
from preserve_cli.profile.schema import InstanceCapacity, write_capacities
from preserve_cli.profile.slo import (
    DEFAULT_TPOT_P99_MS,
    DEFAULT_TTFT_P99_S,
    Slo,
    WorkloadShape,
)
from preserve_cli.profile.specs import GIB
from preserve_cli.profile.sweep import DEFAULT_METHOD, METHODS, profile_grid

# Default workload: the scale of the Azure LLM inference trace 2023, conversation service
# (AzureLLMInferenceTrace_conv.csv: mean 1155 prompt / 211 generated tokens, median 1020 / 129).
# The planner passes the demand history's own means instead.
DEFAULT_INPUT_TOKENS = 1024
DEFAULT_OUTPUT_TOKENS = 256

PREDICTORS_OPTION = typer.Option(
    "--predictors", help="Folder of your own predictors (`preserve profile fit`); they answer for their GPUs.")

profile_app = typer.Typer(
    help="Per-instance capacity for GPU x model x TP (ONNX predictors trained on measured timings; "
         "see docs/capacity-model.md).",
    invoke_without_command=True,
    rich_markup_mode=None,
)


def _table(title: str, columns: list[tuple[str, str]], rows: list[list[str]]) -> Table:
    """A compact table for 80 columns: "name" and "number" cells are never cut, "text" cells fold."""
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for index, (header, kind) in enumerate(columns):
        widest = max([len(header)] + [len(row[index]) for row in rows]) if kind != "text" else None
        table.add_column(header, justify="right" if kind == "number" else "left", no_wrap=kind != "text",
                         overflow="fold", min_width=widest)
    for row in rows:
        table.add_row(*row)
    return table


def _capacity_rows(capacities: list[InstanceCapacity]) -> Table:
    rows = [[c.gpu, c.model, str(c.tp), f"{c.prefill_tokens_per_s:,.0f}", f"{c.decode_tokens_per_s:,.0f}",
             f"{c.mixed_tokens_per_s or 0:,.0f}", f"{c.kv_tokens:,}", str(c.max_batch), c.source] for c in capacities]
    return _table("Instance capacity: mu_p prefill, mu_d decode, mu_t mixed tokens/s; M KV-cache tokens",
                  [("gpu", "name"), ("model", "name"), ("tp", "number"), ("mu_p", "number"), ("mu_d", "number"),
                   ("mu_t", "number"), ("M", "number"), ("batch", "number"), ("source", "text")], rows)


def _capacity_json(c: InstanceCapacity) -> dict[str, Any]:
    return {"gpu": c.gpu, "model": c.model, "tp": c.tp, "prefill_tokens_per_s": c.prefill_tokens_per_s,
            "decode_tokens_per_s": c.decode_tokens_per_s, "mixed_tokens_per_s": c.mixed_tokens_per_s,
            "kv_tokens": c.kv_tokens, "max_batch": c.max_batch, "source": c.source, "assumptions": c.assumptions}


@profile_app.callback()
@handles_input_errors
def profile(
    ctx: typer.Context,
    gpu: Annotated[list[str] | None, typer.Option(
        "--gpu", help="GPU catalog name (repeatable); see `preserve profile gpus`.")] = None,
    model: Annotated[list[str] | None, typer.Option(
        "--model", help="Catalog model name or a Hugging Face config.json path (repeatable); "
                        "see `preserve profile models`.")] = None,
    tp: Annotated[list[int] | None, typer.Option("--tp", help="Tensor-parallel degree (repeatable); default 1.")] = None,
    ttft_s: Annotated[float, typer.Option("--ttft-s", help="TTFT p99 target, seconds.")] = DEFAULT_TTFT_P99_S,
    tpot_ms: Annotated[float, typer.Option("--tpot-ms", help="TPOT p99 target, milliseconds.")] = DEFAULT_TPOT_P99_MS,
    input_tokens: Annotated[float, typer.Option(
        "--input-tokens", help="Mean prompt tokens per request.")] = DEFAULT_INPUT_TOKENS,
    output_tokens: Annotated[float, typer.Option(
        "--output-tokens", help="Mean generated tokens per request.")] = DEFAULT_OUTPUT_TOKENS,
    output: Annotated[str | None, typer.Option("-o", "--output", help="capacity.yaml to write (default: print only).")] = None,
    method: Annotated[str, typer.Option("--method", help=f"How: {' | '.join(METHODS)}.")] = DEFAULT_METHOD,
    predictors: Annotated[str | None, PREDICTORS_OPTION] = None,
    as_json: bool = JSON_OPTION,
) -> None:
    """Compute capacities (when no subcommand is given) and write capacity.yaml."""
    if ctx.invoked_subcommand is not None:
        return
    if not gpu or not model:
        fail("give --gpu and --model (fix: e.g. `preserve profile --gpu h100-80gb --model llama-3-8b --tp 1`; "
             "list names with `preserve profile gpus` / `preserve profile models`)")
    result = profile_grid(gpu, model, tp or [1], Slo(ttft_p99_s=ttft_s, tpot_p99_ms=tpot_ms),
                          WorkloadShape(mean_input_tokens=input_tokens, mean_output_tokens=output_tokens),
                          method=method, predictors=predictors)
    if output:
        write_capacities(result.capacities, Path(output))
    if as_json:
        print_json({"output": output, "capacities": [_capacity_json(c) for c in result.capacities],
                    "skipped": [asdict(s) for s in result.skipped]})
        return
    stdout.print(_capacity_rows(result.capacities))
    for skip in result.skipped:
        note(f"skipped {skip.gpu} x {skip.model} tp={skip.tp}: {skip.reason}")
    skipped = f", skipped {len(result.skipped)} infeasible combination(s)" if result.skipped else ""
    if output:
        note(f"wrote {output} ({len(result.capacities)} instance type(s){skipped})")
    elif skipped:
        note(skipped.lstrip(", "))


@profile_app.command("gpus")
@handles_input_errors
def gpus_command(as_json: bool = JSON_OPTION) -> None:
    """List the GPU catalog (datasheet numbers and their sources)."""
    specs = list_gpus()
    if as_json:
        print_json({"gpus": [{"name": g.key, "description": g.name, "memory_gb": g.memory_gb,
                              "memory_gib": g.memory_gib, "bf16_dense_tflops": g.bf16_dense_tflops,
                              "memory_bandwidth_tb_s": g.memory_bandwidth_tb_s, "nvlink_gb_s": g.nvlink_gb_s,
                              "nvlink_domain": g.nvlink_domain, "pcie_gb_s": g.pcie_gb_s,
                              "sources": dict(g.sources)} for g in specs]})
        return
    rows = []
    for g in specs:
        link = f"NVLink {g.nvlink_gb_s:g} GB/s x{g.nvlink_domain}" if g.nvlink_gb_s else f"PCIe {g.pcie_gb_s:g} GB/s"
        rows.append([g.key, g.name, f"{g.memory_gib:g}", f"{g.bf16_dense_tflops:g}", f"{g.memory_bandwidth_tb_s:g}",
                     link])
    table = _table("GPU catalog (sources: --json)", [("gpu", "name"), ("description", "text"), ("GiB", "number"),
                                                     ("BF16 TFLOP/s", "number"), ("HBM TB/s", "number"),
                                                     ("interconnect", "text")], rows)
    stdout.print(table)


@profile_app.command("models")
@handles_input_errors
def models_command(as_json: bool = JSON_OPTION) -> None:
    """List the model catalog (shapes from Hugging Face config.json)."""
    specs = list_models()
    if as_json:
        print_json({"models": [{"name": m.key, "hf_repo": m.hf_repo, "parameters": m.parameter_count,
                                "weight_gib": m.weight_bytes / GIB, "kv_bytes_per_token": m.kv_bytes_per_token,
                                "num_hidden_layers": m.num_hidden_layers, "hidden_size": m.hidden_size,
                                "num_attention_heads": m.num_attention_heads,
                                "num_key_value_heads": m.num_key_value_heads,
                                "intermediate_size": m.intermediate_size, "vocab_size": m.vocab_size,
                                "max_position_embeddings": m.max_position_embeddings,
                                "tie_word_embeddings": m.tie_word_embeddings, "dtype_bytes": m.dtype_bytes,
                                "source": m.source} for m in specs]})
        return
    rows = [[m.key, m.hf_repo, f"{m.parameter_count / 1e9:.2f}", str(m.num_hidden_layers),
             f"{m.num_attention_heads}/{m.num_key_value_heads}", f"{m.kv_bytes_per_token / 1024:g}",
             f"{m.max_position_embeddings:,}"] for m in specs]
    table = _table("Model catalog", [("model", "name"), ("hf repo", "text"), ("params B", "number"),
                                     ("layers", "number"), ("heads/kv", "number"), ("KV KiB/tok", "number"),
                                     ("context", "number")], rows)
    stdout.print(table)


def _token_counts(text: str) -> list[int]:
    values = []
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit() or int(part) < 1:
            raise InputError(f"{part!r} is not a positive whole number of tokens", field="--tokens",
                             fix="write token counts separated by commas, e.g. --tokens 1,64,512")
        values.append(int(part))
    return values


def _iteration_json(times, k: int) -> dict[str, Any]:
    return {"tokens": int(times.tokens[k]), "batch": int(times.batch[k]), "context": float(times.context[k]),
            "dense_ms_per_layer": float(times.dense_ms_per_layer[k]),
            "attention_ms_per_layer": float(times.attention_ms_per_layer[k]),
            "comm_ms_per_layer": float(times.comm_ms_per_layer[k]), "layers": times.layers,
            "embedding_ms": float(times.embedding_ms[k]), "final_norm_ms": float(times.final_norm_ms[k]),
            "lm_head_ms": float(times.lm_head_ms[k]), "cpu_overhead_ms": float(times.cpu_overhead_ms[k]),
            "iteration_ms": float(times.iteration_ms[k]),
            "dense_operator_ms": {op: float(v[k]) for op, v in times.dense_operator_ms.items()}}


@profile_app.command("latency")
@handles_input_errors
def latency_command(
    gpu: Annotated[str, typer.Option("--gpu", help="GPU catalog name.")],
    model: Annotated[str, typer.Option("--model", help="Catalog model name or a Hugging Face config.json path.")],
    tokens: Annotated[str, typer.Option("--tokens", help="Tokens in the iteration, comma-separated: 1,64,512.")],
    tp: Annotated[int, typer.Option("--tp", help="Tensor-parallel degree.")] = 1,
    batch: Annotated[int, typer.Option("--batch", help="Sequences sharing those tokens (decode: = tokens).")] = 1,
    context: Annotated[float, typer.Option("--context", help="Tokens already cached per sequence.")] = 0.0,
    predictors: Annotated[str | None, PREDICTORS_OPTION] = None,
    as_json: bool = JSON_OPTION,
) -> None:
    """Explain one iteration: dense, attention and all-reduce ms per layer, and the total, per token count."""
    from preserve_cli.profile.catalog import get_gpu, resolve_model
    from preserve_cli.profile.predicted import latency_model
    from preserve_cli.profile.predictor_set import PredictorSet

    counts = _token_counts(tokens)
    user_set = PredictorSet.load(predictors) if predictors else None
    lm = latency_model(get_gpu(gpu), resolve_model(model), tp, user_set)
    times = lm.iterations(counts, batch, context)
    iterations = [_iteration_json(times, k) for k in range(len(counts))]
    if as_json:
        print_json({"gpu": lm.gpu.key, "model": lm.model.key, "tp": tp, "source": lm.predictor.source,
                    "predictor": lm.predictor.describe(), "assumptions": lm.describe(), "iterations": iterations})
        return
    rows = [[f"{i['tokens']:,}", str(i["batch"]), f"{i['context']:g}", f"{i['dense_ms_per_layer']:.4f}",
             f"{i['attention_ms_per_layer']:.4f}", f"{i['comm_ms_per_layer']:.4f}", f"{i['iteration_ms']:.2f}"]
            for i in iterations]
    stdout.print(_table(f"One iteration of {lm.model.key} on {tp}x{lm.gpu.key} ({lm.predictor.source}), ms",
                        [("tokens", "number"), ("batch", "number"), ("context", "number"), ("dense/layer", "number"),
                         ("attn/layer", "number"), ("comm/layer", "number"), ("iteration", "number")], rows))
    note(f"{times.layers} layers; iteration = layers x (dense + attention + comm) + embedding + final norm "
         f"+ LM head + CPU overhead ({lm.factors.step_overhead_ms:g} ms + {lm.factors.per_sequence_overhead_ms:g} ms "
         "per sequence)")


@contextlib.contextmanager
def _steps(enabled: bool) -> Iterator[Callable[[str], None] | None]:
    """A Rich progress line on stderr that shows which GPU is being fitted."""
    if not enabled:
        yield None
        return
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=stderr, transient=True) as bar:
        task = bar.add_task("reading measurements", total=None)
        yield lambda message: bar.update(task, description=message)


def _predictor_rows(manifest: dict[str, Any]) -> list[list[str]]:
    return [[gpu, f"{entry['training_rows']:,}", str(len(entry["models"])), f"{entry['bytes'] / 1024:,.0f}",
             f"{100 * entry['in_sample_operator_mape']:.1f}"] for gpu, entry in manifest["predictors"].items()]


def _report_set(manifest: dict[str, Any], out: Path, as_json: bool) -> None:
    if as_json:
        print_json({"output": str(out), "id": manifest["id"], "training_data": manifest["training_data"],
                    "predictors": manifest["predictors"]})
        return
    stdout.print(_table(f"Predictor set onnx:{manifest['id']} -> {out}",
                        [("gpu", "name"), ("rows", "number"), ("models", "number"), ("KiB", "number"),
                         ("in-sample op MAPE %", "number")], _predictor_rows(manifest)))


@profile_app.command("train")
@handles_input_errors
def train_command(
    data: Annotated[str, typer.Option("--data", help="vidur's data/profiling folder (compute/, network/).")]
    = "../shared/data/profiling/vidur",
    out: Annotated[str | None, typer.Option(
        "--out", help="Folder to write (default: the package's predictors).")] = None,
    gpu: Annotated[list[str] | None, typer.Option("--gpu", help="Only this GPU (repeatable).")] = None,
    exclude_model: Annotated[list[str] | None, typer.Option(
        "--exclude-model", help="Leave a model's CSV out (repeatable; vidur folder name).")] = None,
    as_json: bool = JSON_OPTION,
) -> None:
    """Regenerate the ONNX predictors from vidur's measured CSVs (same CSVs -> byte-identical files)."""
    from preserve_cli.profile.predictor_set import shipped_folder
    from preserve_cli.profile.training import train_vidur

    if (gpu or exclude_model) and not out:
        raise InputError("a subset of GPUs or models would replace the package's complete predictor set",
                         field="--out", fix="write subsets elsewhere with --out DIR")
    target = Path(out) if out else shipped_folder()
    with _steps(not as_json) as step:
        manifest, _ = train_vidur(Path(data), target, gpus=gpu or [], exclude_models=exclude_model or [],
                                  progress=step)
    _report_set(manifest, target, as_json)


@profile_app.command("fit")
@handles_input_errors
def fit_command(
    measurements: Annotated[list[str], typer.Argument(help="Operator measurement CSV(s) (docs/formats.md).")],
    gpu: Annotated[str, typer.Option("--gpu", help="Catalog GPU the measurements were taken on.")],
    out: Annotated[str, typer.Option("--out", help="Folder to write the predictor set to.")],
    as_json: bool = JSON_OPTION,
) -> None:
    """Fit ONNX predictors to your own operator timings; use them with --predictors OUT."""
    from preserve_cli.profile.training import fit_measurements

    with _steps(not as_json) as step:
        manifest = fit_measurements([Path(m) for m in measurements], gpu, Path(out), progress=step)
    _report_set(manifest, Path(out), as_json)


@profile_app.command("export")
@handles_input_errors
def export_command(
    format_name: Annotated[str, typer.Option("--format", help="dynamo (NPZ folder) | aibrix (JSON file).")],
    gpu: Annotated[str, typer.Option("--gpu", help="GPU catalog name.")],
    model: Annotated[str, typer.Option("--model", help="Catalog model name or a Hugging Face config.json path.")],
    output: Annotated[str, typer.Option("-o", "--output", help="Folder (dynamo) or file (aibrix) to write.")],
    tp: Annotated[int, typer.Option("--tp", help="Tensor-parallel degree.")] = 1,
    ttft_s: Annotated[float, typer.Option("--ttft-s", help="TTFT p99 target, seconds.")] = DEFAULT_TTFT_P99_S,
    tpot_ms: Annotated[float, typer.Option("--tpot-ms", help="TPOT p99 target, milliseconds.")] = DEFAULT_TPOT_P99_MS,
    usd_per_hour: Annotated[float, typer.Option("--cost", help="$/hour of one instance (aibrix `cost`).")] = 1.0,
    deployment: Annotated[str | None, typer.Option(
        "--deployment", help="Name AIBrix keys the profile by (aibrix `gpu`; default: the GPU name).")] = None,
    predictors: Annotated[str | None, PREDICTORS_OPTION] = None,
    as_json: bool = JSON_OPTION,
) -> None:
    """Write this instance's profile for NVIDIA Dynamo's SLA planner or AIBrix's GPU optimizer."""
    from preserve_cli.profile.catalog import get_gpu, resolve_model
    from preserve_cli.profile.exports import ExportRequest, export_profile
    from preserve_cli.profile.first_order import check_request
    from preserve_cli.profile.predictor_set import PredictorSet

    slo = Slo(ttft_p99_s=ttft_s, tpot_p99_ms=tpot_ms)
    check_request(slo, WorkloadShape(1, 1), (tp,))
    if not usd_per_hour > 0:
        raise InputError(f"{usd_per_hour!r} is not a positive price", field="--cost", fix="write $/hour, e.g. 3.5")
    request = ExportRequest(get_gpu(gpu), resolve_model(model), tp, slo,
                            PredictorSet.load(predictors) if predictors else None, usd_per_hour, deployment or "")
    written = export_profile(format_name, request, Path(output))
    if as_json:
        print_json({"format": format_name, "files": [str(p) for p in written]})
        return
    for path in written:
        note(f"wrote {path}")


def register(app: typer.Typer) -> None:
    app.add_typer(profile_app, name="profile")
