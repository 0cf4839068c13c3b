"""Optimizer update rules against steps computed by hand, and state save/restore."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlp.nn.optim import SGD, Adam, RMSprop, optimizer_from_config


def one_param(w, g):
    return {"W": np.array(w, dtype=np.float64)}, {"W": np.array(g, dtype=np.float64)}


def test_plain_sgd():
    params, grads = one_param([[1.0, 2.0]], [[0.5, -1.0]])
    SGD(lr=0.1).step(params, grads)
    np.testing.assert_allclose(params["W"], [[0.95, 2.1]])


def test_sgd_default_lr_is_kerass():
    assert SGD().lr == 0.01


def test_momentum_velocity_form():
    params, grads = one_param([[1.0]], [[1.0]])
    opt = SGD(lr=0.1, momentum=0.9)
    opt.step(params, grads)  # v = -0.1, w = 0.9
    opt.step(params, grads)  # v = 0.9 * -0.1 - 0.1 = -0.19, w = 0.71
    np.testing.assert_allclose(params["W"], [[0.71]])
    np.testing.assert_allclose(opt.state["velocity"]["W"], [[-0.19]])


def test_nesterov():
    params, grads = one_param([[1.0]], [[1.0]])
    opt = SGD(lr=0.1, momentum=0.9, nesterov=True)
    opt.step(params, grads)  # v = -0.1; w += 0.9 * -0.1 - 0.1 = -0.19 -> 0.81
    np.testing.assert_allclose(params["W"], [[0.81]])
    opt.step(params, grads)  # v = -0.19; w += 0.9 * -0.19 - 0.1 = -0.271 -> 0.539
    np.testing.assert_allclose(params["W"], [[0.539]])


def test_adam_against_the_paper_formulas():
    w0, g1, g2 = 1.0, 0.5, -0.2
    params, grads = one_param([[w0]], [[g1]])
    opt = Adam(lr=0.01)
    opt.step(params, grads)
    grads["W"][:] = g2
    opt.step(params, grads)
    b1, b2, eps, lr = 0.9, 0.999, 1e-8, 0.01
    w, m, v = w0, 0.0, 0.0
    for t, g in enumerate([g1, g2], start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        w -= lr * (m / (1 - b1**t)) / (math.sqrt(v / (1 - b2**t)) + eps)
    np.testing.assert_allclose(params["W"], [[w]], rtol=1e-12)


def test_adam_first_step_is_lr_sized():
    params, grads = one_param([[0.0, 0.0]], [[3.0, -1e-3]])
    Adam(lr=0.01).step(params, grads)
    np.testing.assert_allclose(params["W"], [[-0.01, 0.01]], rtol=1e-4)


def test_rmsprop():
    params, grads = one_param([[1.0]], [[2.0]])
    RMSprop(lr=0.01, rho=0.9).step(params, grads)  # s = 0.1 * 4 = 0.4
    np.testing.assert_allclose(params["W"], [[1.0 - 0.01 * 2.0 / (math.sqrt(0.4) + 1e-8)]])


def test_weight_decay_on_weights_not_biases():
    params = {"W": np.ones((2, 2)), "b": np.ones(2)}
    grads = {"W": np.zeros((2, 2)), "b": np.zeros(2)}
    SGD(lr=0.1, weight_decay=0.5).step(params, grads)  # W <- W - 0.1 * 0.5 W
    np.testing.assert_allclose(params["W"], 0.95)
    np.testing.assert_allclose(params["b"], 1.0)
    SGD(lr=0.1, weight_decay=0.5, decay_bias=True).step(params, grads)
    np.testing.assert_allclose(params["b"], 0.95)


def test_max_norm_caps_each_units_incoming_weights():
    W = np.array([[3.0, 0.1], [4.0, 0.2]])  # column norms 5 and ~0.22
    params, grads = {"W": W}, {"W": np.zeros_like(W)}
    SGD(lr=0.1, max_norm=2.0).step(params, grads)
    np.testing.assert_allclose(np.linalg.norm(params["W"], axis=0), [2.0, np.hypot(0.1, 0.2)])
    np.testing.assert_allclose(params["W"][:, 0], [1.2, 1.6])  # direction kept


@pytest.mark.parametrize("make", [lambda: SGD(0.1, momentum=0.9, nesterov=True), lambda: Adam(0.01), RMSprop])
def test_state_save_and_restore_continues_identically(make):
    rng = np.random.default_rng(0)
    params = {"W": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)}
    grads = [{"W": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)} for _ in range(4)]
    a = make()
    a.step(params, grads[0])
    a.step(params, grads[1])
    params_b = {k: v.copy() for k, v in params.items()}
    b = optimizer_from_config(type(a).__name__, a.get_config())
    b.load_state_dict(a.state_dict())
    for g in grads[2:]:
        a.step(params, g)
        b.step(params_b, g)
    assert a.iterations == b.iterations == 4
    for key in params:
        np.testing.assert_array_equal(params[key], params_b[key])


def test_float32_parameters_stay_float32():
    for opt in (SGD(0.1, momentum=0.9, weight_decay=1e-4, max_norm=3.0), Adam(weight_decay=1e-4), RMSprop()):
        params = {"W": np.ones((3, 2), np.float32), "b": np.ones(2, np.float32)}
        grads = {"W": np.ones((3, 2), np.float32), "b": np.ones(2, np.float32)}
        for _ in range(2):
            opt.step(params, grads)
        assert all(a.dtype == np.float32 for slot in opt.state.values() for a in slot.values())
        assert all(p.dtype == np.float32 for p in params.values())


def test_bad_hyperparameters_are_clear_errors():
    with pytest.raises(ValueError, match="lr must be a number > 0, got 0"):
        SGD(lr=0)
    with pytest.raises(ValueError, match="lr must be a number > 0, got '1e-3'"):
        Adam(lr="1e-3")
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\), got 1.5"):
        SGD(momentum=1.5)
    with pytest.raises(ValueError, match=r"nesterov=True needs momentum > 0"):
        SGD(nesterov=True)
    with pytest.raises(ValueError, match="weight_decay must be >= 0"):
        SGD(weight_decay=-1)
    with pytest.raises(ValueError, match=r"beta2 must be in \[0, 1\)"):
        Adam(beta2=1.0)
    with pytest.raises(ValueError, match="unknown optimizer 'adagrad'; valid names: sgd, adam, rmsprop"):
        optimizer_from_config("adagrad", {})
