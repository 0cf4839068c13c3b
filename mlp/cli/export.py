"""``mlp export``: a trained model as an ONNX file, for runtimes outside Python."""

from __future__ import annotations

from pathlib import Path

import click

from mlp.cli.common import debug_option
from mlp.runs.outputs import check_output
from mlp.runs.trained import load_trained

FORMATS = ("onnx",)


@click.command()
@click.argument("run_dir", metavar="RUN_DIR|CHECKPOINT", type=click.Path(path_type=Path))
@click.option("--format", "file_format", type=click.Choice(FORMATS), default="onnx", show_default=True,
              help="The file format.")
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path),
              help="The file to write (default: model.onnx beside the model file).")
@debug_option
def export(run_dir: Path, file_format: str, out: Path | None) -> None:
    """Export a trained model as an ONNX file (needs the onnx extra).

    RUN_DIR is a run directory written by `mlp train` (its model.npz is exported) or a model file from one.
    The graph holds the run's standardizer, every layer and, for a classifier, the class probabilities and the
    predicted class index; the class names are in its metadata. Input: `input`, float32 (batch, features).
    Outputs: `scores`, `probabilities` (where the loss defines them) and `label`, or `output` for regression.

    \b
    Examples:
      mlp export runs/latest -o model.onnx
      mlp export runs/latest/model.npz --format onnx
    """
    from mlp.export import describe, save_onnx, to_onnx  # the onnx extra: imported only when exporting

    trained = load_trained(run_dir)
    out = out if out is not None else trained.path.with_suffix(f".{file_format}")
    check_output(out, [trained.path], "-o/--out")
    exported = to_onnx(trained.model, trained.standardizer, loss=trained.loss, classes=trained.classes,
                       name=trained.config["name"])
    save_onnx(exported, out)
    click.echo(f"wrote    {out}: {describe(exported)}")
