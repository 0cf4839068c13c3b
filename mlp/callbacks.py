"""Callbacks: small objects ``fit`` calls at fixed points of training.

The interface (every method optional, each gets the ``TrainingState``):

- ``on_train_begin(state)`` / ``on_train_end(state)``: once; ``on_train_end`` also runs after an
  interruption (``state.interrupted``) or a divergence.
- ``on_epoch_begin(state)``: before the epoch ``state.epoch`` (0-based) starts.
- ``on_batch_begin(state)``: before each batch's forward pass.
- ``on_batch_end(state, logs)``: after each optimizer step; ``logs`` has the running ``loss``
  (and ``accuracy``) of the epoch so far and ``samples``, the number of samples seen in it.
- ``on_epoch_end(state, logs)``: after validation; ``logs`` is the epoch's history record.
  Setting ``state.stop = True`` ends training after this epoch.

Progress display, learning-rate schedules, early stopping and checkpoints are all callbacks.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
from tqdm import tqdm

from mlp.checkpoint import save_model
from mlp.schedules import Schedule

if TYPE_CHECKING:
    from mlp.training import TrainingState


class Callback:
    """Base class with no-op hooks: ``on_train_begin``, ``on_epoch_begin``, ``on_batch_begin``,
    ``on_batch_end``, ``on_epoch_end``, ``on_train_end`` (the module docstring says when each runs)."""

    def on_train_begin(self, state: TrainingState) -> None: ...

    def on_epoch_begin(self, state: TrainingState) -> None: ...

    def on_batch_begin(self, state: TrainingState) -> None: ...

    def on_batch_end(self, state: TrainingState, logs: dict[str, float]) -> None: ...

    def on_epoch_end(self, state: TrainingState, logs: dict[str, Any]) -> None: ...

    def on_train_end(self, state: TrainingState) -> None: ...


@dataclass
class Monitor:
    """Tracks the best value of one history entry: ``mode="min"`` (losses), ``"max"`` (accuracies) or
    ``"auto"`` (max for names containing "acc"); an improvement must beat the best by ``min_delta``."""

    name: str = "val_loss"
    mode: str = "auto"
    min_delta: float = 0.0
    best: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.mode == "auto":
            self.mode = "max" if "acc" in self.name else "min"
        if self.mode not in ("min", "max"):
            raise ValueError(f"monitor mode must be 'min', 'max' or 'auto', got {self.mode!r}")
        if self.min_delta < 0:
            raise ValueError(f"min_delta must be >= 0, got {self.min_delta}")

    def value(self, logs: dict[str, Any]) -> float:
        if self.name not in logs:
            hint = "; pass validation_split or validation_data" if self.name.startswith("val_") else ""
            raise ValueError(f"cannot monitor {self.name!r}: the history has {', '.join(logs)}{hint}")
        return float(logs[self.name])

    def update(self, logs: dict[str, Any]) -> bool:
        """Whether this epoch improved on the best so far (and if so, remember it)."""
        value = self.value(logs)
        better = self.best is None or (
            value < self.best - self.min_delta if self.mode == "min" else value > self.best + self.min_delta
        )
        if better:
            self.best = value
        return better


class ProgressLogger(Callback):
    """A tqdm bar per epoch (running loss/accuracy, samples/s) and one summary line per epoch.

    ``verbose=1``: the bar when ``stderr`` is a terminal, and the lines; ``verbose=2``: the lines only.
    """

    def __init__(self, verbose: int = 1, file: IO[str] | None = None) -> None:
        self.verbose = verbose
        self.file = file
        self.bar: Any = None

    def on_epoch_begin(self, state: TrainingState) -> None:
        if self.verbose == 1 and sys.stderr.isatty():
            self.bar = tqdm(total=state.n_train, desc=f"epoch {state.epoch + 1}/{state.epochs}", unit="sample",
                            unit_scale=True, leave=False, dynamic_ncols=True)

    def on_batch_end(self, state: TrainingState, logs: dict[str, float]) -> None:
        if self.bar is not None:
            self.bar.set_postfix({k: f"{v:.4f}" for k, v in logs.items() if k != "samples"}, refresh=False)
            self.bar.update(logs["samples"] - self.bar.n)

    def _close_bar(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def on_epoch_end(self, state: TrainingState, logs: dict[str, Any]) -> None:
        self._close_bar()
        print(format_epoch(logs, state.epochs, state.n_train), file=self.file or sys.stdout, flush=True)

    def on_train_end(self, state: TrainingState) -> None:
        self._close_bar()


def format_epoch(logs: dict[str, Any], epochs: int, n_train: int) -> str:
    """``epoch  3/20  loss 0.1234  accuracy 0.9650  val_loss ...  lr 0.01  1.23 s (39,024 samples/s)``."""
    width = len(str(epochs))
    parts = [f"epoch {logs['epoch']:>{width}}/{epochs}"]
    parts += [f"{k} {v:.4f}" for k, v in logs.items() if k not in ("epoch", "lr", "time")]
    parts.append(f"lr {logs['lr']:.4g}")
    parts.append(f"{logs['time']:.2f} s ({n_train / max(logs['time'], 1e-9):,.0f} samples/s)")
    return "  ".join(parts)


class LearningRateScheduler(Callback):
    """Sets ``optimizer.lr = schedule(epoch, optimizer.initial_lr)`` before every epoch."""

    def __init__(self, schedule: Schedule | Callable[[int, float], float]) -> None:
        self.schedule = schedule

    def on_epoch_begin(self, state: TrainingState) -> None:
        optimizer = state.optimizer
        optimizer.lr = float(self.schedule(state.epoch, optimizer.initial_lr))


class ReduceLROnPlateau(Callback):
    """Multiplies the lr by ``factor`` when ``monitor`` has not improved for ``patience`` epochs
    (not below ``min_lr``); then waits ``cooldown`` epochs before counting again."""

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10, mode: str = "auto",
                 min_delta: float = 1e-4, cooldown: int = 0, min_lr: float = 0.0) -> None:
        if not 0 < factor < 1:
            raise ValueError(f"ReduceLROnPlateau factor must be in (0, 1), got {factor}")
        if patience < 0 or cooldown < 0:
            raise ValueError("ReduceLROnPlateau patience and cooldown must be >= 0")
        self.monitor = Monitor(monitor, mode, min_delta)
        self.factor, self.patience, self.cooldown, self.min_lr = factor, patience, cooldown, min_lr
        self.wait = self.cooling = 0

    def on_epoch_end(self, state: TrainingState, logs: dict[str, Any]) -> None:
        if self.monitor.update(logs):
            self.wait = 0
        elif self.cooling > 0:
            self.cooling -= 1
        else:
            self.wait += 1
            if self.wait >= self.patience:
                state.optimizer.lr = max(state.optimizer.lr * self.factor, self.min_lr)
                self.wait, self.cooling = 0, self.cooldown


class EarlyStopping(Callback):
    """Stops training when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    With ``restore_best_weights`` the model ends training with the weights of its best epoch.
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 5, mode: str = "auto", min_delta: float = 0.0,
                 restore_best_weights: bool = True) -> None:
        if patience < 0:
            raise ValueError(f"EarlyStopping patience must be >= 0, got {patience}")
        self.monitor = Monitor(monitor, mode, min_delta)
        self.patience = patience
        self.restore_best_weights = restore_best_weights
        self.wait = 0
        self.best_epoch: int | None = None
        self.best_weights: dict[str, np.ndarray] | None = None

    def on_train_begin(self, state: TrainingState) -> None:
        # A resumed run continues counting from its history; the weights of epochs before the resume
        # are gone, so only a later improvement can be restored.
        for record in state.history.records:
            if self.monitor.update(record):
                self.wait, self.best_epoch = 0, record["epoch"]
            else:
                self.wait += 1

    def on_epoch_end(self, state: TrainingState, logs: dict[str, Any]) -> None:
        if self.monitor.update(logs):
            self.wait, self.best_epoch = 0, logs["epoch"]
            if self.restore_best_weights:
                self.best_weights = {k: v.copy() for k, v in state.model.params.items()}
            return
        self.wait += 1
        if self.wait > self.patience:
            state.stop = True
            state.stop_reason = (f"early stopping: {self.monitor.name} has not improved for {self.wait} epochs "
                                 f"(best {self.monitor.best:.4f} at epoch {self.best_epoch})")

    def on_train_end(self, state: TrainingState) -> None:
        if self.best_weights is not None:
            for key, param in state.model.params.items():
                param[...] = self.best_weights[key]


