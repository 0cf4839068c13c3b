"""Model and training-state files: one ``.npz`` holding arrays plus JSON metadata, no pickle.

Arrays: ``param/<key>`` for each entry of ``model.params``, ``optim/<slot>/<key>`` for the optimizer's slots,
and ``callback/<name>/<key>`` for arrays in callbacks' state (early stopping's best weights). Metadata (the
string array ``__meta__``, JSON): the architecture (``model.get_config()``), the optimizer's class, config,
step count and current lr, the number of completed epochs, the history records, where training stood
(``Position``: the epoch in progress, its batches done, the shuffling generator before the epoch's
permutation, the running sums), each random layer's generator state, the callbacks' state, free-form
``extra`` information, and the SHA-256 of all of it, so that a file damaged after it was written (a flipped bit,
a truncated copy, an edit that did not update the digest) is refused. The digest is stored in the file itself,
unsigned: it detects corruption, not tampering, since whoever changes a file can write the matching digest too
(such a file is accepted); keep model files where only you can write them.

Files are written atomically (``mlp.files.atomic``) and read within bounds (``mlp.files.npzfile``): every member is
checked before it is read, every parameter's shape is checked against the architecture before any layer is
built, and any damage to the file is a ``CheckpointError`` naming it. Files of format version 1 (no position,
callback state or checksum) are still read. The network's part of the format (its arrays, the metadata's
envelope, the checks) is ``mlp.nn.modelfile``, which ``Sequential.save`` and ``Sequential.load`` use alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mlp.files.atomic import atomic_write
from mlp.messages import shorten
from mlp.nn.modelfile import CheckpointError, build, copy_weights, encode, load_network, read
from mlp.nn.optim import OPTIMIZERS, Optimizer, optimizer_from_config
from mlp.nn.sequential import Sequential
from mlp.train.history import History
from mlp.train.position import Position


@dataclass
class Checkpoint:
    """What a file holds: the rebuilt model (weights and dropout generators restored) and, where saved,
    the optimizer with its state, the number of completed epochs, the history, where training stood and
    the callbacks' state."""

    path: Path
    model: Sequential
    optimizer: Optimizer | None = None
    epoch: int | None = None
    history: History | None = None
    position: Position = field(default_factory=Position)
    callbacks: dict[str, dict[str, Any]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rng_state(self) -> dict[str, Any] | None:
        """The shuffling generator's state where training resumes (before the epoch's permutation)."""
        return self.position.shuffle_state


def save_model(
    path: str | Path,
    model: Sequential,
    optimizer: Optimizer | None = None,
    *,
    epoch: int | None = None,
    history: History | None = None,
    position: Position | None = None,
    rng: np.random.Generator | None = None,
    callbacks: dict[str, dict[str, Any]] | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Write ``model`` (architecture and weights) and optionally the training state to ``path``.

    ``position`` says where training stands (``ModelCheckpoint`` passes it); without it, ``epoch`` completed
    epochs and the shuffling generator ``rng`` describe the start of the next epoch.
    """
    if position is None and (epoch is not None or rng is not None):
        position = Position(epoch or 0, shuffle_state=rng.bit_generator.state if rng is not None else None)
    arrays: dict[str, np.ndarray] = {}
    optimizer_meta = None
    if optimizer is not None:
        state = optimizer.state_dict()
        arrays |= {f"optim/{key}": value for key, value in state.items() if "/" in key}
        optimizer_meta = {"name": OPTIMIZERS.stored_name(optimizer), "config": optimizer.get_config(),
                          "iterations": optimizer.iterations, "lr": optimizer.lr}
    callback_meta: dict[str, dict[str, Any]] = {}
    for name, state in (callbacks or {}).items():
        arrays |= {f"callback/{name}/{k}": v for k, v in state.items() if isinstance(v, np.ndarray)}
        callback_meta[name] = {k: v for k, v in state.items() if not isinstance(v, np.ndarray)}
    arrays = encode(model, arrays, optimizer=optimizer_meta, epoch=position.epoch if position is not None else epoch,
                    history=history.records if history is not None else None,
                    position=position.to_dict() if position is not None else None, callbacks=callback_meta,
                    extra=extra or {})
    atomic_write(path, lambda f: np.savez(f, **arrays))


def _restore_optimizer(path: Path, meta: dict[str, Any], arrays: dict[str, np.ndarray], optimizer: Optimizer) -> None:
    saved = meta.get("optimizer")
    if saved is None:
        raise CheckpointError(f"{path} holds no optimizer state; it cannot resume training")
    if saved["name"] != OPTIMIZERS.stored_name(optimizer):
        trained_with = OPTIMIZERS.find(saved["name"]).__name__ if saved["name"] in OPTIMIZERS else saved["name"]
        raise CheckpointError(f"{path} was trained with {trained_with}, not {type(optimizer).__name__}")
    state = {key.removeprefix("optim/"): value for key, value in arrays.items() if key.startswith("optim/")}
    optimizer.load_state_dict(state | {"iterations": np.array(saved["iterations"]), "lr": np.array(saved["lr"])})


def _position(meta: dict[str, Any]) -> Position:
    if meta.get("position") is not None:
        return Position.from_dict(meta["position"])
    shuffle = meta.get("rng", {}).get("shuffle")  # format version 1
    return Position(meta.get("epoch") or 0, shuffle_state=shuffle)


def _callback_states(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> dict[str, dict[str, Any]]:
    states = {name: dict(state) for name, state in meta.get("callbacks", {}).items()}
    for key, value in arrays.items():
        if key.startswith("callback/"):
            name, _, item = key.removeprefix("callback/").partition("/")
            states.setdefault(name, {})[item] = value
    return states


def _restore(
    path: Path, meta: dict[str, Any], arrays: dict[str, np.ndarray], model: Sequential, optimizer: Optimizer | None
) -> Checkpoint:
    try:
        copy_weights(path, meta, arrays, model)
        if optimizer is not None:
            _restore_optimizer(path, meta, arrays, optimizer)
        history = History(meta["history"]) if meta.get("history") is not None else None
        return Checkpoint(path, model, optimizer, meta.get("epoch"), history, _position(meta),
                          _callback_states(meta, arrays), meta.get("extra") or {})
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as err:
        raise CheckpointError(f"{path} has unreadable metadata ({type(err).__name__}: {shorten(str(err))})") from None


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read everything ``save_model`` wrote; raises ``CheckpointError`` naming the file on any problem."""
    path = Path(path)
    meta, arrays = read(path)
    model = build(path, meta, arrays, Sequential)
    try:
        saved = meta.get("optimizer")
        optimizer = optimizer_from_config(saved["name"], saved["config"]) if saved else None
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise CheckpointError(f"{path} has an unreadable architecture or optimizer ({shorten(str(err))})") from None
    return _restore(path, meta, arrays, model, optimizer)


def _without_timing(meta: dict[str, Any]) -> dict[str, Any]:
    """The metadata without what wall-clock time decides: epoch times, the elapsed time of a partial epoch,
    and the checksum over them."""
    meta = {k: v for k, v in meta.items() if k != "sha256"}
    if meta.get("history") is not None:
        meta["history"] = [{k: v for k, v in record.items() if k != "time"} for record in meta["history"]]
    if meta.get("position") is not None:
        meta["position"] = {k: v for k, v in meta["position"].items() if k != "elapsed"}
    return meta


def compare_checkpoints(a: str | Path, b: str | Path) -> list[str]:
    """What differs between two files' training states, bit for bit, apart from timings (``[]``: nothing).

    Two runs that trained the same way (an uninterrupted run and one stopped and resumed) give files that
    differ only in how long their epochs took.
    """
    (meta_a, arrays_a), (meta_b, arrays_b) = read(Path(a)), read(Path(b))
    differences = [f"array {name} is only in {path}" for names, path in ((arrays_a.keys() - arrays_b.keys(), a),
                                                                           (arrays_b.keys() - arrays_a.keys(), b))
                   for name in sorted(names)]
    for name in sorted(arrays_a.keys() & arrays_b.keys()):
        x, y = arrays_a[name], arrays_b[name]
        if x.dtype != y.dtype or not np.array_equal(x, y):
            differences.append(f"array {name} differs")
    meta_a, meta_b = _without_timing(meta_a), _without_timing(meta_b)
    differences += [f"metadata {key} differs" for key in sorted(meta_a.keys() | meta_b.keys())
                    if meta_a.get(key) != meta_b.get(key)]
    return differences


def load_model(path: str | Path) -> Sequential:
    """The network stored in ``path`` (architecture and weights), as ``Sequential.load(path)``: a bare network.
    A model file written by ``mlp train`` warns that its network expects the run's standardised inputs (or gives
    scores, not class names); ``mlp.load_run(path)`` predicts as ``mlp predict`` does."""
    return load_network(path, Sequential, stacklevel=3)


def restore(path: str | Path, model: Sequential, optimizer: Optimizer | None = None) -> Checkpoint:
    """Load the weights (and optimizer state) of ``path`` into existing objects, checking that they fit."""
    path = Path(path)
    meta, arrays = read(path)
    return _restore(path, meta, arrays, model, optimizer)
