"""``ProgressLogger``: a progress bar per epoch, a line per epoch, and why training stopped early.
"""

from __future__ import annotations

import sys
from typing import IO, Any

from tqdm import tqdm

from mlp.train.callbacks.callback import Callback, TrainingState


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
