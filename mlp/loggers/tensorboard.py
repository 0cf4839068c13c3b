"""``TensorBoardLogger``: a run's epochs as TensorBoard event files (tensorboardX, the ``tensorboard`` extra)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlp.extras import require
from mlp.files.yamlfile import to_yaml
from mlp.loggers.logger import Logger, flatten, numbers
from mlp.train.callbacks.callback import TrainingState


def _hparam(value: Any) -> int | float | str | bool:
    """TensorBoard's hyperparameters are numbers, strings or booleans: anything else is shown as text."""
    return value if isinstance(value, (int, float, str, bool)) else str(value)


class TensorBoardLogger(Logger):
    """Writes TensorBoard events into ``log_dir``, at the step of each epoch (1-based):

    - every epoch's record (loss, accuracy, validation metrics, learning rate, time) as scalars ``epoch/NAME``;
    - every ``histogram_every`` epochs (0: never) a histogram of each layer's parameters (``weights/0.W``, shape
      that of the parameter) and of their gradients in the epoch's last batch (``gradients/0.W``);
    - at the start, ``config`` (the run's resolved config, if given) as text and as hyperparameters;
    - at the end, the test metrics (``test/NAME``) at the last step.

    A resumed run writes on at the next step: events a killed run wrote after its checkpoint are purged.
    """

    name = "TensorBoardLogger"

    def __init__(self, log_dir: str | Path, histogram_every: int = 1, config: dict[str, Any] | None = None,
                 warn: Callable[[str], None] | None = None) -> None:
        super().__init__(warn)
        if histogram_every < 0:
            raise ValueError(f"histogram_every must be >= 0 (0: no histograms), got {histogram_every}")
        self.log_dir, self.histogram_every, self.config = Path(log_dir), histogram_every, config
        self.writer: Any = None
        self.started = False  # kept in checkpoints: a resume, even during epoch 1, is one

    def start(self, state: TrainingState) -> None:
        tensorboardx = require("tensorboardX", "tensorboard", "TensorBoardLogger")
        # purge_step: TensorBoard hides the events at or after it that an earlier writer left (a killed run's
        # epochs after its last checkpoint), which this run writes again
        # filename_suffix: a resume in the same second as the run before would otherwise take its file's name (a
        # time in seconds) and overwrite it; in nanoseconds the files still sort in the order they were written
        resumed = self.started  # from a checkpoint: write after what it has, and the config not again
        purge_step = self.step + 1 if resumed else None
        self.writer = tensorboardx.SummaryWriter(str(self.log_dir), purge_step=purge_step,
                                                 filename_suffix=f".{time.time_ns()}")
        if not resumed and self.config is not None:
            self.writer.add_text("config", "```\n" + to_yaml(self.config) + "\n```", 0)
            self._hparams(flatten(self.config), state)
        self.started = True
        self.writer.flush()

    def _hparams(self, params: dict[str, Any], state: TrainingState) -> None:
        """The config in TensorBoard's HPARAMS tab, in this run's own folder (``add_hparams`` would make a new
        one), with the epoch scalars as its metrics."""
        from tensorboardX.summary import hparams

        metrics = {f"epoch/{name}": 0.0 for name in ("loss", "val_loss", "accuracy", "val_accuracy")}
        for summary in hparams({k: _hparam(v) for k, v in params.items()}, metrics):
            self.writer.file_writer.add_summary(summary)

    def log_epoch(self, state: TrainingState, step: int, logs: dict[str, Any]) -> None:
        for key, value in numbers(logs).items():
            self.writer.add_scalar(f"epoch/{key}", value, step)
        if self.histogram_every and step % self.histogram_every == 0:
            for key, value in state.model.params.items():
                self.writer.add_histogram(f"weights/{key}", value, step)
            for key, value in state.model.grads.items():
                self.writer.add_histogram(f"gradients/{key}", value, step)
        self.writer.flush()

    def finish(self, status: str, test: dict[str, float] | None, files: list[Path]) -> None:
        for key, value in (test or {}).items():
            self.writer.add_scalar(f"test/{key}", value, self.step)
        self.writer.add_text("ending", status, self.step)

    def state_dict(self) -> dict[str, Any]:
        return super().state_dict() | {"started": self.started}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.started = bool(state.get("started", False))

    def close(self) -> None:
        if self.writer is not None:
            writer, self.writer = self.writer, None
            writer.close()
