"""``mlp plot``: a run's learning curves, gradient norms, first-layer weights and confusion matrix as PNGs."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from mlp.cli.common import debug_option
from mlp.nn.dense import Dense
from mlp.plots import (
    plot_confusion_matrix,
    plot_gradient_norms,
    plot_history,
    plot_misclassified,
    plot_sweep,
    plot_weight_matrix,
    plot_weights,
)
from mlp.runs.folder import CONFIG_FILE, HISTORY_JSON, LOG_FILE, MODEL_FILE, NORMS_JSON
from mlp.runs.outputs import check_output
from mlp.runs.sweep import is_sweep, read_results, trial_history
from mlp.runs.trained import load_rows, load_trained
from mlp.train.history import History
from mlp.train.metrics import confusion_matrix

DEFAULT_OUT = "learning_curves.png"
NORMS_OUT, WEIGHTS_OUT = "gradient_norms.png", "weights.png"
CONFUSION_OUT, MISTAKES_OUT = "confusion_matrix.png", "most_confused.png"
MISTAKES_SHOWN = 32
SWEEP_OUT, BEST_CURVES = "sweep.png", 3


def find_history(run: Path) -> Path:
    """The ``history.json`` of a run directory, or ``run`` itself if it is a file."""
    if not run.exists():
        raise FileNotFoundError(
            f"{run} does not exist; give a run directory written by `mlp train` or its {HISTORY_JSON}"
        )
    if run.is_file():
        return run
    if not (run / HISTORY_JSON).is_file():
        if (run / CONFIG_FILE).is_file():  # a run that has not finished an epoch (or was stopped before one)
            raise FileNotFoundError(f"{run} has no {HISTORY_JSON} yet: no epoch of the run has finished (it is "
                                    f"written after every epoch); see {run / LOG_FILE}")
        raise FileNotFoundError(f"{run} has no {HISTORY_JSON}; is it a run directory written by `mlp train`?")
    return run / HISTORY_JSON


def read_history(path: Path) -> History:
    """``History.from_json(path)`` (whose errors name the file), with at least one epoch."""
    history = History.from_json(path)
    if not history.records:
        raise ValueError(f"{path} has no epochs yet; nothing to plot")
    return history


def plot_sweep_folder(folder: Path, out: Path) -> Path:
    """``sweep.png`` of a sweep folder: its results against each parameter, and the best trials' curves."""
    described, rows = read_results(folder)
    metric = described["metric"]
    best = [row for row in rows if row.get(metric)][:BEST_CURVES]
    curves = {f"trial {row['trial']}": trial_history(folder, row["run_dir"]) for row in best}
    return plot_sweep(described["space"], metric, rows, curves, out, title=f"{folder.resolve().name}: {metric}")


