"""The hold-out rule, in one place: of ``n`` rows, the first ``ceil(n (1 - fraction))`` are kept and the last
``fraction`` held out, before any shuffling (Keras' ``validation_split`` rule).

``fit`` holds out its validation rows this way, a file without a test file and the synthetic sets their test
rows, standardisation fits on the rows ``fit`` keeps, and ``mlp evaluate --split train`` evaluates them.
"""

from __future__ import annotations

import math

import numpy as np


def training_rows(n: int, fraction: float) -> int:
    """How many of ``n`` rows are kept when ``fraction`` of them is held out: ``ceil(n (1 - fraction))``."""
    return math.ceil(n * (1 - fraction))


def hold_out(x: np.ndarray, y: np.ndarray, fraction: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``x, y`` split into the rows kept and the last ``fraction`` held out: ``(x_kept, y_kept, x_held, y_held)``."""
    cut = training_rows(len(x), fraction)
    return x[:cut], y[:cut], x[cut:], y[cut:]