class ModelCheckpoint(Callback):
    """Writes the full training state to ``path`` after every epoch (and when training is interrupted),
    and, with ``best_path``, the model of the best epoch by ``monitor`` there.

    Files are written atomically, so the previous one survives a crash; resume with
    ``fit(..., resume=path)`` (``resume_hint`` is what the interruption message suggests). On resume the
    best value so far is taken from the history, so ``best_path`` only changes on a real improvement.
    """

    def __init__(self, path: str | Path, best_path: str | Path | None = None, monitor: str = "val_loss",
                 mode: str = "auto", extra: dict[str, Any] | None = None, resume_hint: str | None = None) -> None:
        self.path = Path(path)
        self.best_path = Path(best_path) if best_path is not None else None
        self.monitor = Monitor(monitor, mode)
        self.extra = extra or {}
        self.resume_hint = resume_hint or f"fit(..., resume={str(self.path)!r})"

    def on_train_begin(self, state: TrainingState) -> None:
        if self.best_path is not None:
            for record in state.history.records:  # a resumed run's best so far
                self.monitor.update(record)

    def save(self, state: TrainingState, path: Path, completed_epochs: int, **extra: Any) -> None:
        save_model(path, state.model, state.optimizer, epoch=completed_epochs, history=state.history,
                   rng=state.rng, extra=self.extra | extra)

    def on_epoch_end(self, state: TrainingState, logs: dict[str, Any]) -> None:
        self.save(state, self.path, logs["epoch"])
        if self.best_path is not None and self.monitor.update(logs):
            self.save(state, self.best_path, logs["epoch"], best={self.monitor.name: self.monitor.best})

    def on_train_end(self, state: TrainingState) -> None:
        if state.interrupted:
            self.save(state, self.path, len(state.history), interrupted=True)
            print(f"interrupted: saved {self.path}; resume with {self.resume_hint}", file=sys.stderr)
