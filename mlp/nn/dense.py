"""The fully connected layer."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from mlp.native.blas import add_to_rows, column_sums, matmul
from mlp.nn.init import Initializer, get_initializer
from mlp.nn.layer import LAYERS, Layer, ShapeError, as_generator


@LAYERS.register("dense")
class Dense(Layer):
    """Fully connected layer ``A = X @ W + b``.

    Shapes: ``X: (batch, in_features)``, ``W: (in_features, out_features)``, ``b: (out_features,)``,
    ``A: (batch, out_features)``.

    Backward, with ``Delta = dL/dA: (batch, out_features)`` (``docs/backprop.md`` §3-5):

    - ``dL/dW = X.T @ Delta``  -- each weight's gradient is "input times delta";
    - ``dL/db = Delta.sum(axis=0)``;
    - ``dL/dX = Delta @ W.T``  -- skipped when ``input_grad=False`` (first layer of a network).

    Args:
        in_features, out_features: layer widths.
        init: weight initializer name or callable (``mlp.nn.init``); default He normal, right for ReLUs.
        bias: whether to learn ``b``.
        rng: ``Generator`` or seed for the initial weights (never the global RNG).
        dtype: parameter dtype; inputs are converted to it, so a float32 layer computes in float32.

    The three products go through ``mlp.native.blas.matmul``, the bias through ``add_to_rows`` and its gradient
    through ``column_sums``: MKL where it is the training step's BLAS (the ``mkl`` extra, setting ``MLP_BLAS``),
    NumPy otherwise.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        init: str | Initializer = "he_normal",
        bias: bool = True,
        *,
        rng: np.random.Generator | int | None = None,
        dtype: DTypeLike = np.float32,
    ) -> None:
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(f"Dense {name} must be a positive integer, got {value!r}")
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.init = get_initializer(init)
        self.bias = bias
        self.dtype = np.dtype(dtype)
        self._x: np.ndarray | None = None
        self.initialize(as_generator(rng))

    def initialize(self, rng: np.random.Generator) -> None:
        self.params["W"] = self.init(rng, (self.in_features, self.out_features), self.dtype)
        if self.bias:
            self.params["b"] = np.zeros(self.out_features, dtype=self.dtype)
        self.grads = {name: np.zeros_like(p) for name, p in self.params.items()}

    def astype(self, dtype: DTypeLike) -> Dense:
        self.dtype = np.dtype(dtype)
        return super().astype(dtype)  # type: ignore[return-value]

    def output_size(self, input_size: int | None) -> int:
        return self.out_features

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """``x: (batch, in_features)`` -> ``A = x @ W + b: (batch, out_features)``."""
        x = np.asarray(x, dtype=self.dtype)
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ShapeError(f"{self!r} expects input of shape (batch, {self.in_features}), got {x.shape}")
        self._x = x
        a = matmul(x, self.params["W"])
        if self.bias:
            add_to_rows(a, self.params["b"])
        return a

    def backward(self, grad_out: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        """``grad_out = Delta: (batch, out_features)``; stores ``dW = X.T @ Delta``, ``db = sum(Delta)``."""
        if self._x is None:
            raise RuntimeError(f"{self!r}.backward called before forward")
        # Written into the existing arrays so that anything holding self.grads sees the new values.
        matmul(self._x.T, grad_out, out=self.grads["W"])
        if self.bias:
            column_sums(grad_out, out=self.grads["b"])
        return matmul(grad_out, self.params["W"].T) if input_grad else None

    @classmethod
    def parameter_shapes(cls, config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        shapes = {"W": (int(config["in_features"]), int(config["out_features"]))}
        return shapes | ({"b": (int(config["out_features"]),)} if config.get("bias", True) else {})

    def get_config(self) -> dict[str, Any]:
        return {"in_features": self.in_features, "out_features": self.out_features, "bias": self.bias,
                "dtype": self.dtype.name}

    def __repr__(self) -> str:
        return f"Dense({self.in_features}, {self.out_features}{'' if self.bias else ', bias=False'})"
