"""The built-in callbacks: progress display, learning-rate schedules, reduce-on-plateau, early stopping
and checkpoints. The contract they implement (``Callback``, ``TrainingState``, when each hook runs) is
``mlp.callback``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
from tqdm import tqdm

from mlp.callback import CALLBACKS, Callback, TrainingState
from mlp.checkpoint import save_model
from mlp.fileio import remove_partial_writes
from mlp.messages import name_list
from mlp.schedules import Schedule

__all__ = ["Callback", "EarlyStopping", "LearningRateScheduler", "ModelCheckpoint", "Monitor", "ProgressLogger",
           "ReduceLROnPlateau", "TrainingState"]


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
            raise ValueError(f"cannot monitor {self.name!r}: the history has {name_list(list(logs))}{hint}")
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
    """A tqdm bar per epoch (running loss/accuracy, samples/s), one summary line per epoch, and at the end
    why training stopped early, if it did: early stopping, or an interruption (then, on ``errors``, what
    was saved and how to resume).

    ``verbose=1``: the bar when ``stderr`` is a terminal, and the lines; ``verbose=2``: the lines only.
    ``file`` and ``errors`` default to standard output and standard error.
    """

    order = 2  # after the checkpoints, so that the last lines can say what they saved

    def __init__(self, verbose: int = 1, file: IO[str] | None = None, errors: IO[str] | None = None) -> None:
        self.verbose = verbose
        self.file = file
        self.errors = errors
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
        ending = state.ending()
        if ending.status in ("stopped", "interrupted"):  # a divergence is an error, for the caller to report
            print(ending.headline, file=self.file or sys.stdout, flush=True)
        if ending.status == "interrupted" and ending.notes:
            print(f"interrupted: {'; '.join(ending.notes)}", file=self.errors or sys.stderr, flush=True)


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


@CALLBACKS.register("early_stopping")
class EarlyStopping(Callback):
    """Stops training when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs in a row
    (Keras' rule: with ``patience=5``, the fifth epoch without improvement is the last).

    With ``restore_best_weights`` the model ends training with the weights of its best epoch (unless training
    was interrupted: a run that will be resumed keeps its current weights).
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

    def on_epoch_end(self, state: TrainingState, logs: dict[str, Any]) -> None:
        if self.monitor.update(logs):
            self.wait, self.best_epoch = 0, logs["epoch"]
            if self.restore_best_weights:
                self.best_weights = {k: v.copy() for k, v in state.model.params.items()}
            return
        self.wait += 1
        if self.wait >= self.patience:
            state.stop = True
            state.stop_reason = (f"early stopping: {self.monitor.name} has not improved for {self.wait} epochs "
                                 f"(best {self.monitor.best:.4f} at epoch {self.best_epoch})")

    def on_train_end(self, state: TrainingState) -> None:
        if self.best_weights is not None and not state.interrupted:
            for key, param in state.model.params.items():
                param[...] = self.best_weights[key]

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {"best": self.monitor.best, "wait": self.wait, "best_epoch": self.best_epoch}
        return state | {f"best_weights/{k}": v for k, v in (self.best_weights or {}).items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.monitor.best, self.wait, self.best_epoch = state["best"], state["wait"], state["best_epoch"]
        weights = {k.removeprefix("best_weights/"): v for k, v in state.items() if k.startswith("best_weights/")}
        self.best_weights = weights or None


@CALLBACKS.register("reduce_lr_on_plateau")
class ReduceLROnPlateau(Callback):
    """Multiplies the lr by ``factor`` when ``monitor`` has not improved for ``patience`` epochs
    (not below ``min_lr``); then waits ``cooldown`` epochs before counting again (Keras' rule)."""

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

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.monitor.best, "wait": self.wait, "cooling": self.cooling}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.monitor.best, self.wait, self.cooling = state["best"], state["wait"], state["cooling"]


class ModelCheckpoint(Callback):
    """Writes the full training state to ``path`` after every epoch and when training is interrupted (the
    exact batch it stopped at), and, with ``best_path``, the model of the best epoch by ``monitor`` there.

    It runs after the other callbacks, so the state it saves includes theirs for the same epoch. Files are
    written atomically, so the previous one survives a crash; ``fit`` never hands it a diverged state, so
    ``path`` always holds the last good one. Resume with ``fit(..., resume=path)`` (``resume_hint`` is what
    the interruption note suggests).
    """

    order = 1

    def __init__(self, path: str | Path, best_path: str | Path | None = None, monitor: str = "val_loss",
                 mode: str = "auto", extra: dict[str, Any] | None = None, resume_hint: str | None = None) -> None:
        self.path = Path(path)
        self.best_path = Path(best_path) if best_path is not None else None
        self.monitor = Monitor(monitor, mode)
        self.extra = extra or {}
        self.resume_hint = resume_hint or f"fit(..., resume={str(self.path)!r})"
        self.saved_epoch: int | None = None  # the epoch whose end ``path`` holds, once written in this fit

    def on_train_begin(self, state: TrainingState) -> None:
        for path in (self.path, self.best_path):
            if path is not None and path.parent.is_dir():
                remove_partial_writes(path.parent, path.name)

    def save(self, state: TrainingState, path: Path, **extra: Any) -> None:
        save_model(path, state.model, state.optimizer, history=state.history, position=state.position,
                   rng=state.rng, callbacks=state.callback_states(), extra=self.extra | extra)

    def on_epoch_end(self, state: TrainingState, logs: dict[str, Any]) -> None:
        improved = self.best_path is not None and self.monitor.update(logs)  # first: the saved state includes it
        self.save(state, self.path)
        self.saved_epoch = logs["epoch"]
        if improved:
            self.save(state, self.best_path, best={self.monitor.name: self.monitor.best})  # type: ignore[arg-type]

    def on_train_end(self, state: TrainingState) -> None:
        # An interrupted run is told how to resume whenever there is a state to resume from (a diverged one is not:
        # resuming it would diverge again).
        resume = f"; resume with {self.resume_hint}" if state.interrupted else ""
        if state.interrupted and state.resumable:
            self.save(state, self.path, interrupted=True)
            state.notes.append(f"saved {self.path}{resume}")
        elif (state.interrupted or state.diverged) and self.saved_epoch is not None:
            state.notes.append(f"{self.path} holds epoch {self.saved_epoch}, the last good state{resume}")
        elif state.interrupted and self.path.is_file():
            state.notes.append(f"nothing was saved in this run: {self.path} is unchanged{resume}")
        elif state.interrupted or state.diverged:
            state.notes.append(f"nothing was saved: no epoch completed in this run ({self.path} is unchanged)")

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.monitor.best} if self.best_path is not None else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.monitor.best = state["best"]
