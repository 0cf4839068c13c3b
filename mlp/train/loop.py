"""The training loop: ``fit`` runs mini-batch gradient descent, ``evaluate`` measures a model.

One training step on a mini-batch (``X_b: (batch, in)``, targets ``T_b``) is the two passes of
the derivation (``docs/backprop.md`` §6) followed by an optimizer step::

    loss.forward(model.forward(X_b, training=True), T_b)   # forward pass, mean loss
    model.backward(loss.backward())                        # output delta, then the delta recursion
    optimizer.step(model.params, model.grads)              # W <- W - lr dL/dW (or momentum, Adam, ...)

Everything else (progress display, schedules, early stopping, checkpoints) is a callback
(``mlp.train.callbacks.callback``). Where training stands is a ``Position`` that checkpoints save, so a run stopped at
any batch boundary resumes as if it had never stopped; stop signals are held until such a boundary
(``mlp.train.interrupts``), and a diverged state is never handed to the callbacks that save.
"""

from __future__ import annotations

import contextlib
import math
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlp.arrays import finite, first_non_finite
from mlp.data.augment import Augment
from mlp.data.split import hold_out
from mlp.native import blas, fpenv
from mlp.nn.losses import Loss
from mlp.nn.optim import Optimizer
from mlp.nn.sample_weights import class_weights, row_weights, single_labels, tally
from mlp.nn.sequential import Sequential
from mlp.train.adversarial import Adversarial, batch_gradients
from mlp.train.callbacks import LearningRateScheduler, ProgressLogger
from mlp.train.callbacks.callback import Callback, TrainingState, callback_keys
from mlp.train.checkpoint import restore
from mlp.train.history import History
from mlp.train.interrupts import Stopped, StopRequests, stop_signals
from mlp.train.metrics import check_metrics, confusion_matrix, metric_values
from mlp.train.parallel import DEFAULT_MICRO_BATCHES, Communicator, DataParallel
from mlp.train.position import Position
from mlp.train.schedules import Schedule


class DivergenceError(RuntimeError):
    """The training loss, a monitored metric, the weights or the optimizer state became NaN or infinite;
    ``history`` holds the epochs completed before, and the message says what checkpoints hold."""

    def __init__(self, message: str, history: History) -> None:
        super().__init__(message)
        self.history = history


INTACT = "Checkpoints written before this point are intact."


class _StopRequestedError(Exception):
    """A stop signal was received; raised at a batch boundary to leave the loops."""


def _split(x: np.ndarray, y: np.ndarray, validation_split: float) -> tuple[np.ndarray, ...]:
    """The last ``validation_split`` of the rows, before any shuffling, validate (``mlp.data.split``)."""
    if not 0 <= validation_split < 1:
        raise ValueError(f"validation_split must be in [0, 1), got {validation_split}")
    parts = hold_out(x, y, validation_split)
    if validation_split and not len(parts[2]):
        raise ValueError(f"validation_split={validation_split} leaves no validation rows out of {len(x)}")
    return parts


def _check_data(x: np.ndarray, y: np.ndarray, what: str) -> None:
    if len(x) != len(y):
        raise ValueError(f"{what}: x has {len(x)} rows but y has {len(y)}; give one target per row")
    if len(x) == 0:
        raise ValueError(f"{what}: no rows")


def evaluate(model: Sequential, loss: Loss, x: np.ndarray, y: np.ndarray, batch_size: int = 1024,
             sample_weight: np.ndarray | None = None, parallel: DataParallel | None = None) -> dict[str, float]:
    """Mean loss (and accuracy, for classification losses) of ``model`` on ``x: (n, in)``, ``y``; with
    ``sample_weight: (n,)`` both are weighted means over the rows.

    Runs in evaluation mode (no dropout), ``batch_size`` rows at a time. A model whose outputs overflow
    gives an infinite or NaN loss, without NumPy warnings. ``parallel``: shared out between the processes of
    data-parallel training (``mlp.train.parallel``), every one of which calls this.
    """
    x, y = finite(x, None, "evaluate: x", unit="feature"), finite(y, None, "evaluate: y")
    _check_data(x, y, "evaluate")
    if sample_weight is not None:
        sample_weight = row_weights(sample_weight, len(x), "evaluate: sample_weight")
        if not sample_weight.sum() > 0:
            raise ValueError("evaluate: the sample weights sum to 0; give some row a positive weight")
    if parallel is not None:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"), blas.one_thread():
            value, correct, counted = parallel.evaluate(model, loss, x, y, sample_weight)
        return {"loss": value} | ({"accuracy": correct / counted} if loss.classification else {})
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        output = model.predict(x, batch_size)
    return _scores(loss, output, y, sample_weight)


