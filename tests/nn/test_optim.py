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


def one_at_a_time(optimizer):
    """The same rule with packing off: ``update`` sees one parameter at a time."""
    unpacked = type(f"Unpacked{type(optimizer).__name__}", (type(optimizer),), {"packs": False})
    return unpacked(**optimizer.get_config())


def small_and_large_params(rng, dtype=np.float32):
    """A network's parameters where some are packed together and one (0.W) is too large to be."""
    shapes = {"0.W": (300, 256), "0.b": (256,), "2.W": (256, 10), "2.b": (10,), "4.W": (10, 3), "4.b": (3,)}
    return {name: rng.standard_normal(shape).astype(dtype) for name, shape in shapes.items()}


@pytest.mark.parametrize("make", [
    lambda: SGD(0.1, momentum=0.9, nesterov=True, weight_decay=1e-3, max_norm=1.5),
    lambda: SGD(0.1),
    lambda: Adam(0.01, weight_decay=1e-2, decay_bias=True),
    lambda: RMSprop(0.01, max_norm=2.0),
])
def test_small_parameters_updated_together_get_the_numbers_of_one_at_a_time(make):
    rng = np.random.default_rng(3)
    packed, alone = make(), one_at_a_time(make())
    params = small_and_large_params(rng)
    copy = {k: v.copy() for k, v in params.items()}
    assert packed._grouped(params) == ["0.W", ("0.b", "2.W", "2.b", "4.W", "4.b")]
    assert alone._grouped(params) == list(params)
    for _ in range(5):
        grads = {k: rng.standard_normal(v.shape).astype(np.float32) for k, v in params.items()}
        packed.step(params, grads)
        alone.step(copy, grads)
    for key in params:
        np.testing.assert_array_equal(params[key], copy[key])
    a, b = packed.state_dict(), alone.state_dict()
    assert sorted(a) == sorted(b)  # per parameter, as before: "m/2.W", ...
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


def test_packed_state_survives_a_restore_and_a_copy():
    """Slots restored from a state dict (or copied with the optimizer) are joined again at the next step."""
    import copy

    rng = np.random.default_rng(4)
    params = small_and_large_params(rng)
    grads = [{k: rng.standard_normal(v.shape).astype(np.float32) for k, v in params.items()} for _ in range(4)]
    a = Adam(0.01)
    a.step(params, grads[0])
    restored, copied = Adam(0.01), copy.deepcopy(a)
    restored.load_state_dict(a.state_dict())
    runs = [(a, params), (restored, {k: v.copy() for k, v in params.items()}),
            (copied, {k: v.copy() for k, v in params.items()})]
    for g in grads[1:]:
        for optimizer, p in runs:
            optimizer.step(p, g)
    for optimizer, p in runs[1:]:
        for key in params:
            np.testing.assert_array_equal(p[key], params[key])
        for key, value in a.state_dict().items():
            np.testing.assert_array_equal(optimizer.state_dict()[key], value)


def test_parameters_of_different_dtypes_are_not_packed_together():
    params = {"W": np.ones((2, 2), np.float32), "b": np.ones(2, np.float64), "c": np.ones(3, np.float64)}
    assert SGD(0.1)._grouped(params) == ["W", ("b", "c")]
