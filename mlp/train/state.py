"""Where training stands, as ``fit`` and its callbacks see it: ``TrainingState`` (the objects being trained,
the epoch, how training ended) and ``Position`` (the epoch, the batch and the epoch's running sums, which a
checkpoint stores so that training resumes from any batch).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from mlp.train.history import Ending, History

if TYPE_CHECKING:
    from mlp.nn.losses import Loss
    from mlp.nn.optim import Optimizer
    from mlp.nn.sequential import Sequential
    from mlp.train.callbacks import Callback
    from mlp.train.parallel import DataParallel



@dataclass
class Position:
    """Where training stands: epoch ``epoch`` (0-based; equal to the number of completed epochs) is in
    progress with ``batch`` of its batches done.

    ``shuffle_state`` is the shuffling generator's state before this epoch drew its permutation, so that a
    resumed run draws the same one; ``loss_sum`` (the sum of batch loss times batch weight: its rows, or the
    sum of their weights), ``weight``, ``correct``, ``counted`` (weighted too, where the rows have weights) and
    ``seen`` (rows) are the epoch's running sums, and ``elapsed`` its training seconds so far.
    """

    epoch: int = 0
    batch: int = 0
    shuffle_state: dict[str, Any] | None = None
    loss_sum: float = 0.0
    correct: float = 0
    counted: float = 0
    seen: int = 0
    elapsed: float = 0.0
    weight: float = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Position:
        """A position as ``to_dict`` gave it; files written before rows had weights count each row 1."""
        return cls(**{"weight": data.get("seen", 0)} | data)


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
        return Ending("completed", f"completed {len(self.history)} epochs", notes)

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
