"""Model files: round trip, clear errors, atomic writes under SIGKILL, exact resume, Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from mlp import Dense, Dropout, ReLU, Sequential, SoftmaxCrossEntropy, Tanh
from mlp.data import two_spirals
from mlp.nn.optim import SGD, Adam
from mlp.train.callbacks import Callback, ModelCheckpoint
from mlp.train.checkpoint import CheckpointError, compare_checkpoints, load_checkpoint, load_model, restore, save_model
from mlp.train.history import History
from mlp.train.loop import fit


def model_for_test(seed=0, hidden=16):
    return Sequential([Dense(2, hidden), ReLU(), Dropout(0.2), Dense(hidden, 2)], seed=seed)


def without_time(history):
    return [{k: v for k, v in record.items() if k != "time"} for record in history.records]


def test_round_trip(tmp_path):
    model = Sequential([Dense(3, 4, dtype=np.float64), Tanh(), Dropout(0.3), Dense(4, 2, dtype=np.float64)], seed=1)
    optimizer = Adam(0.01, weight_decay=1e-4)
    optimizer.step(model.params, {k: np.ones_like(v) for k, v in model.params.items()})
    rng = np.random.default_rng(7)
    rng.random(3)
    save_model(tmp_path / "m.npz", model, optimizer, epoch=3, history=History([{"epoch": 1, "loss": 0.5}]), rng=rng,
               extra={"note": "hi"})
    ckpt = load_checkpoint(tmp_path / "m.npz")
    assert repr(ckpt.model) == repr(model)
    for key, value in model.params.items():
        np.testing.assert_array_equal(ckpt.model.params[key], value)
        assert ckpt.model.params[key].dtype == np.float64
    assert ckpt.optimizer.get_config() == optimizer.get_config()
    assert ckpt.optimizer.iterations == 1
    np.testing.assert_array_equal(ckpt.optimizer.state["m"]["0.W"], optimizer.state["m"]["0.W"])
    assert ckpt.epoch == 3 and ckpt.history.records == [{"epoch": 1, "loss": 0.5}] and ckpt.extra == {"note": "hi"}
    assert ckpt.rng_state == rng.bit_generator.state
    assert ckpt.model[2].rng.bit_generator.state == model[2].rng.bit_generator.state  # dropout masks continue
    x = np.ones((2, 3))
    np.testing.assert_array_equal(load_model(tmp_path / "m.npz").forward(x), model.forward(x))


def test_sequential_save_and_load_are_the_model_file_format_without_training_state(tmp_path):
    model = Sequential([Dense(3, 4, dtype=np.float64), Tanh(), Dropout(0.3), Dense(4, 2, dtype=np.float64)], seed=1)
    model.save(tmp_path / "saved.npz")
    save_model(tmp_path / "save_model.npz", model)
    assert compare_checkpoints(tmp_path / "saved.npz", tmp_path / "save_model.npz") == []  # the same file
    assert sorted(path.name for path in tmp_path.iterdir()) == ["save_model.npz", "saved.npz"]  # no temporary left
    x = np.random.default_rng(0).standard_normal((5, 3))
    for loaded in (Sequential.load(tmp_path / "saved.npz"), load_model(tmp_path / "saved.npz")):
        assert repr(loaded) == repr(model) and loaded.params["0.W"].dtype == np.float64
        np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
        assert loaded[2].rng.bit_generator.state == model[2].rng.bit_generator.state
    checkpoint = load_checkpoint(tmp_path / "saved.npz")
    assert checkpoint.optimizer is None and checkpoint.epoch is None and checkpoint.history is None
    with np.load(tmp_path / "saved.npz", allow_pickle=False) as npz:
        assert all(npz[key].dtype != object for key in npz.files)
    # a full checkpoint opens as its bare network too
    save_model(tmp_path / "full.npz", model, Adam(0.01), epoch=2, history=History([{"epoch": 1, "loss": 0.5}]))
    np.testing.assert_array_equal(Sequential.load(tmp_path / "full.npz").predict(x), model.predict(x))
    with pytest.raises(CheckpointError, match=r"nope\.npz: no such model file"):
        Sequential.load(tmp_path / "nope.npz")


def test_files_are_plain_npz_without_pickles(tmp_path):
    save_model(tmp_path / "m.npz", model_for_test(), SGD(0.1, momentum=0.9))
    with np.load(tmp_path / "m.npz", allow_pickle=False) as npz:
        assert all(npz[key].dtype != object for key in npz.files)


def test_missing_corrupt_and_truncated_files_are_clear_errors(tmp_path):
    with pytest.raises(CheckpointError, match=r"nope\.npz: no such model file"):
        load_model(tmp_path / "nope.npz")
    save_model(tmp_path / "m.npz", model_for_test())
    data = (tmp_path / "m.npz").read_bytes()
    (tmp_path / "truncated.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"truncated\.npz is not a readable mlp model file: it is truncated or "
                                              r"corrupt \(.*\); use an earlier checkpoint or retrain"):
        load_model(tmp_path / "truncated.npz")
    (tmp_path / "garbage.npz").write_bytes(b"not a zip file at all")
    with pytest.raises(CheckpointError, match=r"garbage\.npz is not a readable mlp model file"):
        load_model(tmp_path / "garbage.npz")
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(CheckpointError, match=r"other\.npz is not an mlp model file \(no metadata\)"):
        load_model(tmp_path / "other.npz")


def test_another_architecture_is_a_clear_error(tmp_path):
    save_model(tmp_path / "m.npz", model_for_test(hidden=16))
    with pytest.raises(CheckpointError, match=r"m\.npz holds another architecture: layer 0 is Dense\(2, 16\) in the "
                                              r"file but Dense\(2, 32\) in the model"):
        restore(tmp_path / "m.npz", model_for_test(hidden=32))
    with pytest.raises(CheckpointError, match="the file has 4 layers, the model 5"):
        restore(tmp_path / "m.npz", Sequential([*model_for_test(hidden=16), ReLU()]))
    with pytest.raises(CheckpointError, match=r"m\.npz holds no optimizer state; it cannot resume training"):
        restore(tmp_path / "m.npz", model_for_test(), SGD())
    save_model(tmp_path / "sgd.npz", model_for_test(), SGD())
    with pytest.raises(CheckpointError, match=r"sgd\.npz was trained with SGD, not Adam"):
        restore(tmp_path / "sgd.npz", model_for_test(), Adam())


def test_resume_is_bit_identical_to_an_uninterrupted_run(tmp_path):
    x, y = two_spirals(200)
    kwargs = {"epochs": 8, "batch_size": 16, "validation_split": 0.2, "seed": 3, "verbose": 0}

    full_model = model_for_test(seed=5)
    full = fit(full_model, SoftmaxCrossEntropy(), SGD(0.05, momentum=0.9, nesterov=True), x, y, **kwargs)

    first = model_for_test(seed=5)
    fit(first, SoftmaxCrossEntropy(), SGD(0.05, momentum=0.9, nesterov=True), x, y, **(kwargs | {"epochs": 4}),
        callbacks=[ModelCheckpoint(tmp_path / "last.npz")])
    resumed_model = model_for_test(seed=99)  # fresh objects: everything must come from the file
    resumed = fit(resumed_model, SoftmaxCrossEntropy(), SGD(0.05, momentum=0.9, nesterov=True), x, y, **kwargs,
                  resume=tmp_path / "last.npz")

    assert len(resumed) == 8
    assert without_time(resumed) == without_time(full)
    for key, value in full_model.params.items():
        np.testing.assert_array_equal(resumed_model.params[key], value)


def test_best_checkpoint_holds_the_best_epoch(tmp_path):
    x, y = two_spirals(100)
    history = fit(model_for_test(), SoftmaxCrossEntropy(), SGD(0.5), x, y, epochs=6, validation_split=0.3, verbose=0,
                  callbacks=[ModelCheckpoint(tmp_path / "last.npz", best_path=tmp_path / "best.npz")])
    best = load_checkpoint(tmp_path / "best.npz")
    assert best.extra["best"]["val_loss"] == min(history["val_loss"])
    assert best.epoch == int(np.argmin(history["val_loss"])) + 1
    assert load_checkpoint(tmp_path / "last.npz").epoch == 6


class InterruptAt(Callback):
    def __init__(self, epoch, samples):
        self.epoch, self.samples = epoch, samples

    def on_batch_end(self, state, logs):
        if state.epoch == self.epoch and logs["samples"] >= self.samples:
            raise KeyboardInterrupt


def test_ctrl_c_saves_a_last_checkpoint_and_says_how_to_resume(tmp_path, capsys):
    x, y = two_spirals(100)
    model = model_for_test()
    history = fit(model, SoftmaxCrossEntropy(), SGD(0.1), x, y, epochs=5, batch_size=10, verbose=2,
                  callbacks=[ModelCheckpoint(tmp_path / "last.npz"), InterruptAt(epoch=2, samples=30)])
    assert len(history) == 2  # two complete epochs; the third was interrupted
    ckpt = load_checkpoint(tmp_path / "last.npz")
    assert ckpt.epoch == 2 and ckpt.extra["interrupted"] is True
    for key, value in model.params.items():  # the weights as they were when interrupted
        np.testing.assert_array_equal(ckpt.model.params[key], value)
    captured = capsys.readouterr()
    assert f"interrupted: saved {tmp_path / 'last.npz'}; resume with fit(..., resume=" in captured.err
    assert "interrupted during epoch 3" in captured.out
    resumed = fit(model_for_test(), SoftmaxCrossEntropy(), SGD(0.1), x, y, epochs=5, batch_size=10, verbose=0,
                  resume=tmp_path / "last.npz")
    assert [r["epoch"] for r in resumed.records] == [1, 2, 3, 4, 5]


SAVER = textwrap.dedent("""
    import sys
    import numpy as np
    from mlp import Dense, Sequential
    from mlp.train.checkpoint import save_model
    from mlp.nn.optim import SGD
    model = Sequential([Dense(1000, 1000), Dense(1000, 10)])
    optimizer = SGD(0.1, momentum=0.9)
    optimizer.step(model.params, model.grads)
    k = 0
    while True:
        for p in model.params.values():
            p[...] = k
        save_model(sys.argv[1], model, optimizer, epoch=k)
        if k == 0:
            print("saved", flush=True)
        k += 1
""")


@pytest.mark.slow
def test_sigkill_while_saving_leaves_a_loadable_checkpoint(tmp_path):
    path = tmp_path / "last.npz"
    rng = np.random.default_rng(0)
    for _ in range(8):
        proc = subprocess.Popen([sys.executable, "-c", SAVER, str(path)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "saved"
        time.sleep(rng.uniform(0.0, 0.3))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        ckpt = load_checkpoint(path)  # never half a file
        values = {float(v.flat[0]) for v in ckpt.model.params.values()}
        assert values == {float(ckpt.epoch)}  # and all of one version
    leftovers = list(Path(tmp_path).glob(".last.npz.*.tmp"))
    assert leftovers, "no kill landed during a write: the test did not exercise what it should"
