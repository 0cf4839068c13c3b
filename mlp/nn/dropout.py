"""Inverted dropout (Srivastava et al. 2014)."""

from __future__ import annotations

from typing import Any

import numpy as np

from mlp.nn.layer import LAYERS, Layer, as_generator


@LAYERS.register("dropout")
class Dropout(Layer):
    """Inverted dropout: ``Z = X * M``, ``M = Bernoulli(1 - p) / (1 - p)`` in training; identity in evaluation.

    Each unit is dropped with probability ``p``; survivors are scaled by ``1 / (1 - p)`` so that the
    expected activation is unchanged and nothing needs rescaling at test time. Backward applies the
    same mask: ``dL/dX = M * dL/dZ``. Shapes: ``X, Z: (batch, n)``.

    Args:
        p: drop probability in ``[0, 1)``.
        rng: ``Generator`` or seed for the masks (``Sequential(seed=...)`` re-seeds it).
    """

    def __init__(self, p: float = 0.5, *, rng: np.random.Generator | int | None = None) -> None:
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"Dropout p must be in [0, 1), got {p}")
        self.p = float(p)
        self.rng = as_generator(rng)
        self.mask: np.ndarray | None = None  # M of the last training forward pass; None in evaluation

    def initialize(self, rng: np.random.Generator) -> None:
        self.rng = rng.spawn(1)[0]

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        if not training or self.p == 0:
            self.mask = None
            return x
        x = np.asarray(x)
        if x.dtype not in (np.float32, np.float64):
            x = x.astype(np.float32)
        mask = self.rng.random(x.shape, dtype=x.dtype.type) >= self.p
        self.mask = mask.astype(x.dtype)
        self.mask *= 1 / (1 - self.p)
        return x * self.mask

    def backward(self, grad_out: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        if not input_grad:
            return None
        return grad_out if self.mask is None else grad_out * self.mask

    def get_config(self) -> dict[str, Any]:
        return {"p": self.p}
