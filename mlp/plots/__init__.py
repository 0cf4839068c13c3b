"""Plots of runs and sweeps as PNG files (needs matplotlib, the ``plot`` extra).

- ``figures``: one function per picture, from run data (a history, weights, a confusion matrix) to a PNG.
- ``folders``: what ``mlp plot`` draws of a run directory or a sweep folder, from the files in it.
"""

from mlp.plots.figures import (
    plot_confusion_matrix,
    plot_gradient_norms,
    plot_history,
    plot_misclassified,
    plot_sweep,
    plot_weight_matrix,
    plot_weights,
    require_matplotlib,
)
from mlp.plots.folders import plot_model_views, plot_run, plot_sweep_folder

__all__ = ["plot_confusion_matrix", "plot_gradient_norms", "plot_history", "plot_misclassified", "plot_model_views",
           "plot_run", "plot_sweep", "plot_sweep_folder", "plot_weight_matrix", "plot_weights", "require_matplotlib"]
