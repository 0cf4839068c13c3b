"""fit / evaluate: learning, validation, callbacks, divergence, history files, determinism."""

from __future__ import annotations

import csv
import io
import json
import re

import numpy as np
import pytest

from mlp import Dense, Dropout, Identity, MeanSquaredError, ReLU, Sequential, SoftmaxCrossEntropy, Tanh
from mlp.data import two_spirals
from mlp.nn.optim import SGD, Adam
from mlp.train.callbacks import Callback, EarlyStopping, ProgressLogger, ReduceLROnPlateau
from mlp.train.history import History
from mlp.train.loop import DivergenceError, evaluate, fit
from mlp.train.schedules import StepDecay


def spiral_model(seed=0, dropout=0.0):
    return Sequential([Dense(2, 64), ReLU(), *([Dropout(dropout)] if dropout else []), Dense(64, 64), ReLU(),
                       Dense(64, 2)], seed=seed)


@pytest.mark.parametrize("optimizer", [SGD(0.1, momentum=0.9), Adam(0.01)], ids=["momentum", "adam"])
def test_fit_learns_two_spirals(optimizer):
    x, y = two_spirals(600)
    model = spiral_model()
    history = fit(model, SoftmaxCrossEntropy(), optimizer, x, y, epochs=40, batch_size=32, seed=0, verbose=0)
    assert history["accuracy"][-1] >= 0.98
    assert evaluate(model, SoftmaxCrossEntropy(), x, y)["accuracy"] >= 0.98


def test_fit_learns_a_regression_curve():
    rng = np.random.default_rng(0)
    x = rng.uniform(-3, 3, (512, 1)).astype(np.float32)
    y = np.sin(x)
    model = Sequential([Dense(1, 32, "glorot_uniform"), Tanh(), Dense(32, 1, "glorot_uniform"), Identity()], seed=0)
    history = fit(model, MeanSquaredError(), Adam(0.01), x, y, epochs=150, batch_size=64, seed=0, verbose=0)
    assert "accuracy" not in history and "loss" in history
    assert history["loss"][-1] < 0.005
    assert evaluate(model, MeanSquaredError(), x, y) == {"loss": pytest.approx(history["loss"][-1], abs=0.005)}


class Recorder(Callback):
    """Records what fit shows callbacks."""

    def __init__(self):
        self.events, self.batches = [], []

    def on_train_begin(self, state):
        self.events.append("train_begin")
        self.n_train = state.n_train

    def on_epoch_begin(self, state):
        self.events.append(f"epoch_begin {state.epoch}")

    def on_batch_end(self, state, logs):
        self.batches.append(logs["samples"])

    def on_epoch_end(self, state, logs):
        self.events.append(f"epoch_end {logs['epoch']}")

    def on_train_end(self, state):
        self.events.append("train_end")


def test_validation_split_is_the_last_fraction_and_last_batch_is_kept():
    x, y = two_spirals(100)  # 100 rows: 80 train, 20 validation
    recorder = Recorder()
    history = fit(spiral_model(), SoftmaxCrossEntropy(), SGD(), x, y, epochs=2, batch_size=32,
                  validation_split=0.2, seed=1, callbacks=[recorder], verbose=0)
    assert recorder.n_train == 80
    assert recorder.batches == [32, 64, 80, 32, 64, 80]  # the partial batch of 16 is used
    assert recorder.events == ["train_begin", "epoch_begin 0", "epoch_end 1", "epoch_begin 1", "epoch_end 2",
                               "train_end"]
    model = spiral_model()
    fit(model, SoftmaxCrossEntropy(), SGD(), x, y, epochs=2, batch_size=32, validation_split=0.2, seed=1, verbose=0)
    assert history["val_loss"][-1] == evaluate(model, SoftmaxCrossEntropy(), x[80:], y[80:])["loss"]
    assert history.keys() == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "time"]


