"""Plots of a training run, written as PNG files (needs matplotlib, the ``plot`` extra).

Each plot is one function that takes run data and a path: it gets a figure from ``_new_figure``,
draws on its axes and writes it with ``_save``, which records its title in the PNG's metadata.
matplotlib is imported only inside ``require_matplotlib``, so the rest of ``mlp`` works without it,
and only through its object API (``Figure``, rendered by Agg), never pyplot, whose global figure state
and GUI backends have no place in a library or a headless run.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mlp.extras import require
from mlp.files.atomic import atomic_write
from mlp.messages import name_list
from mlp.train.history import History

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# A fixed size per panel makes the PNG's size known: 500x400 pixels a panel.
PANEL_INCHES = (5.0, 4.0)
DPI = 100


def require_matplotlib() -> type[Figure]:
    """matplotlib's ``Figure`` class; a ``MissingExtraError`` saying how to install it if it is missing."""
    return require("matplotlib.figure", "plot", "mlp plot").Figure


def _new_figure(panels: int, title: str | None = None) -> tuple[Figure, list[Axes]]:
    """A figure of ``panels`` axes side by side, ``panels * 500`` x 400 pixels, and its axes."""
    Figure = require_matplotlib()
    width, height = PANEL_INCHES
    # "constrained" layout keeps labels and titles inside the fixed canvas, with no bbox_inches="tight"
    # (which would change the size of the PNG).
    fig = Figure(figsize=(width * panels, height), dpi=DPI, layout="constrained")
    axes = list(fig.subplots(1, panels, squeeze=False)[0])
    if title:
        fig.suptitle(title)
    return fig, axes


def _save(fig: Figure, path: str | Path, title: str | None) -> Path:
    """Write ``fig`` as a PNG at ``path`` (atomically, creating its folder), with ``title`` as its ``Title``
    (the PNG's metadata, which image viewers show); return the path."""
    path = Path(path)
    metadata = {"Title": title} if title else None
    # A Figure without pyplot renders a PNG with matplotlib's Agg canvas: no display needed.
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=DPI, metadata=metadata))
    return path


def _series(history: History, key: str) -> tuple[list[Any], list[float]]:
    """The epochs and values of ``key``, skipping epochs without a finite value (missing, None, NaN)."""
    points = [
        (record.get("epoch", i + 1), record[key])
        for i, record in enumerate(history.records)
        if isinstance(record.get(key), (int, float)) and math.isfinite(record[key])
    ]
    return [epoch for epoch, _ in points], [value for _, value in points]


def plot_history(history: History, path: str | Path, title: str | None = None) -> Path:
    """Write the learning curves of ``history`` to the PNG ``path`` and return the path.

    Two panels side by side (1000x400 pixels): the loss (training ``loss`` and ``val_loss``) and the
    accuracy (``accuracy`` and ``val_accuracy``) against ``epoch``. A run without accuracy (regression)
    gets the loss panel alone (500x400 pixels); curves whose key is missing are left out. The epoch of
    the lowest ``val_loss`` is marked with a dotted line in every panel and a dot on the loss curve.

    Raises ``ValueError`` if the history has no epochs or neither a loss nor an accuracy, and
    ``MissingExtraError`` (a ``ValueError``) if matplotlib is not installed.
    """
    if not history.records:
        raise ValueError("the history has no epochs; nothing to plot")
    panels: dict[str, list[tuple[str, list[Any], list[float]]]] = {}
    for name in ("loss", "accuracy"):
        curves = [(label, *_series(history, key)) for label, key in (("training", name), ("validation", f"val_{name}"))]
        curves = [curve for curve in curves if curve[1]]  # drop the metrics this run did not record
        if curves:
            panels[name] = curves
    if not panels:
        raise ValueError(
            f"nothing to plot: the history has no loss or accuracy (it has {name_list(history.keys())})"
        )

    fig, axes = _new_figure(len(panels), title)
    from matplotlib.ticker import MaxNLocator  # after _new_figure, which says how to install matplotlib

    for ax, (name, curves) in zip(axes, panels.items(), strict=True):
        for label, epochs, values in curves:
            ax.plot(epochs, values, marker=".", label=label)  # the marker shows a 1-epoch run too
        ax.set(xlabel="epoch", ylabel=name)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
        ax.grid(alpha=0.3)

    epochs, val_losses = _series(history, "val_loss")
    if val_losses:
        best = val_losses.index(min(val_losses))
        axes[0].plot(epochs[best], val_losses[best], "o", color="black", zorder=3,
                     label=f"best val_loss {val_losses[best]:.4g} (epoch {epochs[best]})")
        for ax in axes:
            ax.axvline(epochs[best], color="black", linestyle=":", linewidth=1)
    for ax in axes:
        ax.legend()
    return _save(fig, path, title)