def _scores(loss: Loss, output: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None) -> dict[str, float]:
    """The loss (and accuracy) of a model's ``output: (n, outputs)`` against ``y``, weighted by ``sample_weight``."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        result = {"loss": loss.forward(output, y, sample_weight)}
    if loss.classification:
        correct, counted = tally(loss.predict_labels(output) == loss.target_labels(y), sample_weight)
        result["accuracy"] = float(correct / counted)
    return result


@dataclass
class _Data:
    """The rows ``fit`` trains and validates on, and how it goes through them."""

    x: np.ndarray
    y: np.ndarray
    w: np.ndarray | None  # the rows' weights (None: every row counts 1)
    labels: np.ndarray | None  # what accuracy compares with (None: a regression loss)
    x_val: np.ndarray
    y_val: np.ndarray
    w_val: np.ndarray | None
    shuffle: bool
    drop_last: bool
    metrics: list[str]  # recorded after every epoch (mlp.train.metrics.METRICS)
    augment: Augment | None = None  # new random transforms of the training rows, every batch
    adversarial: Adversarial | None = None  # each step's objective adds the loss of perturbed rows
    classes: tuple[np.ndarray, int] | None = None  # with metrics: each training row's class (n,), the number of classes


def _validation_scores(state: TrainingState, data: _Data) -> dict[str, float]:
    """The loss, accuracy and metrics of the model as it is, in evaluation mode, on the validation rows (weighted
    as they are); the metrics come from the same pass over the rows as the loss, except in data-parallel training,
    where every process computes them alike on all the rows (the loss is shared out, ``evaluate``)."""
    model, loss, output = state.model, state.loss, None
    if state.parallel is not None or data.classes is None:
        scores = evaluate(model, loss, data.x_val, data.y_val, sample_weight=data.w_val, parallel=state.parallel)
    else:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            output = model.predict(data.x_val, 1024)  # evaluate's pass
        scores = _scores(loss, output, data.y_val, data.w_val)
    if data.classes is not None:
        if output is None:
            output = model.predict(data.x_val, 1024)
        truth = single_labels(loss.target_labels(data.y_val))
        matrix = confusion_matrix(truth, loss.predicted_classes(output), data.classes[1], data.w_val)
        scores |= metric_values(data.metrics, matrix)
    return scores


def _running_logs(position: Position, labels: bool) -> dict[str, float]:
    logs = {"loss": position.loss_sum / position.weight}
    if labels:
        logs["accuracy"] = position.correct / position.counted
    return logs


def _running_metrics(position: Position, data: _Data) -> dict[str, float]:
    """The metrics of the epoch's batches, from its running confusion matrix, as ``accuracy`` is."""
    return metric_values(data.metrics, position.matrix) if data.metrics and position.matrix is not None else {}


def _train_epoch(state: TrainingState, data: _Data, callbacks: list[Callback], stop: StopRequests) -> None:
    """The batches of the epoch in progress that ``state.position`` has not done yet."""
    position = state.position
    state.rng.bit_generator.state = position.shuffle_state  # the generator before this epoch's permutation
    order = state.rng.permutation(len(data.x)) if data.shuffle else np.arange(len(data.x))
    # The augmentation of batch b draws from default_rng([key, b]): a function of the seed, the epoch and the batch,
    # the same in every process and after a resume from any batch, with no state of its own to save.
    key = int(state.rng.integers(2**63)) if data.augment is not None else 0
    starts = range(position.batch * state.batch_size, len(data.x), state.batch_size)
    with _BatchRows(data, order, state.batch_size, key) as batches:
        _train_batches(state, data, callbacks, stop, starts, batches)


