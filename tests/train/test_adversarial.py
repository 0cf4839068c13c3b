"""Adversarial training: the gradient is the objective's, centered differences say, with the perturbation held
fixed; the perturbation is the fast gradient sign method's; runs repeat and resume exactly; bad settings are one
line, in Python and in a config."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SPIRALS, invoke
from test_resume_exact import StopAt

from mlp import SGD, Dense, Dropout, ReLU, Sequential, SoftmaxCrossEntropy, Tanh, fit
from mlp.data import two_spirals
from mlp.nn.gradcheck import EPS, TOL, numerical_gradient, relative_error
from mlp.train.adversarial import Adversarial, batch_gradients
from mlp.train.callbacks import ModelCheckpoint
from mlp.train.checkpoint import compare_checkpoints


def network(dtype=np.float32, dropout: float = 0.0) -> Sequential:
    layers = [Dense(5, 7, dtype=dtype), Tanh(), Dense(7, 3, dtype=dtype)]
    return Sequential(([Dropout(dropout)] if dropout else []) + layers, seed=4)


def data(dtype=np.float32) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.random((6, 5)).astype(dtype), rng.integers(0, 3, 6), rng.random(6).astype(dtype) + 0.5


@pytest.mark.parametrize("weights", [False, True])
def test_the_gradient_is_the_objectives_with_the_perturbation_held_fixed(weights):
    model, loss = network(np.float64), SoftmaxCrossEntropy()
    x, y, w = data(np.float64)
    w = w if weights else None
    setting = Adversarial(epsilon=0.3, weight=0.4)
    value, output = batch_gradients(model, loss, x, y, w, None, setting)
    grads = {key: g.copy() for key, g in model.grads.items()}
    # the perturbation: dL/dX of the clean loss, as a plain backward pass gives it
    loss.forward(model.forward(x, training=True), y, w)
    perturbed = x + 0.3 * np.sign(model.backward(loss.backward(), input_grad=True))
    assert np.all(np.isclose(np.abs(perturbed - x), 0.3))

    def objective() -> float:
        clean = loss.forward(model.forward(x, training=True), y, w)
        return 0.6 * clean + 0.4 * loss.forward(model.forward(perturbed, training=True), y, w)

    assert value == pytest.approx(objective(), rel=1e-12)
    np.testing.assert_array_equal(output, model.forward(x, training=True))
    for key, param in model.params.items():
        error = relative_error(grads[key], numerical_gradient(objective, param, EPS))
        assert error < TOL, (key, error)


def test_weight_1_trains_on_the_perturbed_rows_alone():
    model, loss = network(np.float64), SoftmaxCrossEntropy()
    x, y, _ = data(np.float64)
    batch_gradients(model, loss, x, y, None, None, Adversarial(epsilon=0.2, weight=1.0))
    grads = {key: g.copy() for key, g in model.grads.items()}
    loss.forward(model.forward(x, training=True), y)
    perturbed = x + 0.2 * np.sign(model.backward(loss.backward(), input_grad=True))
    loss.forward(model.forward(perturbed, training=True), y)
    model.backward(loss.backward())
    for key, grad in grads.items():
        np.testing.assert_array_equal(grad, model.grads[key], err_msg=key)


def test_the_arithmetic_stays_in_float32():
    model, loss = network(dropout=0.2), SoftmaxCrossEntropy()
    x, y, _ = data()
    value, output = batch_gradients(model, loss, x, y, None, None, Adversarial(epsilon=0.1))
    assert output.dtype == np.float32 and all(g.dtype == np.float32 for g in model.grads.values())
    assert np.isfinite(value)


@pytest.mark.parametrize(("arguments", "message"), [
    ({"epsilon": 0}, "epsilon must be a number > 0, got 0"),
    ({"epsilon": float("nan")}, "epsilon must be a number > 0, got nan"),
    ({"epsilon": "0.1"}, "epsilon must be a number > 0, got '0.1'"),
    ({"epsilon": 0.1, "weight": 0}, "weight must be a number in (0, 1], got 0"),
    ({"epsilon": 0.1, "weight": 1.5}, "weight must be a number in (0, 1], got 1.5"),
])
def test_bad_settings_are_one_line_naming_the_bound(arguments, message):
    with pytest.raises(ValueError, match=f"^{message}$".replace("(", r"\(").replace("[", r"\[")):
        Adversarial(**arguments)


@pytest.mark.parametrize(("setting", "message"), [
    ("training.adversarial.epsilon=-1", "error: training.adversarial: epsilon must be a number > 0, got -1.0"),
    ("training.adversarial.weight=2", "error: training.adversarial.epsilon is required"),
    ("training.adversarial={epsilon: 0.1, weight: 0}",
     "error: training.adversarial: weight must be a number in (0, 1], got 0.0"),
    ("training.adversarial={eps: 0.1}", "error: unknown key 'eps' in training.adversarial (did you mean 'epsilon'?); "
                                        "valid keys: epsilon, weight"),
    ("training.adversarial=0.1", "error: training.adversarial must be a mapping"),
])
def test_a_config_with_bad_settings_stops_before_training_with_one_line(tmp_path, setting, message):
    result = invoke("train", SPIRALS, "--epochs", "1", "--out", tmp_path, "--set", setting)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(message), result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert not any(tmp_path.iterdir())


X, Y = two_spirals(600)


def train(folder, *callbacks, resume=None):
    model = Sequential([Dense(2, 32), ReLU(), Dropout(0.2), Dense(32, 2)], seed=1)
    history = fit(model, SoftmaxCrossEntropy(), SGD(0.1, momentum=0.9), X, Y, epochs=3, batch_size=40, seed=2,
                  verbose=0, adversarial=Adversarial(epsilon=0.05), resume=resume,
                  callbacks=[ModelCheckpoint(folder / "last.npz"), *callbacks])
    return model, history


def test_runs_repeat_and_resume_exactly_from_any_batch(tmp_path):
    for name in "abc":
        (tmp_path / name).mkdir()
    reference, history = train(tmp_path / "a")
    again, _ = train(tmp_path / "b")
    for key, value in reference.params.items():
        np.testing.assert_array_equal(again.params[key], value, err_msg=key)
    _, stopped = train(tmp_path / "c", StopAt(1, 7))
    assert stopped.ending.status == "interrupted"
    resumed, resumed_history = train(tmp_path / "c", resume=tmp_path / "c" / "last.npz")
    for key, value in reference.params.items():
        np.testing.assert_array_equal(resumed.params[key], value, err_msg=key)
    assert [r["loss"] for r in resumed_history.records] == [r["loss"] for r in history.records]
    assert compare_checkpoints(tmp_path / "c" / "last.npz", tmp_path / "a" / "last.npz") == []


def test_it_changes_what_is_learned():
    plain = Sequential([Dense(2, 32), ReLU(), Dense(32, 2)], seed=1)
    fit(plain, SoftmaxCrossEntropy(), SGD(0.1), X, Y, epochs=1, batch_size=40, seed=2, verbose=0)
    adversarial = Sequential([Dense(2, 32), ReLU(), Dense(32, 2)], seed=1)
    fit(adversarial, SoftmaxCrossEntropy(), SGD(0.1), X, Y, epochs=1, batch_size=40, seed=2, verbose=0,
        adversarial=Adversarial(epsilon=0.05))
    first = next(iter(plain.params))
    assert not np.array_equal(plain.params[first], adversarial.params[first])


def test_a_runs_log_says_it_trains_adversarially(tmp_path):
    result = invoke("train", SPIRALS, "--epochs", "1", "--out", tmp_path, "--set", "training.adversarial.epsilon=0.05")
    assert result.exit_code == 0, result.output
    assert ", adversarial (epsilon 0.05, weight 0.5), 1 epoch," in result.output
