"""What the loggers share: failures turned into one warning line, the config flattened into key-value pairs,
and the end of a run (its test metrics and files), which ``mlp.runs.run`` reports after training."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlp.native import blas
from mlp.train.callbacks.callback import Callback, TrainingState


def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"optimizer": {"lr": 0.1}}`` -> ``{"optimizer.lr": 0.1}``; lists (the layers) are flattened by index
    (``model.layers.0.dense``), a list of plain values stays one value."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat |= flatten(value, f"{name}.")
        elif isinstance(value, list) and any(isinstance(item, dict) for item in value):
            flat |= flatten({str(i): item for i, item in enumerate(value)}, f"{name}.")
        else:
            flat[name] = value
    return flat


def numbers(record: dict[str, Any]) -> dict[str, float]:
    """The numeric values of a history record, without its ``epoch`` (the step)."""
    return {key: float(value) for key, value in record.items()
            if key != "epoch" and isinstance(value, (int, float)) and not isinstance(value, bool)}


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Logger(Callback):
    """A callback that sends what training does somewhere else, and never stops training when that fails:
    the first failure is one warning line (``warn``, stderr by default), after which the logger is off.

    ``step`` is the last epoch logged (1-based), kept in checkpoints. ``results_follow``: whoever runs training
    calls ``results`` after it (``mlp.runs.run`` does, with the test metrics and the run's files); otherwise the
    logger closes when training ends.
    """

    name = "logger"

    def __init__(self, warn: Callable[[str], None] | None = None) -> None:
        self.warn = warn or _stderr
        self.failed = False
        self.step = 0
        self.results_follow = False
        self.ended = False  # results were logged and the logger closed

    def safely(self, what: str, action: Callable[[], Any]) -> Any:
        """Run ``action``; on any failure, warn once (saying ``what`` failed) and turn the logger off."""
        if self.failed:
            return None
        try:
            return action()
        except Exception as err:  # a logger must never stop training, whatever its library raises
            self.failed = True
            message = " ".join(str(err).split())[:300] or type(err).__name__
            self.warn(f"warning: {self.name} stopped logging, training goes on: {what} failed: {message}")
            return None

    # -- the hooks, each guarded ----------------------------------------------------------------------
    def on_train_begin(self, state: TrainingState) -> None:
        # The step's BLAS is loaded before the logger's library, which may import PyTorch: MKL cannot be loaded
        # after PyTorch's OpenMP runtime (mlp.native.mkl), but works beside one that comes later.
        blas.active()
        self.safely("starting", lambda: self.start(state))

    def on_epoch_end(self, state: TrainingState, logs: dict[str, Any]) -> None:
        step = state.epoch + 1
        if step > self.step:
            self.safely(f"logging epoch {step}", lambda: self.log_epoch(state, step, logs))
            self.step = step

    def on_train_end(self, state: TrainingState) -> None:
        if not self.results_follow:
            self.results(state.history.ending.status, None, [])

    def results(self, status: str, test: dict[str, float] | None, files: list[Path]) -> None:
        """Log how the run ended (``status``: ``completed``, ``stopped``, ``interrupted``, ``diverged``, or
        ``failed``: an error ended the run), its ``test`` metrics and ``files`` (those that exist), then close;
        once."""
        if self.ended:
            return
        self.ended = True
        self.safely("logging the results", lambda: self.finish(status, test, [f for f in files if f.exists()]))
        self.safely("closing", self.close)

    def state_dict(self) -> dict[str, Any]:
        return {"step": self.step}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step = int(state.get("step", 0))

    # -- what each logger does ------------------------------------------------------------------------
    def start(self, state: TrainingState) -> None: ...

    def log_epoch(self, state: TrainingState, step: int, logs: dict[str, Any]) -> None: ...

    def finish(self, status: str, test: dict[str, float] | None, files: list[Path]) -> None: ...

    def close(self) -> None: ...
