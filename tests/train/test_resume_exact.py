"""Resume is exact from any stop: an interrupted run, resumed, ends bit-identical to an uninterrupted one.

Every piece of state that decides the rest of training is exercised at once: dropout masks, Adam's moments, a
warm-up + cosine schedule, reduce-on-plateau, early stopping's patience and best weights, recorded gradient
norms, and a checkpoint of the best epoch. The stops: a ``KeyboardInterrupt`` raised by a callback at chosen
and at random batches, right after an epoch's line (before the next epoch's first batch), the process's own
SIGINT, SIGTERM and SIGHUP, a signal during a checkpoint write, a second signal, and a ``KeyboardInterrupt`` in
the middle of an optimizer step. ``scripts/interrupt_trials.py`` runs many more, against the real command.
"""

from __future__ import annotations

import os
import signal
import threading

import numpy as np
import pytest

import mlp.train.checkpoint
from mlp import Adam, Dense, Dropout, ReLU, Sequential, SoftmaxCrossEntropy, fit
from mlp.data import two_spirals
from mlp.train.callbacks import Callback, EarlyStopping, ModelCheckpoint, ReduceLROnPlateau
from mlp.train.callbacks.gradient_norms import GradientNorms
from mlp.train.checkpoint import compare_checkpoints, load_checkpoint, restore
from mlp.train.interrupts import Stopped, stop_signals
from mlp.train.schedules import CosineAnnealing, Warmup

EPOCHS, BATCHES = 5, 25  # 1,000 rows: 800 train in batches of 32, 200 validate
X, Y = two_spirals(1000)


class StopAt(Callback):
    """Stops training at ``(epoch, batch)``: ``batch`` batches of the 0-based ``epoch`` done (0: right after
    the previous epoch's line), by raising ``KeyboardInterrupt`` or sending the process ``signum``."""

    def __init__(self, epoch: int, batch: int, signum: int | None = None, times: int = 1) -> None:
        self.epoch, self.batch, self.signum, self.times = epoch, batch, signum, times

    def _maybe_stop(self, state) -> None:
        if (state.epoch, state.position.batch) == (self.epoch, self.batch):
            if self.signum is None:
                raise KeyboardInterrupt
            for _ in range(self.times):
                os.kill(os.getpid(), self.signum)

    def on_batch_begin(self, state) -> None:
        if self.batch == 0:
            self._maybe_stop(state)

    def on_batch_end(self, state, logs) -> None:
        if self.batch > 0:
            self._maybe_stop(state)


def train(folder, *extra, resume=None, epochs=EPOCHS):
    """Train the test network with every stateful piece, checkpointing into ``folder``."""
    model = Sequential([Dense(2, 32), ReLU(), Dropout(0.2), Dense(32, 32), ReLU(), Dense(32, 2)], seed=5)
    norms = GradientNorms(every=4)
    callbacks = [EarlyStopping(patience=50), ReduceLROnPlateau(patience=1, factor=0.5, min_delta=0.5), norms,
                 ModelCheckpoint(folder / "last.npz", best_path=folder / "best.npz"), *extra]
    history = fit(model, SoftmaxCrossEntropy(), Adam(0.01), X, Y, epochs=epochs, batch_size=32, validation_split=0.2,
                  seed=3, schedule=Warmup(1, CosineAnnealing(epochs)), callbacks=callbacks, verbose=0, resume=resume)
    return model, history, norms


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("uninterrupted")
    model, history, norms = train(folder)
    return folder, model, history, norms


def without_time(history):
    return [{k: v for k, v in record.items() if k != "time"} for record in history.records]


def assert_same_as_uninterrupted(folder, model, history, norms, uninterrupted):
    reference, ref_model, ref_history, ref_norms = uninterrupted
    for key, value in ref_model.params.items():
        np.testing.assert_array_equal(model.params[key], value, err_msg=key)
    assert without_time(history) == without_time(ref_history)
    assert norms.history.records == ref_norms.history.records
    assert compare_checkpoints(folder / "last.npz", reference / "last.npz") == []
    assert compare_checkpoints(folder / "best.npz", reference / "best.npz") == []


def interrupt_and_resume(folder, stopper, uninterrupted):
    """Train until ``stopper`` stops it, check it says so and saved, resume, and compare with the reference."""
    _, stopped, _ = train(folder, stopper)
    assert stopped.ending.status == "interrupted" and stopped.ending.resumable
    assert f"saved {folder / 'last.npz'}" in stopped.ending.reason
    model, history, norms = train(folder, resume=folder / "last.npz")
    assert history.ending.status == "completed"
    assert_same_as_uninterrupted(folder, model, history, norms, uninterrupted)
    return stopped


