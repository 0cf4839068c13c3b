"""Model and training-state files: one ``.npz`` holding arrays plus JSON metadata, no pickle.

Arrays: ``param/<key>`` for each entry of ``model.params`` and ``optim/<slot>/<key>`` for the
optimizer's slots. Metadata (the string array ``__meta__``, JSON): the architecture
(``model.get_config()``), the optimizer's class, config, step count and current lr, the number of
completed epochs, the history records, the states of the random generators (the shuffling one and
each layer's) and free-form ``extra`` information. Files are read with ``allow_pickle=False`` and
written atomically (a temporary file in the same folder, flushed to disk, then ``os.replace``), so
a crash or kill at any moment leaves either the previous file or the new one, never half of one.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mlp.fileio import atomic_write
from mlp.history import History
from mlp.optim import Optimizer, optimizer_from_config
from mlp.sequential import Sequential

FORMAT = "mlp-checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """A model file cannot be read, or does not fit the model it is loaded into."""


@dataclass
class Checkpoint:
    """What a file holds: the rebuilt model (weights and dropout generators restored) and, where saved,
    the optimizer with its state, the number of completed epochs, the history and the shuffling
    generator's state."""

    path: Path
    model: Sequential
    optimizer: Optimizer | None = None
    epoch: int | None = None
    history: History | None = None
    rng_state: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _generator_states(model: Sequential) -> dict[str, Any]:
    return {str(i): layer.rng.bit_generator.state for i, layer in enumerate(model)
            if isinstance(getattr(layer, "rng", None), np.random.Generator)}


def save_model(
    path: str | Path,
    model: Sequential,
    optimizer: Optimizer | None = None,
    *,
    epoch: int | None = None,
    history: History | None = None,
    rng: np.random.Generator | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Write ``model`` (architecture and weights) and optionally the training state to ``path``."""
    arrays = {f"param/{key}": value for key, value in model.params.items()}
    optimizer_meta = None
    if optimizer is not None:
        state = optimizer.state_dict()
        arrays |= {f"optim/{key}": value for key, value in state.items() if "/" in key}
        optimizer_meta = {"name": type(optimizer).__name__, "config": optimizer.get_config(),
                          "iterations": optimizer.iterations, "lr": optimizer.lr}
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "model": model.get_config(),
        "optimizer": optimizer_meta,
        "epoch": epoch,
        "history": history.records if history is not None else None,
        "rng": {"shuffle": rng.bit_generator.state if rng is not None else None, "layers": _generator_states(model)},
        "extra": extra or {},
    }
    arrays["__meta__"] = np.array(json.dumps(meta))
    atomic_write(path, lambda f: np.savez(f, **arrays))


def _read(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    if not path.is_file():
        raise CheckpointError(f"{path}: no such model file")
    try:
        # Opened here rather than by np.load, which leaks the handle when the zip is corrupt.
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
        meta = json.loads(str(arrays.pop("__meta__")))
    except KeyError:
        raise CheckpointError(
            f"{path} is not an mlp model file (no metadata); save models with mlp.save_model"
        ) from None
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as err:
        raise CheckpointError(
            f"{path} is not a readable mlp model file: it is truncated or corrupt ({err}); "
            f"use an earlier checkpoint or retrain"
        ) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an mlp model file (unknown format)")
    return meta, arrays


def _describe_mismatch(file_layers: list[dict[str, Any]], model_layers: list[dict[str, Any]]) -> str:
    def show(spec: dict[str, Any]) -> str:
        return repr(Sequential.from_config({"layers": [spec]})[0])

    for i, (a, b) in enumerate(zip(file_layers, model_layers, strict=False)):
        if a != b:
            return f"layer {i} is {show(a)} in the file but {show(b)} in the model"
    return f"the file has {len(file_layers)} layers, the model {len(model_layers)}"


def _copy_weights(path: Path, meta: dict[str, Any], arrays: dict[str, np.ndarray], model: Sequential) -> None:
    expected = model.get_config()["layers"]
    if meta["model"]["layers"] != expected:
        raise CheckpointError(
            f"{path} holds another architecture: {_describe_mismatch(meta['model']['layers'], expected)}"
        )
    for key, param in model.params.items():
        stored = arrays.get(f"param/{key}")
        if stored is None or stored.shape != param.shape:
            raise CheckpointError(f"{path} is corrupt: parameter {key} is missing or has the wrong shape")
        param[...] = stored
    for index, state in meta["rng"]["layers"].items():
        model[int(index)].rng.bit_generator.state = state


def _restore_optimizer(path: Path, meta: dict[str, Any], arrays: dict[str, np.ndarray], optimizer: Optimizer) -> None:
    saved = meta.get("optimizer")
    if saved is None:
        raise CheckpointError(f"{path} holds no optimizer state; it cannot resume training")
    if saved["name"] != type(optimizer).__name__:
        raise CheckpointError(f"{path} was trained with {saved['name']}, not {type(optimizer).__name__}")
    state = {key.removeprefix("optim/"): value for key, value in arrays.items() if key.startswith("optim/")}
    optimizer.load_state_dict(state | {"iterations": np.array(saved["iterations"]), "lr": np.array(saved["lr"])})


def _restore(
    path: Path, meta: dict[str, Any], arrays: dict[str, np.ndarray], model: Sequential, optimizer: Optimizer | None
) -> Checkpoint:
    _copy_weights(path, meta, arrays, model)
    if optimizer is not None:
        _restore_optimizer(path, meta, arrays, optimizer)
    history = History(meta["history"]) if meta.get("history") is not None else None
    return Checkpoint(path, model, optimizer, meta.get("epoch"), history, meta["rng"]["shuffle"], meta["extra"])


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read everything ``save_model`` wrote; raises ``CheckpointError`` naming the file on any problem."""
    path = Path(path)
    meta, arrays = _read(path)
    try:
        model = Sequential.from_config(meta["model"])
        saved = meta.get("optimizer")
        optimizer = optimizer_from_config(saved["name"], saved["config"]) if saved else None
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"{path} has an unreadable architecture or optimizer ({err})") from None
    return _restore(path, meta, arrays, model, optimizer)


def load_model(path: str | Path) -> Sequential:
    """The model stored in ``path`` (architecture and weights)."""
    return load_checkpoint(path).model


def restore(path: str | Path, model: Sequential, optimizer: Optimizer | None = None) -> Checkpoint:
    """Load the weights (and optimizer state) of ``path`` into existing objects, checking that they fit."""
    path = Path(path)
    meta, arrays = _read(path)
    return _restore(path, meta, arrays, model, optimizer)
