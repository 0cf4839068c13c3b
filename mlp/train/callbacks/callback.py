"""The contract between ``fit`` and its callbacks: ``Callback`` and its hooks, the ``TrainingState`` each hook
gets, and ``CALLBACKS``, the callbacks a config can switch on.

``fit`` calls every callback at fixed points; each hook gets the ``TrainingState``:

- ``on_train_begin(state)`` / ``on_train_end(state)``: once; ``on_train_end`` also runs after an
  interruption (``state.interrupted``) or a divergence (``state.diverged``), and may add a line to
  ``state.notes`` (e.g. which checkpoint holds what), which becomes part of how training ended.
- ``on_epoch_begin(state)``: before the epoch ``state.epoch`` (0-based) starts, or resumes in the middle
  (then ``state.position.batch`` batches of it are already done).
- ``on_batch_begin(state)``: before each batch's forward pass.
- ``on_batch_end(state, logs)``: after each optimizer step; ``logs`` has the running ``loss`` (and
  ``accuracy``) of the epoch so far and ``samples``, the number of samples seen in it.
- ``on_epoch_end(state, logs)``: after validation; ``logs`` is the epoch's history record.
  Setting ``state.stop = True`` (and ``state.stop_reason``) ends training after this epoch.

A callback that changes as training goes (a patience count, a best value, recorded norms) returns that in
``state_dict()`` and takes it back in ``load_state_dict()``: checkpoints carry it, so that a resumed run
continues exactly as the uninterrupted one would have.

This module sits below the training loop (``mlp.train.loop``) and the built-in callbacks
(``mlp.train.callbacks``), which both import it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from mlp.messages import plural
from mlp.registry import Registry
from mlp.train.history import Ending, History
from mlp.train.position import Position

if TYPE_CHECKING:
    from mlp.nn.losses import Loss
    from mlp.nn.optim import Optimizer
    from mlp.nn.sequential import Sequential
    from mlp.train.parallel import DataParallel


@dataclass
class TrainingState:
    """What callbacks see: the objects being trained and where training is."""

    model: Sequential
    loss: Loss
    optimizer: Optimizer
    history: History
    rng: np.random.Generator
    epochs: int
    n_train: int
    batch_size: int
    position: Position = field(default_factory=Position)
    callbacks: list[Callback] = field(default_factory=list)
    epoch: int = 0
    batch_rows: int = 0  # the batch about to be trained (on_batch_begin): its rows
    batch_weight: float = 0.0  # and their weight: the rows, or the sum of their weights
    stop: bool = False
    stop_reason: str | None = None
    interrupted: str | None = None  # the signal's name ("SIGINT", ...) or "KeyboardInterrupt"
    diverged: str | None = None
    resumable: bool = True  # whether the weights and optimizer state are a consistent point to resume from
    notes: list[str] = field(default_factory=list)  # what callbacks did at the end ("saved ..."), for the reason
    parallel: DataParallel | None = None  # the processes training data-parallel with this one (mlp.train.parallel)

    def ending(self) -> Ending:
        """How training ended (so far), with what the callbacks noted, e.g. which checkpoint holds what."""
        notes = tuple(self.notes)
        if self.diverged:
            return Ending("diverged", self.diverged, notes, resumable=False)
        if self.interrupted:
            position = self.position
            where = (f"during epoch {position.epoch + 1} after batch {position.batch}" if position.batch
                     else f"after epoch {position.epoch}")
            return Ending("interrupted", f"interrupted {where} ({self.interrupted})", notes, self.interrupted,
                          self.resumable)
        if self.stop:
            return Ending("stopped", self.stop_reason or "stopped by a callback", notes)
        return Ending("completed", f"completed {plural(len(self.history), 'epoch')}", notes)

    def callback_states(self) -> dict[str, dict[str, Any]]:
        """``{key: state_dict()}`` of every callback with state, keyed by ``callback_keys``."""
        return {key: state for key, callback in callback_keys(self.callbacks).items()
                if (state := callback.state_dict())}


def callback_keys(callbacks: list[Callback]) -> dict[str, Callback]:
    """Stable names for callbacks in a checkpoint: the class name, with ``#2``, ``#3``... for repeats."""
    keys: dict[str, Callback] = {}
    for callback in callbacks:
        name = type(callback).__name__
        key, n = name, 1
        while key in keys:
            n += 1
            key = f"{name}#{n}"
        keys[key] = callback
    return keys


class Callback:
    """Base class with no-op hooks: ``on_train_begin``, ``on_epoch_begin``, ``on_batch_begin``,
    ``on_batch_end``, ``on_epoch_end``, ``on_train_end`` (the module docstring says when each runs), and
    an empty state.

    ``order``: ``fit`` calls callbacks in ascending order, keeping the given order among equals. Checkpoints
    (1) run after the callbacks whose state they save (0); the progress display (2) reports last.
    """

    order = 0

    def on_train_begin(self, state: TrainingState) -> None: ...

    def on_epoch_begin(self, state: TrainingState) -> None: ...

    def on_batch_begin(self, state: TrainingState) -> None: ...

    def on_batch_end(self, state: TrainingState, logs: dict[str, float]) -> None: ...

    def on_epoch_end(self, state: TrainingState, logs: dict[str, Any]) -> None: ...

    def on_train_end(self, state: TrainingState) -> None: ...

    def state_dict(self) -> dict[str, Any]:
        """What this callback has learned during training: JSON values, or NumPy arrays (stored as such)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Take back what ``state_dict`` returned."""


# The callbacks a config can switch on, by their key under ``training:`` (``early_stopping: {patience: 3}``);
# each registers itself where it is defined, and its constructor's arguments are its config keys.
CALLBACKS: Registry[type[Callback]] = Registry("callback")