RANDOM = [(int(e), int(b)) for e, b in zip(np.random.default_rng(2026).integers(0, EPOCHS, 3),
                                           np.random.default_rng(12).integers(1, BATCHES, 3), strict=True)]


@pytest.mark.parametrize(("epoch", "batch"), [(0, 1), (2, 11), (4, BATCHES), *RANDOM])
def test_an_interrupt_at_any_batch_resumes_bit_identically(tmp_path, uninterrupted, epoch, batch):
    stopped = interrupt_and_resume(tmp_path, StopAt(epoch, batch), uninterrupted)
    assert stopped.ending.headline == f"interrupted during epoch {epoch + 1} after batch {batch} (KeyboardInterrupt)"
    checkpoint = load_checkpoint(tmp_path / "last.npz")  # the resumed run has since overwritten it; check the first
    assert checkpoint.position.epoch == EPOCHS


@pytest.mark.parametrize("epoch", [1, 3])
def test_an_interrupt_right_after_an_epoch_line_resumes_bit_identically(tmp_path, uninterrupted, epoch):
    # before the next epoch has drawn its permutation or taken a step
    stopped = interrupt_and_resume(tmp_path, StopAt(epoch, 0), uninterrupted)
    assert stopped.ending.headline == f"interrupted after epoch {epoch} (KeyboardInterrupt)"


def test_the_interrupt_checkpoint_holds_where_the_epoch_stood(tmp_path):
    train(tmp_path, StopAt(2, 11))
    checkpoint = load_checkpoint(tmp_path / "last.npz")
    position = checkpoint.position
    assert (position.epoch, position.batch, position.seen) == (2, 11, 11 * 32)
    assert checkpoint.extra["interrupted"] is True and len(checkpoint.history) == 2
    assert checkpoint.optimizer.iterations == 2 * BATCHES + 11
    assert set(checkpoint.callbacks) == {"EarlyStopping", "ReduceLROnPlateau", "GradientNorms", "ModelCheckpoint"}
    assert "best_weights/0.W" in checkpoint.callbacks["EarlyStopping"]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_a_stop_signal_ends_training_at_the_next_batch_and_resumes_bit_identically(tmp_path, uninterrupted, signum):
    stopped = interrupt_and_resume(tmp_path, StopAt(1, 7, signum), uninterrupted)
    # the signal arrived during batch 7's callbacks; training stopped before batch 8
    assert stopped.ending.headline == f"interrupted during epoch 2 after batch 7 ({signum.name})"
    assert stopped.ending.signal == signum.name
    assert signal.getsignal(signum) is not None and signal.getsignal(signum) == previous_handlers[signum]


previous_handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}


def test_a_signal_during_a_checkpoint_write_waits_for_the_write(tmp_path, uninterrupted, monkeypatch):
    writes = []
    real = mlp.train.checkpoint.atomic_write

    def write_with_a_signal(path, write):
        writes.append(path)
        if len(writes) == 3:  # the third file: a signal lands while it is being written
            os.kill(os.getpid(), signal.SIGINT)
        real(path, write)

    monkeypatch.setattr(mlp.train.checkpoint, "atomic_write", write_with_a_signal)
    _, stopped, _ = train(tmp_path)
    monkeypatch.undo()
    assert stopped.ending.status == "interrupted" and len(stopped) == 2  # the write finished, then training stopped
    assert load_checkpoint(tmp_path / "last.npz").position.epoch == 2
    model, history, norms = train(tmp_path, resume=tmp_path / "last.npz")
    assert_same_as_uninterrupted(tmp_path, model, history, norms, uninterrupted)


def test_a_second_signal_stops_at_once_and_the_checkpoint_still_resumes_exactly(tmp_path, uninterrupted):
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path, StopAt(3, 9, signal.SIGINT, times=2))
    assert load_checkpoint(tmp_path / "last.npz").position.batch == 9  # stopped between two steps: saved
    model, history, norms = train(tmp_path, resume=tmp_path / "last.npz")
    assert_same_as_uninterrupted(tmp_path, model, history, norms, uninterrupted)


class SignalAtTheEnd(Callback):
    """Sends the process ``signum`` twice when training ends (as the checkpoint is written): nothing is left to stop
    at once, and the checkpoint must come out whole."""

    order = 100  # after ModelCheckpoint's on_train_end

    def __init__(self, signum: int) -> None:
        self.signum = signum

    def on_train_end(self, state) -> None:
        os.kill(os.getpid(), self.signum)
        os.kill(os.getpid(), self.signum)


