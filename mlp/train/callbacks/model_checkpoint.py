"""``ModelCheckpoint``: the training state on disk after every epoch and at an interruption.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlp.files.atomic import remove_partial_writes
from mlp.train.callbacks.callback import Callback, TrainingState
from mlp.train.callbacks.monitor import Monitor
from mlp.train.checkpoint import save_model


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
