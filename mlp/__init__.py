"""mlp: a small, exact and fast multilayer-perceptron trainer in pure NumPy, with explicit backprop.

The names below (``from mlp import Dense, Sequential, fit``) are imported on first use (PEP 562), so that
``import mlp`` costs nothing until one is used: the ``mlp`` command (``mlp.__main__``) handles stop signals
before NumPy and the library load.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.2.0"

# Where each public name lives: its module, imported when the name is first used.
_EXPORTS = {
    "mlp.activations": ("ELU", "Identity", "LeakyReLU", "ReLU", "Sigmoid", "Softmax", "Softplus", "Tanh"),
    "mlp.callbacks": ("Callback", "EarlyStopping", "ModelCheckpoint", "ReduceLROnPlateau"),
    "mlp.checkpoint": ("CheckpointError", "load_checkpoint", "load_model", "save_model"),
    "mlp.dense": ("Dense",),
    "mlp.dropout": ("Dropout",),
    "mlp.history": ("History",),
    "mlp.layer": ("Layer", "ShapeError"),
    "mlp.losses": ("BinaryCrossEntropy", "CrossEntropy", "Loss", "MeanSquaredError", "MulticlassHinge",
                   "SoftmaxCrossEntropy"),
    "mlp.optim": ("SGD", "Adam", "RMSprop"),
    "mlp.sequential": ("Sequential",),
    "mlp.training": ("DivergenceError", "evaluate", "fit"),
}
_HOME = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted([*_HOME, "__version__"])


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'mlp' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next use finds it directly
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