def test_drop_last():
    x, y = two_spirals(100)
    recorder = Recorder()
    fit(spiral_model(), SoftmaxCrossEntropy(), SGD(), x, y, epochs=1, batch_size=32, drop_last=True,
        callbacks=[recorder], verbose=0)
    assert recorder.batches == [32, 64, 96]


def test_schedule_sets_and_records_the_lr():
    x, y = two_spirals(40)
    history = fit(spiral_model(), SoftmaxCrossEntropy(), SGD(0.1), x, y, epochs=5, schedule=StepDecay(2, 0.5),
                  verbose=0)
    assert history["lr"] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])


def test_reduce_lr_on_plateau():
    class FlatLoss(Callback):  # pretend the validation loss never improves after epoch 1
        def on_epoch_end(self, state, logs):
            logs["val_loss"] = 1.0

    x, y = two_spirals(40)
    history = fit(spiral_model(), SoftmaxCrossEntropy(), SGD(0.1), x, y, epochs=6, verbose=0,
                  callbacks=[FlatLoss(), ReduceLROnPlateau(factor=0.5, patience=2)])
    assert history["lr"] == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.025])


def test_early_stopping_stops_and_restores_the_best_weights():
    x, y = two_spirals(200)
    snapshots = {}

    class Snapshot(Callback):
        def on_epoch_end(self, state, logs):
            snapshots[logs["epoch"]] = {k: v.copy() for k, v in state.model.params.items()}

    model = spiral_model()
    stopper = EarlyStopping(monitor="val_loss", patience=2)
    # a learning rate this high makes the validation loss bounce, so that it stops improving
    history = fit(model, SoftmaxCrossEntropy(), SGD(2.0), x, y, epochs=100, batch_size=16, validation_split=0.25,
                  callbacks=[Snapshot(), stopper], verbose=0)
    best = int(np.argmin(history["val_loss"])) + 1
    assert len(history) == best + 2  # patience 2: stopped on the second epoch without improvement (Keras' rule)
    assert stopper.best_epoch == best
    for key, value in model.params.items():
        np.testing.assert_array_equal(value, snapshots[best][key])


def test_monitoring_a_missing_metric_is_a_clear_error():
    x, y = two_spirals(40)
    with pytest.raises(ValueError, match=r"cannot monitor 'val_loss': the history has epoch, loss, accuracy, lr, "
                                         r"time; pass validation_split or validation_data"):
        fit(spiral_model(), SoftmaxCrossEntropy(), SGD(), x, y, epochs=2, callbacks=[EarlyStopping()], verbose=0)


def test_divergence_guard():
    x, y = two_spirals(100)
    with pytest.raises(DivergenceError) as err:
        fit(spiral_model(), SoftmaxCrossEntropy(), SGD(1e6, momentum=0.9), x * 1e3, y, epochs=5, verbose=0)
    assert re.fullmatch(
        r"training diverged: the loss is (nan|inf) at epoch \d+, batch \d+ \(lr 1e\+06\); lower the learning "
        r"rate \(e\.g\. lr=100000\)\. Checkpoints written before this point are intact\.",
        str(err.value),
    )
    assert len(err.value.history) < 5  # the completed epochs


def test_bad_arguments_are_clear_errors():
    x, y = two_spirals(40)
    model, loss = spiral_model(), SoftmaxCrossEntropy()
    with pytest.raises(ValueError, match="fit: x has 40 rows but y has 39; give one target per row"):
        fit(model, loss, SGD(), x, y[:-1], epochs=1, verbose=0)
    with pytest.raises(ValueError, match="epochs must be a positive integer, got 0"):
        fit(model, loss, SGD(), x, y, epochs=0, verbose=0)
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        fit(model, loss, SGD(), x, y, epochs=1, batch_size=0, verbose=0)
    with pytest.raises(ValueError, match=r"validation_split must be in \[0, 1\), got 1.0"):
        fit(model, loss, SGD(), x, y, epochs=1, validation_split=1.0, verbose=0)
    with pytest.raises(ValueError, match="give validation_split or validation_data, not both"):
        fit(model, loss, SGD(), x, y, epochs=1, validation_split=0.1, validation_data=(x, y), verbose=0)


