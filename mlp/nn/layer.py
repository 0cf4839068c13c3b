"""The ``Layer`` interface every building block implements (the derivation: ``docs/backprop.md``), and ``LAYERS``,
the names configs and model files use for them (``"dense"``, ``"dropout"``, ``"relu"``, ...).

A layer maps its input ``X: (batch, in_features)`` to an output ``Z: (batch, out_features)``.

- ``forward(x, training)`` computes ``Z`` and caches what ``backward`` needs.
- ``backward(grad_out)`` receives ``dL/dZ`` (same shape as ``Z``), stores the gradient of every
  parameter in ``grads`` (same keys and shapes as ``params``) and returns ``dL/dX``.

Optimizers only ever see the ``params`` / ``grads`` dicts, so they need nothing layer-specific.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from mlp.registry import Registry


class ShapeError(ValueError):
    """An array does not have the shape a layer, network or loss expects."""


def as_generator(rng: np.random.Generator | int | None) -> np.random.Generator:
    """A ``numpy.random.Generator`` from a generator, a seed, or ``None`` (fresh OS entropy).

    The global NumPy RNG is never used, so results depend only on the seeds a user passes.
    """
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


class Layer:
    """Base class of layers: ``Z = layer(X)`` with explicit ``forward`` and ``backward``.

    Attributes:
        params: parameter arrays keyed by name (e.g. ``{"W": (in, out), "b": (out,)}``).
        grads: ``dL/d(param)`` for each entry of ``params``, same keys and shapes, written by ``backward``.
        in_features: the input width the layer requires, or ``None`` if it accepts any width.
    """

    in_features: int | None = None

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """``x: (batch, in_features)`` -> ``(batch, out_features)``; caches what ``backward`` needs."""
        raise NotImplementedError

    def backward(self, grad_out: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        """``grad_out = dL/dZ: (batch, out_features)`` -> ``dL/dX: (batch, in_features)``.

        Stores parameter gradients in ``self.grads``. With ``input_grad=False`` the caller does not
        need ``dL/dX`` (the layer is first in a network), so it is not computed and ``None`` is returned.
        """
        raise NotImplementedError

    def __call__(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        return self.forward(x, training)

    def initialize(self, rng: np.random.Generator) -> None:
        """(Re)draw parameters and any random state (e.g. dropout masks) from ``rng``."""

    def output_size(self, input_size: int | None) -> int | None:
        """Output width for an input of width ``input_size`` (``None`` = unknown); shape-preserving by default."""
        return input_size

    def astype(self, dtype: DTypeLike) -> Layer:
        """Convert parameters and gradients to ``dtype`` in place (e.g. ``np.float64`` for gradient checks)."""
        for store in (self.params, self.grads):
            for name, value in store.items():
                store[name] = value.astype(dtype)
        return self

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this layer's architecture (not its weights)."""
        return {}

    @classmethod
    def parameter_shapes(cls, config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        """The shape of each parameter a layer built from ``config`` (a ``get_config()``) has, without
        building it: a model file's arrays are checked against them before any layer allocates its own."""
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


# Each layer class registers itself where it is defined (``@LAYERS.register("relu")``); activations are the
# entries that subclass ``mlp.nn.activations.Activation``.
LAYERS: Registry[type[Layer]] = Registry("layer")
