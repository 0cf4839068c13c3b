"""mlp: a small, exact and fast multilayer-perceptron trainer in pure NumPy, with explicit backprop.

The package, bottom up: ``mlp.nn`` the math of one training step (layers, losses, ``Sequential``, optimizers);
``mlp.data`` datasets; ``mlp.train`` the loop (``fit``) and what it keeps (callbacks, checkpoints, history);
``mlp.runs`` configs into run directories, and sweeps; ``mlp.sklearn``, ``mlp.export`` and ``mlp.plots`` for
scikit-learn, ONNX and pictures; ``mlp.cli`` the ``mlp`` command. Beneath them all: ``mlp.files`` (files that
survive kills), ``mlp.native`` (the only calls into native libraries), and small shared pieces: ``registry``
(the names configs use), ``settings`` (config keys declared as data), ``messages``, ``arrays``, ``extras``.

The names below (``from mlp import Dense, Sequential, fit``) are imported on first use (PEP 562), so that
``import mlp`` costs nothing until one is used: the ``mlp`` command (``mlp.__main__``) handles stop signals
before NumPy and the library load.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.3.0"

# Where each public name lives: its module, imported when the name is first used.
_EXPORTS = {
    "mlp.nn.activations": ("ELU", "Identity", "LeakyReLU", "ReLU", "Sigmoid", "Softmax", "Softplus", "Tanh"),
    "mlp.nn.dense": ("Dense",),
    "mlp.nn.dropout": ("Dropout",),
    "mlp.nn.layer": ("Layer", "ShapeError"),
    "mlp.nn.losses": ("BinaryCrossEntropy", "CrossEntropy", "Loss", "MeanSquaredError", "MulticlassHinge",
                      "SoftmaxCrossEntropy"),
    "mlp.nn.optim": ("SGD", "Adam", "RMSprop"),
    "mlp.nn.sequential": ("Sequential",),
    "mlp.runs.trained": ("load_run",),
    "mlp.train.callbacks": ("Callback", "EarlyStopping", "ModelCheckpoint", "ReduceLROnPlateau"),
    "mlp.train.checkpoint": ("CheckpointError", "load_checkpoint", "load_model", "save_model"),
    "mlp.train.history": ("History",),
    "mlp.train.loop": ("DivergenceError", "evaluate", "fit"),
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
