"""``Sequential``: a network as a chain of layers."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

import mlp.nn.activations
import mlp.nn.dense
import mlp.nn.dropout  # noqa: F401 -- registers Dropout
from mlp.files.atomic import atomic_write
from mlp.nn.layer import LAYERS, Layer, ShapeError
from mlp.nn.modelfile import encode, load_network


class Sequential(Layer):
    """A chain of layers: ``Z_k = layer_k(Z_{k-1})``, ``Z_0 = X``.

    ``forward`` runs the layers in order; ``backward`` runs their ``backward`` in reverse, each turning
    ``dL/dZ_k`` into ``dL/dZ_{k-1}`` (the delta recursion, ``docs/backprop.md`` §3; §8 writes the whole pass as one
    loop). Parameters and gradients of all layers are exposed as one ``params`` / ``grads`` dict keyed
    ``"<layer index>.<name>"`` (e.g. ``"0.W"``), so a ``Sequential`` is itself a ``Layer``.

    Widths are checked when the network is built: ``Dense(784, 512)`` followed by ``Dense(256, 10)``
    raises a ``ShapeError`` naming both layers and both sizes.

    Args:
        layers: the layers, input side first.
        seed: if given, re-initialize every layer's weights and random state from
            ``numpy.random.default_rng(seed)``, so that one seed fixes the whole network.
    """

    def __init__(self, layers: Iterable[Layer], seed: int | None = None) -> None:
        # Layer.__init__ is not called: params and grads are read-only views over the layers' own dicts.
        self.layers = list(layers)
        if not self.layers:
            raise ValueError("Sequential needs at least one layer")
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"layer {i} is {layer!r}, not an mlp Layer (e.g. Dense, ReLU, Dropout)")
        self._check_widths()
        if seed is not None:
            self.initialize(np.random.default_rng(seed))

    def _check_widths(self) -> None:
        size: int | None = None
        source = "the input"
        for i, layer in enumerate(self.layers):
            if layer.in_features is not None and size is not None and layer.in_features != size:
                raise ShapeError(
                    f"layer {i} {layer!r} expects {layer.in_features} input features, but {source} "
                    f"outputs {size}; make the widths agree (e.g. Dense({size}, ...))"
                )
            if layer.output_size(None) is not None:  # this layer sets the width (e.g. Dense), not passes it on
                source = f"layer {i} {layer!r}"
            size = layer.output_size(size)

    @property
    def in_features(self) -> int | None:  # type: ignore[override]
        return next((layer.in_features for layer in self.layers if layer.in_features is not None), None)

    def output_size(self, input_size: int | None) -> int | None:
        for layer in self.layers:
            input_size = layer.output_size(input_size)
        return input_size

    # -- the two passes -------------------------------------------------------------------------
    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """``x: (batch, in_features)`` -> network output ``(batch, out_features)``.

        ``training=True`` turns on training-only behaviour such as dropout.
        """
        for i, layer in enumerate(self.layers):
            try:
                x = layer.forward(x, training)
            except ShapeError as err:
                raise ShapeError(f"layer {i}: {err}") from None
        return x

    def backward(self, grad_out: np.ndarray, input_grad: bool = False) -> np.ndarray | None:
        """``grad_out = dL/d(output)`` -> ``dL/dX`` (only if ``input_grad``); fills every layer's ``grads``.

        By default the backward pass stops at the first layer with parameters, which skips its
        ``Delta @ W.T``: below it (e.g. an input ``Dropout``) there is only the gradient w.r.t. the data,
        which nobody needs.
        """
        last = 0 if input_grad else next((i for i, layer in enumerate(self.layers) if layer.params), 0)
        for i in range(len(self.layers) - 1, last, -1):
            grad_out = self.layers[i].backward(grad_out)
        return self.layers[last].backward(grad_out, input_grad)

    def predict(self, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """Network output for ``x: (n, in_features)`` in evaluation mode, ``batch_size`` rows at a time."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        n = len(x)
        if n == 0:
            raise ValueError("predict got no rows")
        first = self.forward(x[:batch_size])
        out = np.empty((n, *first.shape[1:]), dtype=first.dtype)
        out[: len(first)] = first
        for start in range(batch_size, n, batch_size):
            out[start : start + batch_size] = self.forward(x[start : start + batch_size])
        return out

    # -- parameters --------------------------------------------------------------------------------
    @property
    def params(self) -> dict[str, np.ndarray]:  # type: ignore[override]
        return {f"{i}.{name}": p for i, layer in enumerate(self.layers) for name, p in layer.params.items()}

    @property
    def grads(self) -> dict[str, np.ndarray]:  # type: ignore[override]
        return {f"{i}.{name}": g for i, layer in enumerate(self.layers) for name, g in layer.grads.items()}

    def initialize(self, rng: np.random.Generator) -> None:
        for layer in self.layers:
            layer.initialize(rng)

    def astype(self, dtype: DTypeLike) -> Sequential:
        for layer in self.layers:
            layer.astype(dtype)
        return self

    def num_params(self) -> int:
        """Total number of learnable scalars."""
        return sum(p.size for p in self.params.values())

    # -- containers and display ------------------------------------------------------------------
    def __iter__(self) -> Iterator[Layer]:
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, index: int) -> Layer:
        return self.layers[index]

    def get_config(self) -> dict[str, Any]:
        """Each layer's registered name (``mlp.nn.layer.LAYERS``) and constructor arguments."""
        return {"layers": [{"type": LAYERS.stored_name(layer), **layer.get_config()} for layer in self.layers]}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Sequential:
        """Rebuild the architecture that ``get_config`` described (fresh weights); the class names that files of
        earlier versions stored are read too."""
        return cls(LAYERS.find(spec["type"])(**{k: v for k, v in spec.items() if k != "type"})
                   for spec in config["layers"])

    # -- files -----------------------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write the network (architecture and weights, dropout generators) to ``path``, a ``.npz`` model file
        (the format of ``save_model``, without training state): atomically, no pickle."""
        arrays = encode(self)
        atomic_write(path, lambda f: np.savez(f, **arrays))

    @classmethod
    def load(cls, path: str | Path) -> Sequential:
        """The network of a model file (``save``, ``save_model``, ``mlp train``), without its training state;
        ``CheckpointError`` naming the file if it cannot be read. A model file written by ``mlp train`` warns
        that its network expects the run's standardised inputs (or gives scores, not class names):
        ``mlp.load_run(path)`` predicts as ``mlp predict`` does."""
        return load_network(path, cls, stacklevel=3)

    def __repr__(self) -> str:
        return "Sequential([" + ", ".join(repr(layer) for layer in self.layers) + "])"

    def summary(self, print_fn: Callable[[str], Any] = print) -> None:
        """Print a table of layers with their output shapes and parameter counts (as Keras does)."""
        rows = [("#", "Layer", "Output shape", "Params")]
        size = self.in_features  # the input's width: layers before the first Dense (a Dropout) keep it
        for i, layer in enumerate(self.layers):
            size = layer.output_size(size)
            shape = f"(None, {size if size is not None else '?'})"
            count = sum(p.size for p in layer.params.values())
            rows.append((str(i), repr(layer), shape, f"{count:,}"))
        widths = [max(len(row[c]) for row in rows) for c in range(4)]
        aligns = ">", "<", "<", ">"  # index and counts right-aligned, names and shapes left-aligned
        line = "  ".join(f"{{:{align}{width}}}" for align, width in zip(aligns, widths, strict=True))
        rule = "-" * (sum(widths) + 6)
        print_fn(line.format(*rows[0]))
        print_fn(rule)
        for row in rows[1:]:
            print_fn(line.format(*row))
        print_fn("=" * len(rule))
        print_fn(f"Total params: {self.num_params():,}")