def _layer_label(key: str) -> str:
    """``"2.W"`` -> ``"layer 2"``."""
    return f"layer {key.split('.')[0]}"


def plot_gradient_norms(norms: History, path: str | Path, title: str | None = None) -> Path:
    """Write the records of ``mlp.train.callbacks.gradient_norms.GradientNorms`` to the PNG ``path`` (1000x400 pixels).

    Left, each weight matrix's gradient norm ``||dL/dW||``; right, its update ratio
    ``||dW step|| / ||W||``; both against the (fractional) epoch, on log scales, one line per layer.
    """
    names = norms.keys()  # History.keys(): the metric names (a History is not a dict)
    keys = [key.removesuffix("/grad_norm") for key in names if key.endswith("/grad_norm")]
    if not keys:
        raise ValueError("nothing to plot: no gradient-norm records (train with training.gradient_norms)")
    fig, axes = _new_figure(2, title)
    for ax, (what, label) in zip(axes, (("grad_norm", "gradient norm ||dL/dW||"),
                                        ("update_ratio", "update ratio ||step|| / ||W||")), strict=True):
        for key in keys:
            epochs, values = _series(norms, f"{key}/{what}")
            positive = [(e, v) for e, v in zip(epochs, values, strict=True) if v > 0]  # log scale
            ax.plot([e for e, _ in positive], [v for _, v in positive], label=_layer_label(key))
        ax.set(xlabel="epoch", ylabel=label, yscale="log")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize="small")
    return _save(fig, path, title)


def _image_grid(images: np.ndarray, columns: int, title: str | None, labels: list[str] | None = None,
                cmap: str = "gray_r", symmetric: bool = False) -> Figure:
    """A figure with ``images: (n, h, w)`` in a grid of ``columns``, 100x100 pixels per image."""
    Figure = require_matplotlib()
    rows = math.ceil(len(images) / columns)
    fig = Figure(figsize=(columns, rows + (0.4 if title else 0)), dpi=DPI)
    if title:
        fig.suptitle(title, fontsize="medium")
    top = 1 - 0.4 / (rows + 0.4) if title else 1
    grid = fig.subplots(rows, columns, squeeze=False,
                        gridspec_kw={"left": 0.02, "right": 0.98, "bottom": 0.02, "top": top - 0.02,
                                     "wspace": 0.1, "hspace": 0.35 if labels else 0.1})
    for i, ax in enumerate(grid.flat):
        ax.set_axis_off()
        if i >= len(images):
            continue
        scale = {}
        if symmetric:  # each weight image gets its own scale, symmetric so that 0 is white
            limit = float(np.abs(images[i]).max()) or 1.0
            scale = {"vmin": -limit, "vmax": limit}
        ax.imshow(images[i], cmap=cmap, **scale)
        if labels:
            ax.set_title(labels[i], fontsize=7, pad=2)
    return fig


def _check_image_shape(features: int, image_shape: tuple[int, int]) -> None:
    """``ValueError`` unless rows of ``features`` values are pictures of ``image_shape``."""
    height, width = image_shape
    if height * width != features:
        raise ValueError(f"the input has {features} features, not images of {height}x{width} pixels")


def plot_weights(weights: np.ndarray, path: str | Path, image_shape: tuple[int, int], units: int = 64,
                 title: str | None = None) -> Path:
    """The incoming weights of the first ``units`` hidden units of ``weights: (pixels, hidden)`` (a first
    ``Dense`` layer's ``W``, for inputs that are pictures of ``image_shape``: (height, width)), each as an image,
    8 to a row (800 pixels wide, 100 per row of images).

    Red is a positive weight (the pixel excites the unit), blue a negative one, white zero.
    """
    _check_image_shape(weights.shape[0], image_shape)
    if units < 1:
        raise ValueError(f"units must be >= 1, got {units}")
    units = min(units, weights.shape[1])
    images = weights[:, :units].T.reshape(units, *image_shape)
    fig = _image_grid(images, 8, title, cmap="RdBu_r", symmetric=True)
    return _save(fig, path, title)


MATRIX_TICKS = 32  # inputs or units named on an axis of the weight matrix: more would overlap