def plot_model_views(run: Path, folder: Path, weights: bool, units: int, confusion: bool,
                     data_dir: Path | None, name: str) -> tuple[list[Path], list[str]]:
    """The images of ``run``'s ``model.npz``, titled with the run's ``name``: first-layer weights, and the confusion
    matrix and most confident mistakes on the run's test set; and what was left out, and why.

    Weights and mistakes are drawn as pictures only for image data (``TrainedModel.image_shape``): for other data
    the weights are a heat map (inputs x units), and the mistakes, rows of numbers, are not drawn."""
    trained = load_trained(run)
    image_shape = trained.image_shape
    written, skipped = [], []
    if weights:
        first = next((layer for layer in trained.model if isinstance(layer, Dense)), None)
        assert first is not None, "a model written by mlp train starts with a Dense layer"
        w = first.params["W"]
        shown = min(units, w.shape[1])
        if image_shape is not None:
            written.append(plot_weights(w, folder / WEIGHTS_OUT, image_shape, units,
                                        title=f"{name}: incoming weights of the first {shown} hidden units"))
        else:
            written.append(plot_weight_matrix(w, folder / WEIGHTS_OUT, units,
                                              title=f"{name}: first-layer weights, {w.shape[0]} inputs x "
                                                    f"{shown} hidden units"))
    if confusion:
        if trained.classes is None:
            raise ValueError(f"{run} is a regression model; a confusion matrix needs classes")
        rows = load_rows(trained, None, data_dir, "test")
        output = trained.outputs(rows.x)
        predicted = trained.loss.predicted_classes(output)
        matrix = confusion_matrix(rows.y, predicted, len(trained.classes))
        accuracy = np.trace(matrix) / len(rows.y)
        written.append(plot_confusion_matrix(matrix, trained.classes, folder / CONFUSION_OUT,
                                             title=f"{name}: test accuracy {accuracy:.2%}"))
        wrong = np.flatnonzero(predicted != rows.y)
        if len(wrong) and image_shape is None:
            skipped.append(f"{MISTAKES_OUT}: the rows of {rows.name} are {trained.num_features} numbers each, not "
                           f"images; the mistakes are drawn for image data such as mnist")
        elif len(wrong):
            probabilities = trained.loss.class_probabilities(output)
            confidence = probabilities[wrong, predicted[wrong]] if probabilities is not None else np.zeros(len(wrong))
            shown = wrong[np.argsort(-confidence, kind="stable")[:MISTAKES_SHOWN]]
            labels = [f"{trained.classes[rows.y[i]]} -> {trained.classes[predicted[i]]}"
                      + (f" ({probabilities[i, predicted[i]]:.2f})" if probabilities is not None else "")
                      for i in shown]
            written.append(plot_misclassified(
                rows.x[shown], labels, folder / MISTAKES_OUT, image_shape,
                title=f"{name}: the most confident of {len(wrong):,} test mistakes (true -> predicted)"))
    return written, skipped


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
@click.option("--data-dir", type=click.Path(path_type=Path), help="Folder with the dataset's files, for --confusion.")
@debug_option
def plot(run_dir: Path, out: Path | None, weights: bool, units: int, confusion: bool, data_dir: Path | None) -> None:
    """Plot a run: learning curves, gradient norms, weights, confusion matrix.

    Always the learning curves: loss and accuracy per epoch, training and validation, with the best
    validation loss marked (a regression run gets the loss panel only). If the run recorded them
    (training.gradient_norms), also each layer's gradient norm and update ratio over training.
    --weights and --confusion draw from the run's model.npz. RUN_DIR is a run directory written by
    `mlp train`, or its history.json. Needs matplotlib: pip install "numpy-mlp[plot]".

    A sweep folder written by `mlp sweep` gets sweep.png: the metric of every trial against each swept
    parameter, and the learning curves of the best trials.

    \b
    Examples:
      mlp plot runs/latest
      mlp plot runs/latest --weights --confusion
      mlp plot runs/latest/history.json --out curves.png
      mlp plot sweeps/lr_width
    """
    if is_sweep(run_dir):
        out = out or run_dir / SWEEP_OUT
        check_output(out)
        click.echo(f"wrote {plot_sweep_folder(run_dir, out)}")
        return
    history_path = find_history(run_dir)
    run = history_path.parent
    out = out or run / DEFAULT_OUT
    check_output(out, [history_path, run / NORMS_JSON, run / MODEL_FILE])
    name = run.resolve().name  # the run's own name, not that of the link runs/latest
    written, skipped = [plot_history(read_history(history_path), out, title=name)], []
    if (run / NORMS_JSON).is_file():
        norms = read_history(run / NORMS_JSON)
        written.append(plot_gradient_norms(norms, out.parent / NORMS_OUT, title=f"{name}: gradients by layer"))
    if weights or confusion:
        drawn, skipped = plot_model_views(run, out.parent, weights, units, confusion, data_dir, name)
        written += drawn
    for path in written:
        click.echo(f"wrote {path}")
    for what in skipped:
        click.echo(f"not drawn: {what}")