def test_signals_after_training_stopped_are_recorded_while_the_results_are_written(tmp_path, uninterrupted):
    with stop_signals() as stop:  # the caller's block, as `mlp train` holds one
        _, stopped, _ = train(tmp_path, StopAt(2, 5, signal.SIGTERM), SignalAtTheEnd(signal.SIGINT))
        os.kill(os.getpid(), signal.SIGHUP)  # the caller writing its own results: recorded too
    assert stop.received == signal.SIGTERM and stop.latest == signal.SIGHUP
    assert stopped.ending.status == "interrupted" and stopped.ending.resumable
    model, history, norms = train(tmp_path, resume=tmp_path / "last.npz")
    assert_same_as_uninterrupted(tmp_path, model, history, norms, uninterrupted)


def test_a_second_signal_raises_once_and_only_inside_at_once():
    with stop_signals() as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGINT)  # outside at_once: recorded
        assert (stop.received, stop.latest) == (signal.SIGTERM, signal.SIGINT)
        with pytest.raises(Stopped, match="SIGHUP"), stop.at_once():
            os.kill(os.getpid(), signal.SIGHUP)
        with stop.at_once():
            os.kill(os.getpid(), signal.SIGINT)  # it raised once already
        assert stop.latest == signal.SIGINT


class StopInsideTheStep(Adam):
    """An optimizer interrupted half way through a step: some parameters updated, others not."""

    packs = False  # one parameter at a time, so that the interrupt comes between two of them

    def __init__(self, *args, at_step: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.at_step = at_step

    def update(self, name, w, g):
        super().update(name, w, g)
        if self.iterations == self.at_step and name == "3.W":  # after 0.W and 0.b, before 5.W
            raise KeyboardInterrupt


def test_an_interrupt_inside_a_step_saves_nothing_and_keeps_the_last_good_checkpoint(tmp_path, uninterrupted):
    model = Sequential([Dense(2, 32), ReLU(), Dropout(0.2), Dense(32, 32), ReLU(), Dense(32, 2)], seed=5)
    stopped = fit(model, SoftmaxCrossEntropy(), StopInsideTheStep(0.01, at_step=2 * BATCHES + 4), X, Y, epochs=EPOCHS,
                  batch_size=32, validation_split=0.2, seed=3, verbose=0,
                  callbacks=[ModelCheckpoint(tmp_path / "last.npz")])
    assert stopped.ending.status == "interrupted" and not stopped.ending.resumable
    assert f"{tmp_path / 'last.npz'} holds epoch 2, the last good state" in stopped.ending.reason
    checkpoint = restore(tmp_path / "last.npz", model)
    assert checkpoint.position.epoch == 2 and checkpoint.position.batch == 0 and "interrupted" not in checkpoint.extra


def test_signals_are_left_alone_outside_the_main_thread_and_where_ignored(tmp_path):
    outcome = {}

    def in_a_thread():
        with stop_signals() as requests:
            outcome["handler"] = signal.getsignal(signal.SIGINT)
            outcome["requests"] = requests

    thread = threading.Thread(target=in_a_thread)
    thread.start()
    thread.join()
    assert outcome["handler"] is previous_handlers[signal.SIGINT]
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as nohup leaves it
    try:
        with stop_signals():
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            assert signal.getsignal(signal.SIGTERM) is not previous_handlers[signal.SIGTERM]
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, previous)


class SignalAfterLastEpoch(Callback):
    """Sends the process ``signum`` once the last epoch's line is out: nothing is left to stop."""

    def __init__(self, signum: int) -> None:
        self.signum = signum

    def on_epoch_end(self, state, logs) -> None:
        if state.position.epoch == state.epochs:
            os.kill(os.getpid(), self.signum)


def test_a_signal_after_the_last_epoch_is_not_an_interruption(tmp_path, uninterrupted):
    with stop_signals() as stop:  # the caller's block, as `mlp train` holds one: it learns of the signal
        model, history, norms = train(tmp_path, SignalAfterLastEpoch(signal.SIGTERM))
    assert stop.received == signal.SIGTERM
    assert history.ending.status == "completed" and history.ending.headline == f"completed {EPOCHS} epochs"
    assert load_checkpoint(tmp_path / "last.npz").extra.get("interrupted") is not True
    assert_same_as_uninterrupted(tmp_path, model, history, norms, uninterrupted)
