"""``Position``: where training stands, the epoch, the batch and the epoch's running sums, which a checkpoint
stores so that training resumes from any batch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass
class Position:
    """Where training stands: epoch ``epoch`` (0-based; equal to the number of completed epochs) is in
    progress with ``batch`` of its batches done.

    ``shuffle_state`` is the shuffling generator's state before this epoch drew its permutation, so that a
    resumed run draws the same one; ``loss_sum`` (the sum of batch loss times batch weight: its rows, or the
    sum of their weights), ``weight``, ``correct``, ``counted`` (weighted too, where the rows have weights) and
    ``seen`` (rows) are the epoch's running sums, and ``elapsed`` its training seconds so far. ``matrix``: the
    epoch's running confusion matrix ``(classes, classes)`` of the batches' predictions (weighted too), kept when
    ``fit`` records metrics (``mlp.train.metrics.METRICS``), else ``None``.
    """

    epoch: int = 0
    batch: int = 0
    shuffle_state: dict[str, Any] | None = None
    loss_sum: float = 0.0
    correct: float = 0
    counted: float = 0
    seen: int = 0
    elapsed: float = 0.0
    weight: float = 0
    matrix: np.ndarray | None = None

    def to_dict(self) -> dict[str, Any]:
        """The position as JSON values (the matrix as a list of rows)."""
        return asdict(self) | {"matrix": self.matrix.tolist() if self.matrix is not None else None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Position:
        """A position as ``to_dict`` gave it; files written before rows had weights count each row 1, and those
        written before metrics were recorded have no matrix."""
        position = cls(**{"weight": data.get("seen", 0)} | data)
        if position.matrix is not None:
            position.matrix = np.asarray(position.matrix, dtype=np.float64)
        return position
