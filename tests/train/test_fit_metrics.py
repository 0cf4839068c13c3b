"""``fit(metrics=[...])``: precision, recall and F1 averages recorded per epoch, on the training and validation
rows, monitored (higher is better) by early stopping, reduce-on-plateau and the best checkpoint, and resumed
bit-identically."""

from __future__ import annotations

import numpy as np
import pytest

from mlp import Adam, Dense, Dropout, ReLU, Sequential, SoftmaxCrossEntropy, fit
from mlp.data import blobs
from mlp.nn.losses import MeanSquaredError
from mlp.train.callbacks import Callback, EarlyStopping, ModelCheckpoint, ReduceLROnPlateau
from mlp.train.checkpoint import compare_checkpoints, load_checkpoint
from mlp.train.metrics import classification_report, confusion_matrix

X, Y = blobs(n=600, centers=4, features=3, std=3.0, seed=4)  # overlapping: the metrics move
EPOCHS = 6
METRICS = ["f1_macro", "precision_weighted"]


def network() -> Sequential:
    return Sequential([Dense(3, 16), ReLU(), Dropout(0.2), Dense(16, 4)], seed=1)


class StopAt(Callback):
    """Raises ``KeyboardInterrupt`` once ``batch`` batches of the 0-based ``epoch`` are done."""

    def __init__(self, epoch: int, batch: int) -> None:
        self.epoch, self.batch = epoch, batch

    def on_batch_end(self, state, logs) -> None:
        if (state.epoch, state.position.batch) == (self.epoch, self.batch):
            raise KeyboardInterrupt


def train(folder, *extra, resume=None):
    model = network()
    callbacks = [EarlyStopping(monitor="val_f1_macro", patience=3), ReduceLROnPlateau(monitor="val_f1_macro",
                                                                                       patience=1, factor=0.5),
                 ModelCheckpoint(folder / "last.npz", best_path=folder / "best.npz", monitor="val_f1_macro"), *extra]
    history = fit(model, SoftmaxCrossEntropy(), Adam(0.01), X, Y, epochs=EPOCHS, batch_size=32, validation_split=0.25,
                  seed=2, callbacks=callbacks, verbose=0, resume=resume, metrics=METRICS)
    return model, history


def test_the_metrics_are_recorded_per_epoch_and_shown(capsys):
    model = network()
    history = fit(model, SoftmaxCrossEntropy(), Adam(0.01), X, Y, epochs=2, batch_size=32, validation_split=0.25,
                  seed=2, verbose=2, metrics=METRICS)
    assert list(history.records[0]) == ["epoch", "loss", "accuracy", "f1_macro", "precision_weighted", "val_loss",
                                        "val_accuracy", "val_f1_macro", "val_precision_weighted", "lr", "time"]
    # the validation rows' (the last 25%): the model at the last epoch's end
    predicted = model.predict(X[450:]).argmax(axis=1)
    report = classification_report(confusion_matrix(Y[450:], predicted, 4))
    assert history["val_f1_macro"][-1] == report["macro avg"]["f1-score"]
    assert history["val_precision_weighted"][-1] == report["weighted avg"]["precision"]
    line = capsys.readouterr().out.splitlines()[-1]
    assert f"  f1_macro {history['f1_macro'][-1]:.4f}  precision_weighted " in line
    assert f"  val_f1_macro {history['val_f1_macro'][-1]:.4f}  " in line


@pytest.mark.parametrize("weighted", [False, True])
def test_the_training_metrics_count_the_epochs_batches_as_accuracy_does(weighted):
    # the weighted recall is the accuracy: both come from the same predictions of the same batches
    w = np.random.default_rng(0).random(len(X)) if weighted else None
    history = fit(network(), SoftmaxCrossEntropy(), Adam(0.01), X, Y, epochs=3, batch_size=32, validation_split=0.25,
                  seed=2, verbose=0, sample_weight=w, metrics=["recall_weighted"])
    assert history["recall_weighted"] == pytest.approx(history["accuracy"], rel=1e-12)
    assert history["val_recall_weighted"] == pytest.approx(history["val_accuracy"], rel=1e-12)
    assert history["recall_weighted"] != history["val_recall_weighted"]


def test_the_monitors_maximise_a_metric(tmp_path):
    _, history = train(tmp_path)
    values = history["val_f1_macro"]
    best = max(values)
    assert values.index(best) < len(values) - 1 and history["lr"][-1] < history["lr"][0]  # it did act on it
    kept = load_checkpoint(tmp_path / "best.npz")
    assert kept.extra["best"] == {"val_f1_macro": best} and kept.epoch == values.index(best) + 1


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("uninterrupted")
    model, history = train(folder)
    return folder, model, history


@pytest.mark.parametrize(("epoch", "batch"), [(0, 3), (2, 14), (4, 1)])
def test_an_interrupted_run_with_metrics_resumes_bit_identically(tmp_path, uninterrupted, epoch, batch):
    reference, ref_model, ref_history = uninterrupted
    _, stopped = train(tmp_path, StopAt(epoch, batch))
    assert stopped.ending.status == "interrupted" and stopped.ending.resumable
    model, history = train(tmp_path, resume=tmp_path / "last.npz")
    for key, value in ref_model.params.items():
        np.testing.assert_array_equal(model.params[key], value, err_msg=key)
    assert [{k: v for k, v in r.items() if k != "time"} for r in history.records] == \
        [{k: v for k, v in r.items() if k != "time"} for r in ref_history.records]
    assert compare_checkpoints(tmp_path / "last.npz", reference / "last.npz") == []
    assert compare_checkpoints(tmp_path / "best.npz", reference / "best.npz") == []


def test_metrics_errors():
    with pytest.raises(ValueError, match=r"^unknown metric 'f1'; valid names: precision_macro, "):
        fit(network(), SoftmaxCrossEntropy(), Adam(0.01), X, Y, epochs=1, verbose=0, metrics=["f1"])
    with pytest.raises(ValueError, match=r"^metrics f1_macro need one class per row, but MeanSquaredError has no "
                                         r"classes; remove them$"):
        fit(Sequential([Dense(3, 1)]), MeanSquaredError(), Adam(0.01), X, Y.astype(float), epochs=1, verbose=0,
            metrics=["f1_macro"])


def test_recording_metrics_changes_nothing_else():
    with_metrics, without = network(), network()
    a = fit(with_metrics, SoftmaxCrossEntropy(), Adam(0.01), X, Y, epochs=2, batch_size=32, validation_split=0.25,
            seed=2, verbose=0, metrics=METRICS)
    b = fit(without, SoftmaxCrossEntropy(), Adam(0.01), X, Y, epochs=2, batch_size=32, validation_split=0.25,
            seed=2, verbose=0)
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert a[key] == b[key], key
    for key, value in without.params.items():
        np.testing.assert_array_equal(with_metrics.params[key], value)
