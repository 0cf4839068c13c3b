"""Plots of a training run, written as PNG files (needs matplotlib: ``pip install "mlp[plot]"``).

Each plot is one function that takes run data and a path: it gets a figure from ``_new_figure``,
draws on its axes and writes it with ``_save``. matplotlib is imported only inside
``require_matplotlib``, so the rest of ``mlp`` works without it, and only through its object API
(``Figure``, rendered by Agg), never pyplot, whose global figure state and GUI backends have no place
in a library or a headless run.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlp.fileio import atomic_write
from mlp.history import History

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# A fixed size per panel makes the PNG's size known: 500x400 pixels a panel.
PANEL_INCHES = (5.0, 4.0)
DPI = 100


class MissingExtraError(ValueError):
    """An optional dependency (the ``plot`` extra: matplotlib) is not installed."""


def require_matplotlib() -> type[Figure]:
    """matplotlib's ``Figure`` class; a ``MissingExtraError`` saying how to install it if it is missing."""
    try:
        from matplotlib.figure import Figure
    except ImportError as err:
        raise MissingExtraError(
            'mlp plot needs matplotlib, which is not installed; install it with: pip install "mlp[plot]"'
            "  (or pip install matplotlib)"
        ) from err
    return Figure


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


def _save(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` as a PNG at ``path`` (atomically, creating its folder); return the path."""
    path = Path(path)
    # A Figure without pyplot renders a PNG with matplotlib's Agg canvas: no display needed.
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=DPI))
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
            f"nothing to plot: the history has no loss or accuracy (it has {', '.join(history.keys())})"
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
    return _save(fig, path)