class _BatchRows:
    """The rows of each batch of an epoch, ``next_rows(start)``; augmented ones are prepared one batch ahead in a
    background thread while the current batch trains (NumPy's array operations release the interpreter's lock).
    The thread only computes what ``default_rng([key, batch])`` gives, so the rows are the same either way."""

    def __init__(self, data: _Data, order: np.ndarray, batch_size: int, key: int) -> None:
        self.data, self.order, self.batch_size, self.key = data, order, batch_size, key
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="mlp-augment") if data.augment is not None else None
        self.ahead: tuple[int, Future[np.ndarray]] | None = None

    def _rows(self, start: int) -> np.ndarray:
        rows = self.data.x[self.order[start : start + self.batch_size]]
        if self.data.augment is not None:
            rows = self.data.augment(rows, np.random.default_rng([self.key, start // self.batch_size]))
        return rows

    def next_rows(self, start: int) -> np.ndarray:
        """The rows of the batch that starts at ``start`` (in the epoch's order), and the next batch's begun."""
        if self.pool is None:
            return self._rows(start)
        ahead, self.ahead = self.ahead, None
        rows = ahead[1].result() if ahead is not None and ahead[0] == start else self._rows(start)
        following = start + self.batch_size
        if following < len(self.order):
            self.ahead = (following, self.pool.submit(self._rows, following))
        return rows

    def __enter__(self) -> _BatchRows:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


def _train_batches(state: TrainingState, data: _Data, callbacks: list[Callback], stop: StopRequests,
                   starts: range, batches: _BatchRows) -> None:
    """The training steps of the batches starting at ``starts`` (rows of ``batches``), in order."""
    model, loss, optimizer, position = state.model, state.loss, state.optimizer, state.position
    params, grads = model.params, model.grads
    started, elapsed = time.perf_counter(), position.elapsed
    for start in starts:
        if _stopping(state, stop):
            raise _StopRequestedError
        index = batches.order[start : start + state.batch_size]
        if data.drop_last and len(index) < state.batch_size:
            break
        weights = data.w[index] if data.w is not None else None
        state.batch_rows = len(index)
        state.batch_weight = len(index) if weights is None else float(weights.sum())
        for callback in callbacks:
            callback.on_batch_begin(state)
        state.resumable = False  # until the step and the sums are complete
        rows = batches.next_rows(start)
        labels = data.labels[index] if data.labels is not None else None
        classes = (data.classes[0][index], data.classes[1]) if data.classes is not None else None
        if state.parallel is None:
            value, output = batch_gradients(model, loss, rows, data.y[index], weights, None, data.adversarial)
            correct, counted = tally(loss.predict_labels(output) == labels, weights) if labels is not None else (0, 0)
            matrix = (confusion_matrix(classes[0], loss.predicted_classes(output), classes[1], weights)
                      if classes is not None else None)
        else:  # the same step, its micro-batches shared out between the processes
            value, correct, counted, matrix = state.parallel.gradients(
                model, loss, rows, data.y[index], weights, labels, np.arange(len(index)), stop.received is not None,
                classes, data.adversarial)
        if not math.isfinite(value):
            raise DivergenceError(
                f"training diverged: the loss is {value} at epoch {state.epoch + 1}, batch {position.batch + 1} "
                f"(lr {optimizer.lr:g}); lower the learning rate (e.g. lr={optimizer.lr / 10:g})", state.history)
        optimizer.step(params, grads)
        position.batch += 1
        position.seen += len(index)
        position.weight += state.batch_weight
        position.loss_sum += value * state.batch_weight
        position.correct += correct
        position.counted += counted
        if matrix is not None:
            position.matrix = matrix if position.matrix is None else position.matrix + matrix
        position.elapsed = elapsed + time.perf_counter() - started
        state.resumable = True
        batch_logs = _running_logs(position, data.labels is not None) | {"samples": position.seen}
        for callback in callbacks:
            callback.on_batch_end(state, batch_logs)


def _non_finite_state(state: TrainingState) -> str | None:
    """What of the weights and the optimizer state is NaN or infinite, or ``None`` if all is finite."""
    arrays = {f"weights {key}": w for key, w in state.model.params.items()}
    arrays |= {f"optimizer state {key}": a for key, a in state.optimizer.state_dict().items() if "/" in key}
    for name, array in arrays.items():
        where = first_non_finite(array)
        if where is not None:
            return f"the {name} hold {array[where]}"
    return None


def _divergence(state: TrainingState, logs: dict[str, Any]) -> str | None:
    """Why the epoch just trained must not be kept, or ``None``: a non-finite metric, weight or state."""
    bad = [f"{name} is {value}" for name, value in logs.items() if not math.isfinite(value)]
    problem = bad[0] if bad else _non_finite_state(state)
    if problem is None:
        return None
    lr = state.optimizer.lr
    return (f"training diverged in epoch {state.epoch + 1}: {problem} (lr {lr:g}); "
            f"lower the learning rate (e.g. lr={lr / 10:g})")


def _train_epochs(state: TrainingState, data: _Data, callbacks: list[Callback], stop: StopRequests) -> None:
    """Epochs from ``state.position`` to ``state.epochs``, or until a callback stops training."""
    while state.position.epoch < state.epochs:
        state.epoch = state.position.epoch
        for callback in callbacks:
            callback.on_epoch_begin(state)
        lr = state.optimizer.lr
        _train_epoch(state, data, callbacks, stop)
        position = state.position
        logs: dict[str, Any] = {"epoch": position.epoch + 1} | _running_logs(position, data.labels is not None)
        logs |= _running_metrics(position, data)
        if len(data.x_val):
            logs |= {f"val_{k}": v for k, v in _validation_scores(state, data).items()}
        problem = _divergence(state, logs)
        if problem is not None:
            raise DivergenceError(problem, state.history)
        logs |= {"lr": lr, "time": position.elapsed}
        state.history.append(logs)
        state.position = Position(position.epoch + 1, shuffle_state=state.rng.bit_generator.state)
        for callback in callbacks:
            callback.on_epoch_end(state, logs)
        if state.stop:
            break
        # after the last epoch there is nothing left to stop: training completed, the signal is the caller's
        if _stopping(state, stop) and state.position.epoch < state.epochs:
            raise _StopRequestedError


def _stopping(state: TrainingState, stop: StopRequests) -> bool:
    """Whether a stop signal has come: to this process, or in data-parallel training to any process (as of the
    last step, so that all stop at the same batch boundary)."""
    return state.parallel.stop_requested if state.parallel is not None else stop.received is not None


def _prepare(x: Any, y: Any, validation_split: float, validation_data: tuple[Any, ...] | None, dtype: np.dtype,
             loss: Loss, weighting: tuple[Any, Any], shuffle: bool, drop_last: bool, metrics: Any = ()) -> _Data:
    """The training and validation rows, converted once to the model's ``dtype`` and checked, with the rows'
    weights (``weighting``: the sample and class weights given to ``fit``)."""
    sample_weight, class_weight = weighting
    x, y = finite(x, dtype, "fit: x", unit="feature"), finite(y, None, "fit: y")
    _check_data(x, y, "fit")
    w = row_weights(sample_weight, len(x)) if sample_weight is not None else None
    w_val = None
    if validation_data is not None:
        if validation_split:
            raise ValueError("give validation_split or validation_data, not both")
        if len(validation_data) not in (2, 3):
            raise ValueError(f"validation_data must be (x_val, y_val) or (x_val, y_val, sample_weight_val), "
                             f"got {len(validation_data)} items")
        x_val = finite(validation_data[0], dtype, "validation_data: x", unit="feature")
        y_val = finite(validation_data[1], None, "validation_data: y")
        _check_data(x_val, y_val, "validation_data")
        if len(validation_data) == 3 and validation_data[2] is not None:
            w_val = row_weights(validation_data[2], len(x_val), "validation_data: sample_weight")
    else:
        x, y, x_val, y_val = _split(x, y, validation_split)
        if w is not None:
            w, w_val = w[: len(x)], w[len(x) :]
    labels = loss.target_labels(y) if loss.classification else None
    if class_weight is not None:
        if labels is None:
            raise ValueError(f"class_weight applies to classification losses, not to {type(loss).__name__}; "
                             f"give sample_weight instead")
        per_class = _class_weights(loss, labels, class_weight)
        w = per_class[single_labels(labels)] * (w if w is not None else 1)
        if len(x_val):
            w_val = per_class[single_labels(loss.target_labels(y_val))] * (w_val if w_val is not None else 1)
    if w is not None and not w.sum() > 0:
        raise ValueError("fit: the training rows' weights sum to 0; give some row a positive weight")
    if w_val is not None and len(x_val) and not w_val.sum() > 0:
        raise ValueError("fit: the validation rows' weights sum to 0; give some validation row a positive weight")
    return _Data(x, y, w, labels, x_val, y_val, w_val if len(x_val) else None, shuffle, drop_last,
                 _check_fit_metrics(metrics, loss, labels))


def _check_fit_metrics(metrics: Any, loss: Loss, labels: np.ndarray | None) -> list[str]:
    """The metrics to record, checked: known names, of a classifier with one class per row."""
    names = check_metrics(metrics)
    if names and (labels is None or (labels.ndim == 2 and labels.shape[1] > 1)):
        what = f"{type(loss).__name__} has no classes" if labels is None else "the targets are several labels a row"
        raise ValueError(f"metrics {', '.join(names)} need one class per row, but {what}; remove them")
    return names


def _class_weights(loss: Loss, labels: np.ndarray, class_weight: Any) -> np.ndarray:
    """The weight of each class (``mlp.nn.sample_weights.class_weights``); a single binary output has two classes."""
    labels = single_labels(labels)
    classes = int(labels.max()) + 1 if len(labels) else 0
    return class_weights(labels, class_weight, max(classes, 2))


def _resume(path: str | Path, state: TrainingState) -> None:
    """Put ``state`` where the checkpoint ``path`` left training: weights, optimizer, history, position and
    the state of every callback it has (callbacks it does not know start afresh)."""
    checkpoint = restore(path, state.model, state.optimizer)
    state.history = checkpoint.history or History()
    state.position = checkpoint.position
    for key, callback in callback_keys(state.callbacks).items():
        if key in checkpoint.callbacks:
            callback.load_state_dict(checkpoint.callbacks[key])


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
    sample_weight: np.ndarray | None = None,
    class_weight: str | dict[int, float] | None = None,
    communicator: Communicator | None = None,
    micro_batches: int = DEFAULT_MICRO_BATCHES,
    metrics: list[str] | tuple[str, ...] = (),
    augment: Augment | None = None,
    adversarial: Adversarial | None = None,
) -> History:
    """Train ``model`` on ``x: (n, in_features)`` and targets ``y`` by mini-batch gradient descent.

    Args:
        x, y: the data, converted once to the model's dtype (float32 unless built otherwise); every value
            must be finite in that dtype. A SciPy sparse ``x`` is given as ``mlp.arrays.SparseRows(matrix)``:
            each batch is densified as it is trained on.
        epochs: train until this many epochs are complete (with ``resume``, counting the earlier ones).
        batch_size: rows per step; the last, smaller batch is used unless ``drop_last``.
        validation_split: the last fraction of ``x, y`` (taken before shuffling, as in Keras) is held
            out and evaluated after every epoch; or give ``validation_data=(x_val, y_val)`` or
            ``(x_val, y_val, sample_weight_val)``.
        shuffle, seed: reshuffle the training rows every epoch from ``default_rng(seed)``.
        callbacks: see ``mlp.train.callbacks.callback``; ``schedule`` adds a ``LearningRateScheduler``.
        verbose: 0 silent; 1 a progress bar (on a terminal) and a line per epoch; 2 lines only.
        resume: a checkpoint written by ``ModelCheckpoint``: weights, optimizer state, history, the position
            in the epoch (down to the batch), random state and callback state are restored, so training
            continues exactly as if it had not stopped.
        flush_denormals: train with the CPU's flush-to-zero flags set (``mlp.native.fpenv``), so that values
            below float32's smallest normal number (1.2e-38) become 0 instead of taking the slow path
            denormals take on many CPUs.
        sample_weight: ``(n,)`` weights >= 0 of the rows: the loss of a batch is the weighted mean
            ``sum w_n loss_n / sum w_n`` (``mlp.nn.losses``), and the metrics are weighted the same way; the
            validation rows held out by ``validation_split`` keep their weights.
        class_weight: ``"balanced"`` (scikit-learn's ``n / (classes * count)`` over the training rows) or
            ``{class index: weight}`` (1 for classes not named): multiplies the weight of every row of a class,
            in training and validation.
        communicator: train data-parallel with the processes of an mpi4py communicator (``MPI.COMM_WORLD``),
            each calling ``fit`` with the same arguments (``mlp.train.parallel``): each batch is cut into
            ``micro_batches`` (a power of two that the number of processes divides), whose gradients are added in
            one fixed order, so the result is bit-identical for any number of processes. BLAS runs on one thread
            meanwhile (its sums round differently with other thread counts): run one process per core.
        metrics: names of ``mlp.train.metrics.METRICS`` (``["f1_macro"]``) to record after every epoch, of a
            classifier: on the training rows (``f1_macro``: of the epoch's batches as they were predicted in
            training, from a running confusion matrix, as ``accuracy`` is) and on the validation rows
            (``val_f1_macro``: the model at the epoch's end), weighted as the rows are.

        augment: random transforms of the training rows, pictures (``mlp.data.augment.Augment``): new ones for every
            batch, drawn from ``seed``, the epoch and the batch, so that runs repeat, resume exactly from any batch and
            agree for any number of processes; the validation rows are left as they are.
        adversarial: adversarial training (``mlp.train.adversarial.Adversarial``): each step minimises
            ``(1 - weight) L(X) + weight L(X + epsilon sign(dL/dX))``, at about twice the cost of a step.

    Returns:
        the ``History``: per epoch ``loss`` (and ``accuracy``) over the epoch's batches, the ``metrics``,
        ``val_loss``, ``val_accuracy`` (and the ``val_`` metrics), ``lr`` and ``time`` (seconds spent in the training
        steps); ``history.ending`` says how training ended (completed, stopped by a callback, or interrupted) and why.

    Ctrl-C, SIGTERM or SIGHUP (in the main thread) end training at the next batch boundary: the callbacks'
    ``on_train_end`` runs (``ModelCheckpoint`` then saves the exact point) and the history is returned,
    ``ending.status == "interrupted"``. A second signal stops at once: the callbacks' ``on_train_end`` still runs,
    then ``mlp.train.interrupts.Stopped`` (a ``KeyboardInterrupt``) is raised, its ``history`` the one training made.

    Raises:
        DivergenceError: the loss, a metric, the weights or the optimizer state became NaN or infinite.
            Nothing diverged is handed to the callbacks, so checkpoints keep the last good state.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    dtype = next(iter(model.params.values())).dtype
    data = _prepare(x, y, validation_split, validation_data, dtype, loss, (sample_weight, class_weight), shuffle,
                    drop_last, metrics)
    if augment is not None and augment.active:
        height, width = augment.image_shape
        if data.x.shape[1] != height * width:
            raise ValueError(f"augment: pictures of {height}x{width} are rows of {height * width} values, but x has "
                             f"{data.x.shape[1]} columns; give the pictures' [height, width]")
        data.augment = augment
    data.adversarial = adversarial
    if data.metrics:  # the classes the running confusion matrices count
        truth = single_labels(data.labels)
        width = model.output_size(data.x.shape[1]) or int(truth.max(initial=0)) + 1
        data.classes = (truth, max(width, 2))  # a single output is the probability of class 1 of 2
    callbacks = sorted([*([LearningRateScheduler(schedule)] if schedule is not None else []), *callbacks,
                        *([ProgressLogger(verbose)] if verbose else [])], key=lambda callback: callback.order)
    state = TrainingState(model, loss, optimizer, History(), np.random.default_rng(seed), epochs, len(data.x),
                          batch_size, callbacks=callbacks,
                          parallel=DataParallel(communicator, micro_batches) if communicator is not None else None)
    state.position = Position(shuffle_state=state.rng.bit_generator.state)
    if resume is not None:
        _resume(resume, state)
        state.epoch = state.position.epoch
    # Overflow on the way to a NaN is reported once, clearly, as a divergence, not as NumPy warnings.
    with (np.errstate(over="ignore", invalid="ignore", divide="ignore"), stop_signals() as stop,
          fpenv.flush_denormals(flush_denormals), blas.one_thread() if state.parallel else contextlib.nullcontext()):
        for callback in callbacks:
            callback.on_train_begin(state)
        forced = False
        try:
            with stop.at_once():
                _train_epochs(state, data, callbacks, stop)
        except _StopRequestedError:
            state.interrupted = stop.received.name if stop.received is not None else "a stop signal"
        except KeyboardInterrupt:  # raised by a callback, or a second signal: where it landed decides
            state.interrupted = "KeyboardInterrupt" if stop.latest is None else f"{stop.latest.name} again: at once"
            forced = True
        except DivergenceError as err:
            state.diverged = str(err)
        finally:
            if state.interrupted and state.resumable and _non_finite_state(state) is not None:
                state.resumable = False  # the last steps diverged: nothing worth saving
            for callback in callbacks:  # the checkpoint, the history and the resume hint: further signals wait
                callback.on_train_end(state)
    state.history.ending = state.ending()
    if state.diverged:  # what the checkpoints hold, if a callback said; else what is true of any
        ending = state.history.ending
        raise DivergenceError(ending.reason if ending.notes else f"{ending.headline}. {INTACT}", state.history)
    if forced and stop.latest is not None:  # a second signal: the caller stops too, knowing where training stood
        raise Stopped(stop.latest, state.history)
    return state.history
