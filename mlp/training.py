"""The training loop: ``fit`` runs mini-batch gradient descent, ``evaluate`` measures a model.

One training step on a mini-batch (``X_b: (batch, in)``, targets ``T_b``) is the two passes of
BACKPROP.md followed by an optimizer step::

    loss.forward(model.forward(X_b, training=True), T_b)   # forward pass, mean loss
    model.backward(loss.backward())                        # output delta, then the delta recursion
    optimizer.step(model.params, model.grads)              # W <- W - lr dL/dW (or momentum, Adam, ...)

Everything else (progress display, schedules, early stopping, checkpoints) is a callback.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlp import fpenv
from mlp.callbacks import Callback, LearningRateScheduler, ProgressLogger
from mlp.checkpoint import restore
from mlp.history import History
from mlp.losses import Loss
from mlp.optim import Optimizer
from mlp.schedules import Schedule
from mlp.sequential import Sequential


class DivergenceError(RuntimeError):
    """The training loss became NaN or infinite; ``history`` holds the epochs completed before."""

    def __init__(self, message: str, history: History) -> None:
        super().__init__(message)
        self.history = history


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
    epoch: int = 0
    stop: bool = False
    stop_reason: str | None = None
    interrupted: bool = False


def training_rows(n: int, validation_split: float) -> int:
    """How many of ``n`` rows ``fit`` trains on: the first ``ceil(n (1 - validation_split))`` (Keras' rule)."""
    return math.ceil(n * (1 - validation_split))


def _split(x: np.ndarray, y: np.ndarray, validation_split: float) -> tuple[np.ndarray, ...]:
    """Keras' rule: the last ``validation_split`` of the rows, before any shuffling, validate."""
    if not 0 <= validation_split < 1:
        raise ValueError(f"validation_split must be in [0, 1), got {validation_split}")
    cut = training_rows(len(x), validation_split)
    if validation_split and cut == len(x):
        raise ValueError(f"validation_split={validation_split} leaves no validation rows out of {len(x)}")
    return x[:cut], y[:cut], x[cut:], y[cut:]


def _check_data(x: np.ndarray, y: np.ndarray, what: str) -> None:
    if len(x) != len(y):
        raise ValueError(f"{what}: x has {len(x)} rows but y has {len(y)}; give one target per row")
    if len(x) == 0:
        raise ValueError(f"{what}: no rows")


def evaluate(model: Sequential, loss: Loss, x: np.ndarray, y: np.ndarray, batch_size: int = 1024) -> dict[str, float]:
    """Mean loss (and accuracy, for classification losses) of ``model`` on ``x: (n, in)``, ``y``.

    Runs in evaluation mode (no dropout), ``batch_size`` rows at a time.
    """
    _check_data(x, y, "evaluate")
    output = model.predict(x, batch_size)
    result = {"loss": loss.forward(output, y)}
    if loss.classification:
        result["accuracy"] = float(np.mean(loss.predict_labels(output) == loss.target_labels(y)))
    return result


def _train_epoch(
    state: TrainingState, x: np.ndarray, y: np.ndarray, labels: np.ndarray | None, shuffle: bool, drop_last: bool,
    callbacks: list[Callback],
) -> dict[str, float]:
    model, loss, optimizer = state.model, state.loss, state.optimizer
    params, grads = model.params, model.grads
    order = state.rng.permutation(len(x)) if shuffle else np.arange(len(x))
    total_loss, correct, counted, seen = 0.0, 0, 0, 0
    logs: dict[str, float] = {}
    # Overflow on the way to a NaN loss is reported once, clearly, by the divergence check below
    # instead of as a burst of NumPy warnings.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for batch, start in enumerate(range(0, len(x), state.batch_size)):
            index = order[start : start + state.batch_size]
            if drop_last and len(index) < state.batch_size:
                break
            for callback in callbacks:
                callback.on_batch_begin(state)
            output = model.forward(x[index], training=True)
            value = loss.forward(output, y[index])
            if not math.isfinite(value):
                raise DivergenceError(
                    f"training diverged: the loss is {value} at epoch {state.epoch + 1}, batch {batch + 1} "
                    f"(lr {optimizer.lr:g}); lower the learning rate (e.g. lr={optimizer.lr / 10:g}). "
                    f"Checkpoints written before this point are intact.",
                    state.history,
                )
            model.backward(loss.backward())
            optimizer.step(params, grads)
            seen += len(index)
            total_loss += value * len(index)
            logs = {"loss": total_loss / seen}
            if labels is not None:
                hits = loss.predict_labels(output) == labels[index]
                correct += int(hits.sum())
                counted += hits.size
                logs["accuracy"] = correct / counted
            batch_logs = logs | {"samples": seen}
            for callback in callbacks:
                callback.on_batch_end(state, batch_logs)
    return logs


def _train_epochs(
    state: TrainingState, x: np.ndarray, y: np.ndarray, labels: np.ndarray | None, x_val: np.ndarray,
    y_val: np.ndarray, shuffle: bool, drop_last: bool, callbacks: list[Callback],
) -> None:
    """Epochs from the first not yet in ``state.history`` to ``state.epochs``, or until a callback stops."""
    for epoch in range(len(state.history), state.epochs):
        state.epoch = epoch
        for callback in callbacks:
            callback.on_epoch_begin(state)
        lr = state.optimizer.lr
        started = time.perf_counter()
        logs: dict[str, Any] = {"epoch": epoch + 1}
        logs |= _train_epoch(state, x, y, labels, shuffle, drop_last, callbacks)
        elapsed = time.perf_counter() - started
        if len(x_val):
            logs |= {f"val_{k}": v for k, v in evaluate(state.model, state.loss, x_val, y_val).items()}
        logs |= {"lr": lr, "time": elapsed}
        state.history.append(logs)
        for callback in callbacks:
            callback.on_epoch_end(state, logs)
        if state.stop:
            break


def fit(
    model: Sequential,
    loss: Loss,
    optimizer: Optimizer,
    x: np.ndarray,
    y: np.ndarray,
    epochs: int,
    batch_size: int = 128,
    validation_split: float = 0.0,
    validation_data: tuple[np.ndarray, np.ndarray] | None = None,
    shuffle: bool = True,
    seed: int | None = None,
    callbacks: list[Callback] | tuple[Callback, ...] = (),
    schedule: Schedule | None = None,
    verbose: int = 1,
    drop_last: bool = False,
    resume: str | Path | None = None,
    flush_denormals: bool = True,
) -> History:
    """Train ``model`` on ``x: (n, in_features)`` and targets ``y`` by mini-batch gradient descent.

    Args:
        epochs: train until this many epochs are complete (with ``resume``, counting the earlier ones).
        batch_size: rows per step; the last, smaller batch is used unless ``drop_last``.
        validation_split: the last fraction of ``x, y`` (taken before shuffling, as in Keras) is held
            out and evaluated after every epoch; or give ``validation_data=(x_val, y_val)``.
        shuffle, seed: reshuffle the training rows every epoch from ``default_rng(seed)``.
        callbacks: see ``mlp.callbacks``; ``schedule`` adds a ``LearningRateScheduler``.
        verbose: 0 silent; 1 a progress bar (on a terminal) and a line per epoch; 2 lines only.
        resume: a checkpoint written by ``ModelCheckpoint``: weights, optimizer state, completed
            epochs, history and random state are restored, so training continues exactly.
        flush_denormals: train with the CPU's flush-to-zero flags set (``mlp.fpenv``), so that values
            below float32's smallest normal number (1.2e-38) become 0 instead of taking the slow path
            denormals take on many CPUs.

    Returns:
        the ``History``: per epoch ``loss`` (and ``accuracy``) over the epoch's batches, ``val_loss``,
        ``val_accuracy``, ``lr`` and ``time`` (seconds spent in the training steps).

    Raises:
        DivergenceError: the loss became NaN or infinite. Ctrl-C ends training cleanly instead: the
        callbacks' ``on_train_end`` runs (``ModelCheckpoint`` then saves) and the history is returned.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    dtype = next(iter(model.params.values())).dtype
    x = np.asarray(x, dtype=dtype)  # converted once, not per batch
    y = np.asarray(y)
    _check_data(x, y, "fit")
    if validation_data is not None:
        if validation_split:
            raise ValueError("give validation_split or validation_data, not both")
        x_val, y_val = np.asarray(validation_data[0], dtype=dtype), np.asarray(validation_data[1])
        _check_data(x_val, y_val, "validation_data")
    else:
        x, y, x_val, y_val = _split(x, y, validation_split)
    labels = loss.target_labels(y) if loss.classification else None

    state = TrainingState(model, loss, optimizer, History(), np.random.default_rng(seed), epochs, len(x), batch_size)
    if resume is not None:
        checkpoint = restore(resume, model, optimizer)
        state.history = checkpoint.history or History()
        if checkpoint.rng_state is not None:
            state.rng.bit_generator.state = checkpoint.rng_state
    callbacks = [
        *([LearningRateScheduler(schedule)] if schedule is not None else []),
        *callbacks,
        *([ProgressLogger(verbose)] if verbose else []),
    ]
    for callback in callbacks:
        callback.on_train_begin(state)
    try:
        with fpenv.flush_denormals(flush_denormals):
            _train_epochs(state, x, y, labels, x_val, y_val, shuffle, drop_last, callbacks)
    except KeyboardInterrupt:
        state.interrupted = True
        state.stop_reason = f"interrupted during epoch {state.epoch + 1}"
    finally:
        for callback in callbacks:
            callback.on_train_end(state)
    if state.stop_reason and verbose:
        print(state.stop_reason)
    return state.history