def plot_weight_matrix(weights: np.ndarray, path: str | Path, units: int = 64, title: str | None = None) -> Path:
    """The weights of ``weights: (inputs, hidden)`` (a first ``Dense`` layer's ``W``, for inputs that are not
    pictures: a table's columns, points) into its first ``units`` hidden units, as a heat map: one row per
    input, one column per unit; 800 pixels wide, 250 high for up to four inputs and 30 more for each further
    one (at most 800).

    Red is a positive weight, blue a negative one, white zero, on one scale for the whole matrix, so that the
    inputs each unit leans on, and the inputs no unit uses, show.
    """
    if units < 1:
        raise ValueError(f"units must be >= 1, got {units}")
    inputs, units = weights.shape[0], min(units, weights.shape[1])
    Figure = require_matplotlib()
    fig = Figure(figsize=(8, min(max(2.5, 1.3 + 0.3 * inputs), 8)), dpi=DPI, layout="constrained")
    ax = fig.subplots()
    limit = float(np.abs(weights[:, :units]).max()) or 1.0
    image = ax.imshow(weights[:, :units], cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto",
                      interpolation="nearest")
    fig.colorbar(image, ax=ax, label="weight")
    ax.set(xlabel="hidden unit", ylabel="input", title=title)
    if inputs <= MATRIX_TICKS:
        ax.set_yticks(range(inputs))
    if units <= MATRIX_TICKS:
        ax.set_xticks(range(units))
    return _save(fig, path, title)


def plot_confusion_matrix(matrix: np.ndarray, classes: list[str], path: str | Path,
                          title: str | None = None) -> Path:
    """``matrix[i, j]``: how many of true class ``i`` were predicted ``j`` (``mlp.train.metrics.confusion_matrix``),
    as a 600x600-pixel image with the counts written in the cells; the diagonal is left out of the colour
    scale so that the mistakes show."""
    Figure = require_matplotlib()
    fig = Figure(figsize=(6, 6), dpi=DPI, layout="constrained")
    ax = fig.subplots()
    errors = matrix.astype(float)
    np.fill_diagonal(errors, np.nan)
    ax.imshow(errors, cmap="Reds")
    n = len(classes)
    dark = 0.6 * np.nanmax(errors) if n > 1 else np.inf  # white text on the darkest cells
    for i in range(n):
        for j in range(n):
            color = "green" if i == j else "white" if errors[i, j] > dark else "black"
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=8 if n <= 10 else 6, color=color)
    ax.set(xticks=range(n), yticks=range(n), xlabel="predicted class", ylabel="true class",
           title=title or "confusion matrix")
    ax.set_xticklabels(classes)
    ax.set_yticklabels(classes)
    return _save(fig, path, title)


def plot_misclassified(images: np.ndarray, labels: list[str], path: str | Path, image_shape: tuple[int, int],
                       title: str | None = None) -> Path:
    """Misclassified inputs ``images: (n, pixels)``, pictures of ``image_shape`` (height, width), 8 to a row,
    each titled with its label (e.g. ``"4 -> 9 (0.97)"``): 800 pixels wide, 100 per row plus the title."""
    _check_image_shape(images.shape[1], image_shape)
    if not len(images):
        raise ValueError("no misclassified rows to show")
    fig = _image_grid(images.reshape(-1, *image_shape), 8, title, labels=labels)
    return _save(fig, path, title)


def plot_augmented(originals: np.ndarray, versions: np.ndarray, path: str | Path, image_shape: tuple[int, int],
                   title: str | None = None) -> Path:
    """Training pictures and augmented versions of them: a row per picture of ``originals: (n, pixels)``, itself
    first, then its ``versions: (n, k, pixels)``; 100 pixels per picture."""
    _check_image_shape(originals.shape[1], image_shape)
    n, k = versions.shape[:2]
    images = np.concatenate([originals[:, None], versions], axis=1).reshape(n * (k + 1), *image_shape)
    labels = ["training row", *(f"augmented {j + 1}" for j in range(k))] * n
    fig = _image_grid(images, k + 1, title, labels=labels)
    return _save(fig, path, title)


def _metric_scale(metric: str, values: list[float]) -> str:
    """A log axis for a loss of positive values (those of good and bad trials are orders of magnitude apart)."""
    return "log" if "loss" in metric and values and min(values) > 0 else "linear"


def _label_points(ax: Axes, xs: list[Any], ys: list[float], labels: list[str]) -> None:
    """Write each point's label (its trial) beside it."""
    for x, y, label in zip(xs, ys, labels, strict=True):
        ax.annotate(label, (x, y), textcoords="offset points", xytext=(3, 3), fontsize=7, alpha=0.8)


