"""What ``mlp plot`` draws of a folder: a run directory's learning curves, gradient norms, first-layer weights,
confusion matrix and most confident mistakes, or a sweep folder's results; each written as a PNG beside ``out``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mlp.nn.dense import Dense
from mlp.plots.figures import (
    history_figure,
    importance_figure,
    parallel_figure,
    plot_augmented,
    plot_confusion_matrix,
    plot_gradient_norms,
    plot_history,
    plot_misclassified,
    plot_sweep,
    plot_weight_matrix,
    plot_weights,
    save_figure,
)
from mlp.runs.config import augmentation
from mlp.runs.folder import MODEL_FILE, NORMS_JSON, find_history
from mlp.runs.outputs import check_output
from mlp.runs.sweep import RANKED, param_importances, read_results, trial_history
from mlp.runs.trained import load_rows, load_trained
from mlp.train.history import History
from mlp.train.metrics import confusion_matrix, most_confident_mistakes

DEFAULT_OUT = "learning_curves.png"
NORMS_OUT, WEIGHTS_OUT = "gradient_norms.png", "weights.png"
CONFUSION_OUT, MISTAKES_OUT = "confusion_matrix.png", "most_confused.png"
AUGMENT_OUT, AUGMENTED_ROWS, VERSIONS = "augmented.png", 6, 7
MISTAKES_SHOWN = 32
SWEEP_OUT, BEST_CURVES = "sweep.png", 3
HISTORY_OUT, PARALLEL_OUT, IMPORTANCES_OUT = "sweep_history.png", "sweep_parallel.png", "sweep_importances.png"


def plot_run(run_dir: Path, out: Path | None = None, weights: bool = False, units: int = 64, confusion: bool = False,
             data_dir: Path | None = None, augment: bool = False) -> tuple[list[Path], list[str]]:
    """The pictures of a run (``run_dir``, or its ``history.json``): the learning curves in ``out`` (default
    ``RUN_DIR/learning_curves.png``), the gradient norms if the run recorded them, with ``weights`` or
    ``confusion`` the views of its model (``plot_model_views``) and with ``augment`` its augmented training pictures
    (``plot_augmentation``) beside it. Returns the files written, and what was left out and why. No file the run
    holds is written over (``check_output``)."""
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
    if augment:
        written.append(plot_augmentation(run, out.parent / AUGMENT_OUT, data_dir, name))
    return written, skipped


def plot_augmentation(run: Path, out: Path, data_dir: Path | None, name: str) -> Path:
    """The first training pictures of ``run`` and versions of them as its ``data.augment`` transforms them (drawn
    from the run's seed), in ``out``."""
    trained = load_trained(run)
    augment = augmentation(trained.config["data"])
    if augment is None:
        raise ValueError(f"{run} was trained without augmentation (no data.augment in its config); nothing to draw")
    rows = load_rows(trained, None, data_dir, "train").x[:AUGMENTED_ROWS]
    rng = np.random.default_rng(trained.config["seed"])
    versions = np.stack([augment(rows, rng) for _ in range(VERSIONS)], axis=1)
    return plot_augmented(rows, versions, out, augment.image_shape,
                          title=f"{name}: training pictures and {VERSIONS} augmented versions of each")


def read_history(path: Path) -> History:
    """``History.from_json(path)`` (whose errors name the file), with at least one epoch."""
    history = History.from_json(path)
    if not history.records:
        raise ValueError(f"{path} has no epochs yet; nothing to plot")
    return history


def plot_sweep_folder(folder: Path, out: Path | None = None) -> tuple[list[Path], list[str]]:
    """The pictures of a sweep folder: ``sweep.png`` (or ``out``), its results against each parameter and the best
    trials' curves; beside it the optimization history, the parallel coordinates and the parameters' importances
    (Optuna's). Returns the files written, and what was left out and why. No file of the sweep is written over
    (``check_output``)."""
    out = out or folder / SWEEP_OUT
    outs = [out, out.parent / HISTORY_OUT, out.parent / PARALLEL_OUT, out.parent / IMPORTANCES_OUT]
    for path in outs:
        check_output(path)
    described, rows = read_results(folder)
    metric, space, name = described["metric"], described["space"], folder.resolve().name
    best = [row for row in rows if row.get(metric) and row["status"] in RANKED][:BEST_CURVES]
    curves = {f"trial {row['trial']}": trial_history(folder, row["run_dir"]) for row in best}
    written = [plot_sweep(space, metric, rows, curves, out, title=f"{name}: {metric}")]
    title = f"{name}: {metric} by trial"
    written.append(save_figure(history_figure(metric, "loss" in metric, rows, title), outs[1], title))
    title = f"{name}: parameters and {metric}"
    written.append(save_figure(parallel_figure(space, metric, rows, title), outs[2], title))
    importances = param_importances(described, rows)
    if not importances:
        return written, [f"{IMPORTANCES_OUT}: importances need two trials trained to the end and a parameter that "
                         f"varied among them"]
    title = f"{name}: importance of each parameter for {metric}"
    written.append(save_figure(importance_figure(importances, title), outs[3], title))
    return written, []


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
        w = next(layer for layer in trained.model if isinstance(layer, Dense)).params["W"]  # (a config has one)
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
        wrong = np.count_nonzero(predicted != rows.y)
        if wrong and image_shape is None:
            skipped.append(f"{MISTAKES_OUT}: the rows of {rows.name} are {trained.num_features} numbers each, not "
                           f"images; the mistakes are drawn for image data such as mnist")
        elif wrong:
            probabilities = trained.loss.class_probabilities(output)
            confidence = probabilities[np.arange(len(predicted)), predicted] if probabilities is not None else None
            shown = most_confident_mistakes(rows.y, predicted, confidence, MISTAKES_SHOWN)
            labels = [f"{trained.classes[rows.y[i]]} -> {trained.classes[predicted[i]]}"
                      + (f" ({probabilities[i, predicted[i]]:.2f})" if probabilities is not None else "")
                      for i in shown]
            written.append(plot_misclassified(
                rows.x[shown], labels, folder / MISTAKES_OUT, image_shape,
                title=f"{name}: the most confident of {wrong:,} test mistakes (true -> predicted)"))
    return written, skipped
