"""`preserve profile`: per-instance capacity (mu_p, mu_d, mu_t, M) for GPU x model x TP.

`profile` is a command group: without a subcommand it computes capacities and writes
capacity.yaml; `profile gpus` and `profile models` list the catalogs. Later stages add
subcommands to `profile_app`.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table

from preserve_cli.cli.common import JSON_OPTION, fail, handles_input_errors, note, print_json, stdout
from preserve_cli.profile.catalog import list_gpus, list_models
from preserve_cli.profile.schema import InstanceCapacity, write_capacities
from preserve_cli.profile.slo import DEFAULT_TPOT_P99_MS, DEFAULT_TTFT_P99_S, Slo, WorkloadShape
from preserve_cli.profile.specs import GIB
from preserve_cli.profile.sweep import profile_grid

# Default workload: the scale of the Azure LLM inference trace 2023, conversation service
# (AzureLLMInferenceTrace_conv.csv: mean 1155 prompt / 211 generated tokens, median 1020 / 129).
# The planner passes the demand history's own means instead.
DEFAULT_INPUT_TOKENS = 1024
DEFAULT_OUTPUT_TOKENS = 256

profile_app = typer.Typer(
    help="Per-instance capacity for GPU x model x TP (first-order model; see docs/capacity-model.md).",
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
             f"{c.mixed_tokens_per_s or 0:,.0f}", f"{c.kv_tokens:,}", str(c.max_batch)] for c in capacities]
    return _table("Instance capacity, first-order: mu_p prefill, mu_d decode, mu_t mixed tokens/s; "
                  "M KV-cache tokens", [("gpu", "name"), ("model", "name"), ("tp", "number"), ("mu_p", "number"),
                                        ("mu_d", "number"), ("mu_t", "number"), ("M", "number"),
                                        ("batch", "number")], rows)


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
    as_json: bool = JSON_OPTION,
) -> None:
    """Compute capacities (when no subcommand is given) and write capacity.yaml."""
    if ctx.invoked_subcommand is not None:
        return
    if not gpu or not model:
        fail("give --gpu and --model (fix: e.g. `preserve profile --gpu h100-80gb --model llama-3-8b --tp 1`; "
             "list names with `preserve profile gpus` / `preserve profile models`)")
    result = profile_grid(gpu, model, tp or [1], Slo(ttft_p99_s=ttft_s, tpot_p99_ms=tpot_ms),
                          WorkloadShape(mean_input_tokens=input_tokens, mean_output_tokens=output_tokens))
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


def register(app: typer.Typer) -> None:
    app.add_typer(profile_app, name="profile")
