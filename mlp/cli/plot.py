"""``mlp plot``: a run's learning curves, gradient norms, first-layer weights and confusion matrix as PNGs."""

from __future__ import annotations

from pathlib import Path

import click

from mlp.cli.common import debug_option
from mlp.plots.folders import (
    AUGMENT_OUT,
    CONFUSION_OUT,
    DEFAULT_OUT,
    MISTAKES_OUT,
    WEIGHTS_OUT,
    plot_run,
    plot_sweep_folder,
)
from mlp.runs.folder import is_sweep


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help=f"PNG file for the learning curves; the other images go in its folder. "
                   f"[default: RUN_DIR/{DEFAULT_OUT}]")
@click.option("--weights", is_flag=True,
              help=f"Also draw the first layer's weights ({WEIGHTS_OUT}): as images for image data (mnist), else "
                   f"as a heat map of inputs x hidden units.")
@click.option("--units", type=click.IntRange(min=1), default=64, show_default=True,
              help="How many hidden units --weights draws.")
@click.option("--confusion", is_flag=True,
              help=f"Also draw the test set's confusion matrix ({CONFUSION_OUT}) and, for image data, the most "
                   f"confident mistakes ({MISTAKES_OUT}).")
@click.option("--augment", is_flag=True,
              help=f"Also draw training pictures and augmented versions of them ({AUGMENT_OUT}), for a run trained "
                   f"with data.augment.")
@click.option("--data-dir", type=click.Path(path_type=Path),
              help="Folder with the dataset's files, for --confusion and --augment.")
@debug_option
def plot(run_dir: Path, out: Path | None, weights: bool, units: int, confusion: bool, augment: bool,
         data_dir: Path | None) -> None:
    """Plot a run: learning curves, gradient norms, weights, confusion matrix.

    Always the learning curves: loss and accuracy per epoch, training and validation, with the best
    validation loss marked (a regression run gets the loss panel only). If the run recorded them
    (training.gradient_norms), also each layer's gradient norm and update ratio over training.
    --weights and --confusion draw from the run's model.npz. RUN_DIR is a run directory written by
    `mlp train`, or its history.json. Needs matplotlib: pip install matplotlib.

    A sweep folder written by `mlp sweep` gets sweep.png: the metric of every trial against each swept
    parameter, and the learning curves of the best trials; sweep_history.png: the metric by trial and the best
    so far; sweep_parallel.png: parallel coordinates of the parameters and the metric; sweep_importances.png:
    Optuna's parameter importances.

    \b
    Examples:
      mlp plot runs/latest
      mlp plot runs/latest --weights --confusion
      mlp plot runs/latest --augment
      mlp plot runs/latest/history.json --out curves.png
      mlp plot sweeps/lr_width
    """
    written, skipped = (plot_sweep_folder(run_dir, out) if is_sweep(run_dir)
                        else plot_run(run_dir, out, weights, units, confusion, data_dir, augment))
    for path in written:
        click.echo(f"wrote {path}")
    for what in skipped:
        click.echo(f"not drawn: {what}")