def sweep_figure(space: dict[str, dict[str, Any]], metric: str, rows: list[dict[str, str]],
                 curves: dict[str, list[dict[str, Any]]], title: str | None = None) -> Figure:
    """A sweep's overview: one panel per swept parameter (of more than one value), the ``metric`` of every trial
    against the parameter's value (a log axis for a ``log_uniform`` one, the values in order for a list of words;
    each point labelled with its trial; a conditional parameter's panel has the trials that drew it), and a last
    panel with ``metric`` per epoch of the trials in ``curves`` (trial name -> its history's records), the best
    ones. ``rows``: ``results.csv``'s rows (failed trials have no metric)."""
    scored = [row for row in rows if row.get(metric) not in (None, "")]
    if not scored:
        raise ValueError(f"no trial of the sweep has a {metric}; nothing to plot")
    space = {name: spec for name, spec in space.items() if next(iter(spec.items()))[1][1:]}  # one value: not swept
    fig, axes = _new_figure(len(space) + 1, title)
    from matplotlib.ticker import MaxNLocator  # after _new_figure, which says how to install matplotlib

    scale = _metric_scale(metric, [float(row[metric]) for row in scored])
    for ax, (name, spec) in zip(axes, space.items(), strict=False):
        kind, values = next(iter(spec.items()))
        drawn = [row for row in scored if row.get(name) not in (None, "")]
        ys = [float(row[metric]) for row in drawn]
        try:
            xs: list[Any] = [float(row[name]) for row in drawn]
        except ValueError:  # words: placed at their position in the list of values
            order = [str(v) for v in values]
            xs = [order.index(row[name]) for row in drawn]
            ax.set_xticks(range(len(order)), order)
        ax.plot(xs, ys, "o", alpha=0.8)
        _label_points(ax, xs, ys, [str(row["trial"]) for row in drawn])
        if kind == "log_uniform":
            ax.set_xscale("log")
        ax.set(xlabel=name, ylabel=metric, yscale=scale)
        ax.grid(alpha=0.3)
    last = axes[-1]
    for label, records in curves.items():
        points = [(r.get("epoch", i + 1), r[metric]) for i, r in enumerate(records)
                  if isinstance(r.get(metric), int | float) and math.isfinite(r[metric])]
        last.plot([p[0] for p in points], [p[1] for p in points], marker=".", label=label)
    last.set(xlabel="epoch", ylabel=metric, yscale=scale, title=f"learning curves of the best {len(curves)}")
    last.xaxis.set_major_locator(MaxNLocator(integer=True))
    last.grid(alpha=0.3)
    if curves:
        last.legend()
    return fig


def plot_sweep(space: dict[str, dict[str, Any]], metric: str, rows: list[dict[str, str]],
               curves: dict[str, list[dict[str, Any]]], path: str | Path, title: str | None = None) -> Path:
    """Write ``sweep_figure`` to the PNG ``path``."""
    return _save(sweep_figure(space, metric, rows, curves, title), path, title)


def history_figure(metric: str, lower_is_better: bool, rows: list[dict[str, str]], title: str | None = None
                   ) -> Figure:
    """The optimization history: each trial's ``metric`` against its number (filled: trained to the end; hollow:
    pruned or interrupted, their last value), each labelled with its trial, and the best so far of the trials
    trained to the end, as a step line."""
    scored = sorted((row for row in rows if row.get(metric) not in (None, "")), key=lambda row: int(row["trial"]))
    if not scored:
        raise ValueError(f"no trial of the sweep has a {metric}; nothing to plot")
    fig, (ax,) = _new_figure(1, title)
    finished = [row for row in scored if row["status"] in ("completed", "stopped")]
    others = [row for row in scored if row not in finished]
    for group, style in ((finished, {"label": "trained to the end"}),
                         (others, {"label": "pruned or interrupted", "markerfacecolor": "none"})):
        if group:
            xs, ys = [int(row["trial"]) for row in group], [float(row[metric]) for row in group]
            ax.plot(xs, ys, "o", alpha=0.8, **style)
            _label_points(ax, xs, ys, [str(x) for x in xs])
    if finished:
        best, xs, ys = None, [], []
        for row in finished:
            value = float(row[metric])
            best = value if best is None or (value < best if lower_is_better else value > best) else best
            xs.append(int(row["trial"]))
            ys.append(best)
        last = max(int(row["trial"]) for row in scored)
        ax.step([*xs, last], [*ys, ys[-1]], where="post", color="C3", label="best so far")
    ax.set(xlabel="trial", ylabel=metric, yscale=_metric_scale(metric, [float(row[metric]) for row in scored]))
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


