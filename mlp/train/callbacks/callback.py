"""The contract between ``fit`` and its callbacks: ``Callback`` and its hooks, and ``CALLBACKS``, the
callbacks a config can switch on.

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

from typing import TYPE_CHECKING, Any

from mlp.registry import Registry

if TYPE_CHECKING:
    from mlp.train.state import TrainingState


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
