"""A checkpoint is never worse than the last good one: a divergence (on any batch, the last one of an epoch
included) leaves every checkpoint at the last finite state, the error says which file holds which epoch,
``mlp evaluate`` works on the run afterwards, and no NumPy warning reaches the terminal on the way."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import SPIRALS, assert_one_line_error, invoke, the_run

from mlp import SGD, Dense, ModelCheckpoint, ReLU, Sequential, SoftmaxCrossEntropy, fit
from mlp.data import two_spirals
from mlp.train.checkpoint import load_checkpoint
from mlp.train.loop import DivergenceError

# The command: full-batch SGD with lr 1e4 on spirals; the validation loss goes 8e9, 9e27, then NaN.
DIVERGING = ["--set", "optimizer.name=sgd", "--set", "optimizer.lr=1e4", "--set", "training.batch_size=2000",
             "--epochs", "5"]


def train_in_a_process(out, *args):
    return subprocess.run([sys.executable, "-m", "mlp", "train", str(SPIRALS), *args, "--out", str(out), "-q"],
                          capture_output=True, text=True, env=os.environ | {"PYTHONWARNINGS": "default"}, timeout=120)


def all_finite(path) -> bool:
    checkpoint = load_checkpoint(path)
    arrays = [*checkpoint.model.params.values()]
    if checkpoint.optimizer is not None:
        arrays += [a for key, a in checkpoint.optimizer.state_dict().items() if "/" in key]
    records = checkpoint.history.records if checkpoint.history is not None else []
    return all(np.isfinite(a).all() for a in arrays) and all(
        np.isfinite(v) for r in records for v in r.values())


def test_a_divergence_keeps_the_last_good_checkpoint_and_says_where_it_is(tmp_path):
    result = train_in_a_process(tmp_path, *DIVERGING)
    run = the_run(tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: training diverged in epoch 3: val_loss is nan (lr 10000); lower the learning rate (e.g. lr=1000); "
        f"{run / 'last.npz'} holds epoch 2, the last good state; model.npz holds that state: mlp evaluate {run}"
    ]  # one line, and no "overflow encountered" warnings
    assert load_checkpoint(run / "last.npz").epoch == 2 and all_finite(run / "last.npz")
    assert load_checkpoint(run / "model.npz").epoch == 2 and all_finite(run / "model.npz")
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["status"] == "diverged" and metrics["model"] == "epoch 2, the last before training diverged"
    assert len(json.loads((run / "history.json").read_text())) == 2
    evaluated = invoke("evaluate", run)
    assert evaluated.exit_code == 0 and "epoch 2" in evaluated.stdout


def test_a_divergence_in_the_first_epoch_saves_nothing_and_evaluate_says_what_to_do(tmp_path):
    result = train_in_a_process(tmp_path, *DIVERGING[:2], "--set", "optimizer.lr=1e39", *DIVERGING[4:])
    run = the_run(tmp_path)
    assert result.returncode == 1 and len(result.stderr.splitlines()) == 1, result.stderr
    assert "training diverged in epoch 1" in result.stderr
    assert "nothing was saved: no epoch completed in this run" in result.stderr
    assert not (run / "last.npz").exists() and not (run / "model.npz").exists()
    assert_one_line_error(invoke("evaluate", run), f"{run} has no model.npz: training diverged before any epoch "
                                                   f"completed (see {run / 'train.log'}); train again with a lower "
                                                   f"learning rate")


def test_a_divergence_on_the_last_batch_of_an_epoch_never_reaches_the_checkpoint(tmp_path):
    x, y = two_spirals(200)
    model = Sequential([Dense(2, 16), ReLU(), Dense(16, 2)], seed=0)
    with pytest.raises(DivergenceError) as err:  # one batch per epoch: every step is an epoch's last
        fit(model, SoftmaxCrossEntropy(), SGD(1e4), x * 100, y, epochs=6, batch_size=200, verbose=0,
            callbacks=[ModelCheckpoint(tmp_path / "last.npz")])
    saved = load_checkpoint(tmp_path / "last.npz")
    assert all_finite(tmp_path / "last.npz")
    assert f"{tmp_path / 'last.npz'} holds epoch {saved.epoch}, the last good state" in str(err.value)
    assert saved.epoch == len(err.value.history) and err.value.history.ending.status == "diverged"


@pytest.mark.parametrize("what", ["weights", "optimizer state"])
def test_non_finite_weights_or_optimizer_state_are_a_divergence_even_with_a_finite_loss(tmp_path, what):
    from mlp.train.callbacks import Callback

    class Poison(Callback):  # after the last step of epoch 2, something overflows but the loss was finite
        def on_batch_end(self, state, logs):
            if state.epoch == 1 and state.position.seen == state.n_train:
                target = state.model.params["0.b"] if what == "weights" else state.optimizer.state["velocity"]["0.b"]
                target[0] = np.inf

    x, y = two_spirals(100)
    model = Sequential([Dense(2, 4), ReLU(), Dense(4, 2)], seed=0)
    key = "0.b" if what == "weights" else "velocity/0.b"
    with pytest.raises(DivergenceError, match=f"training diverged in epoch 2: the {what} {key} hold inf"):
        fit(model, SoftmaxCrossEntropy(), SGD(0.01, momentum=0.5), x, y, epochs=4, batch_size=50, verbose=0,
            callbacks=[Poison(), ModelCheckpoint(tmp_path / "last.npz")])
    assert load_checkpoint(tmp_path / "last.npz").epoch == 1
