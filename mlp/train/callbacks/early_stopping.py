"""``EarlyStopping``: end training when the monitored value stops improving.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlp.train.callbacks.callback import CALLBACKS, Callback, TrainingState
from mlp.train.callbacks.monitor import Monitor


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