def parallel_figure(space: dict[str, dict[str, Any]], metric: str, rows: list[dict[str, str]],
                    title: str | None = None) -> Figure:
    """Parallel coordinates: one vertical axis per swept parameter, then the ``metric``; each trial with a metric
    is a line through its values, coloured by the metric and labelled with its trial at the right. A parameter
    searched on a log scale (``log_uniform``) runs on a log axis, a list of values in its order; each axis is
    spread from its lowest to its highest value (written at its ends). A conditional parameter a trial did not draw
    leaves a gap in its line."""
    scored = [row for row in rows if row.get(metric) not in (None, "")]
    if not scored:
        raise ValueError(f"no trial of the sweep has a {metric}; nothing to plot")
    swept = {name: spec for name, spec in space.items() if next(iter(spec.items()))[1][1:]}
    fig, (ax,) = _new_figure(1, title)
    fig.set_size_inches(max(PANEL_INCHES[0], 2.0 * (len(swept) + 1)), PANEL_INCHES[1])
    from matplotlib import colormaps

    columns: list[tuple[str, list[float], list[str]]] = []  # name, each trial's position in [0, 1], end labels
    for name, spec in swept.items():
        kind, values = next(iter(spec.items()))
        if kind == "choice":
            order = [str(v) for v in values]
            positions = [order.index(row[name]) / (len(order) - 1) if row.get(name) in order else math.nan
                         for row in scored]
            columns.append((name, positions, [order[0], order[-1]]))
            continue
        transform = math.log10 if kind == "log_uniform" else float
        low, high = (transform(float(v)) for v in values)
        positions = [(transform(float(row[name])) - low) / (high - low) if row.get(name) not in (None, "")
                     else math.nan for row in scored]
        columns.append((f"{name} (log)" if kind == "log_uniform" else name, positions,
                        [f"{float(values[0]):.3g}", f"{float(values[1]):.3g}"]))
    metrics = [float(row[metric]) for row in scored]
    log = _metric_scale(metric, metrics) == "log"
    shown = [math.log10(m) for m in metrics] if log else metrics
    low, high = min(shown), max(shown)
    spread = (high - low) or 1.0
    columns.append((f"{metric} (log)" if log else metric, [(m - low) / spread for m in shown],
                    [f"{min(metrics):.4g}", f"{max(metrics):.4g}"]))
    cmap = colormaps["viridis_r" if "loss" in metric else "viridis"]
    xs = list(range(len(columns)))
    for i, row in enumerate(scored):
        ys = [positions[i] for _, positions, _ in columns]
        color = cmap((shown[i] - low) / spread)
        ax.plot(xs, ys, color=color, alpha=0.8, marker=".")
        ax.annotate(str(row["trial"]), (xs[-1], ys[-1]), textcoords="offset points", xytext=(4, 0), fontsize=7,
                    va="center", color=color)
    for x, (_, _, ends) in zip(xs, columns, strict=True):
        ax.axvline(x, color="0.5", linewidth=0.8)
        ax.annotate(ends[0], (x, 0), textcoords="offset points", xytext=(0, -12), ha="center", fontsize=7)
        ax.annotate(ends[1], (x, 1), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=7)
    ax.set_xticks(xs, [name for name, _, _ in columns], rotation=20, ha="right")
    ax.set(ylim=(-0.12, 1.12), yticks=[])
    return fig


def importance_figure(importances: dict[str, float], title: str | None = None) -> Figure:
    """The parameters' importances (name -> share, summing to 1; Optuna's ``get_param_importances``) as bars, the
    most important on top."""
    if not importances:
        raise ValueError("no importances to draw")
    fig, (ax,) = _new_figure(1, title)
    names = list(importances)[::-1]
    ax.barh(names, [importances[name] for name in names], color="C0")
    for y, name in enumerate(names):
        ax.annotate(f"{importances[name]:.2f}", (importances[name], y), textcoords="offset points", xytext=(3, 0),
                    va="center", fontsize=8)
    ax.set(xlabel="importance (share of the metric's variation)", xlim=(0, 1.1))
    ax.grid(alpha=0.3, axis="x")
    return fig


def save_figure(fig: Figure, path: str | Path, title: str | None = None) -> Path:
    """Write a figure made by one of the ``*_figure`` functions as a PNG at ``path``."""
    return _save(fig, path, title)
