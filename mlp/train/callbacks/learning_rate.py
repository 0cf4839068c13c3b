"""Callbacks that set the learning rate: from a schedule every epoch, or lower when progress stalls.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mlp.train.callbacks.callback import CALLBACKS, Callback, TrainingState
from mlp.train.callbacks.monitor import Monitor
from mlp.train.schedules import Schedule


class LearningRateScheduler(Callback):
    """Sets ``optimizer.lr = schedule(epoch, optimizer.initial_lr)`` before every epoch."""

    def __init__(self, schedule: Schedule | Callable[[int, float], float]) -> None:
        self.schedule = schedule

    def on_epoch_begin(self, state: TrainingState) -> None:
        optimizer = state.optimizer
        optimizer.lr = float(self.schedule(state.epoch, optimizer.initial_lr))


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