def test_history_csv_and_json(tmp_path):
    x, y = two_spirals(60)
    history = fit(spiral_model(), SoftmaxCrossEntropy(), SGD(), x, y, epochs=3, validation_split=0.2, verbose=0)
    history.to_csv(tmp_path / "history.csv")
    history.to_json(tmp_path / "history.json")
    with open(tmp_path / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    assert list(rows[0]) == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "time"]
    assert float(rows[2]["val_loss"]) == history["val_loss"][2]
    assert json.loads((tmp_path / "history.json").read_text()) == history.records
    with pytest.raises(KeyError, match="no 'val_acc' in the history; it has epoch, loss"):
        history["val_acc"]


def test_history_history_is_a_dict_of_lists_as_in_keras():
    import pandas  # in the dev extra
    x, y = two_spirals(60)
    history = fit(spiral_model(), SoftmaxCrossEntropy(), SGD(), x, y, epochs=3, validation_split=0.2, verbose=0)
    assert list(history.history) == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "time"]
    assert history.history["val_loss"] == history["val_loss"] and len(history.history["loss"]) == 3
    table = pandas.DataFrame(history.history)
    assert table.shape == (3, 7) and table["epoch"].tolist() == [1, 2, 3]
    assert table["val_accuracy"].tolist() == [record["val_accuracy"] for record in history.records]
    assert History([]).history == {}


def test_same_seed_same_weights_and_history():
    x, y = two_spirals(200)

    def run():
        model = spiral_model(seed=3, dropout=0.2)
        history = fit(model, SoftmaxCrossEntropy(), Adam(0.01), x, y, epochs=3, batch_size=16, validation_split=0.2,
                      seed=5, verbose=0)
        return model, [{k: v for k, v in r.items() if k != "time"} for r in history.records]

    (a, ha), (b, hb) = run(), run()
    assert ha == hb
    for key in a.params:
        np.testing.assert_array_equal(a.params[key], b.params[key])


def test_progress_lines(capsys):
    x, y = two_spirals(60)
    out = io.StringIO()
    fit(spiral_model(), SoftmaxCrossEntropy(), SGD(), x, y, epochs=2, validation_split=0.2, verbose=0,
        callbacks=[ProgressLogger(verbose=2, file=out)])
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[1].startswith("epoch 2/2  loss ")
    for part in ("  accuracy ", "  val_loss ", "  val_accuracy ", "  lr 0.01  ", " samples/s)"):
        assert part in lines[1]
    assert capsys.readouterr().out == ""  # verbose=0 prints nothing of its own


def test_fit_on_sparse_rows_is_fit_on_the_dense_rows():
    sparse = pytest.importorskip("scipy.sparse")
    from mlp.arrays import SparseRows

    x, y = two_spirals(200)
    x[np.abs(x) < 0.3] = 0  # some zeros to leave out
    runs = []
    for rows in (x, SparseRows(sparse.csc_array(x))):
        model = spiral_model()
        history = fit(model, SoftmaxCrossEntropy(), Adam(0.01), rows, y, epochs=3, batch_size=32, seed=1, verbose=0)
        runs.append((history["loss"], model.params["0.W"]))
    assert runs[0][0] == runs[1][0]
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    broken = sparse.csr_array(x)
    broken.data[5] = np.nan  # the 6th stored entry: its row and column are named
    row = int(np.searchsorted(broken.indptr, 5, side="right")) - 1
    with pytest.raises(ValueError, match=rf"^fit: x row {row}, feature {broken.indices[5]} is nan; fill in"):
        fit(spiral_model(), SoftmaxCrossEntropy(), Adam(0.01), SparseRows(broken), y, epochs=1, verbose=0)
