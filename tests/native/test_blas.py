"""``mlp.native.blas.axpy`` against NumPy: the same update through BLAS for large contiguous arrays, NumPy otherwise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlp import SGD, Adam, Dense, ReLU, RMSprop, Sequential, SoftmaxCrossEntropy, fit
from mlp.native import blas, fpenv

LARGE = blas.MIN_SIZE * 4  # long enough for OpenBLAS to split the vector over its threads
bundled = any((Path(np.__file__).parent.parent / "numpy.libs").glob("*scipy_openblas64_*"))
# The session runs BLAS on one thread; these tests are of its threads: they get them back
pytestmark = pytest.mark.usefixtures("blas_threads")


@pytest.mark.skipif(not bundled, reason="this NumPy was not installed from a wheel with OpenBLAS in numpy.libs")
def test_numpys_bundled_openblas_is_found():
    assert blas.supported()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [7, LARGE])
def test_axpy_adds_alpha_times_x_in_place(dtype, size):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((2, size)).astype(dtype)
    expected = y.astype(np.float64) - 0.37 * x.astype(np.float64)
    before = y.__array_interface__["data"][0]
    blas.axpy(-0.37, x, y)
    assert y.dtype == dtype and y.__array_interface__["data"][0] == before  # updated in place
    np.testing.assert_allclose(y, expected, rtol=4 * np.finfo(dtype).eps, atol=4 * np.finfo(dtype).eps)


def test_numpy_scalar_alpha():
    y = np.zeros(LARGE, np.float32)
    blas.axpy(np.float32(0.5), np.ones(LARGE, np.float32), y)
    np.testing.assert_array_equal(y, 0.5)


def test_views_and_mixed_dtypes_take_numpys_path_with_the_same_result():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((512, 512)).astype(np.float32)
    y = np.zeros((512, 512), np.float32)
    blas.axpy(2.0, x.T, y)  # a transposed view: not C-contiguous
    np.testing.assert_allclose(y, 2 * x.T, rtol=1e-6)
    y64 = np.zeros(LARGE)
    blas.axpy(1.0, np.ones(LARGE, np.float32), y64)
    np.testing.assert_array_equal(y64, 1.0)


def test_without_blas_numpy_computes_it(monkeypatch):
    monkeypatch.setattr(blas, "_ROUTINES", {})
    assert not blas.supported()
    y = np.ones(LARGE, np.float32)
    blas.axpy(-0.5, np.full(LARGE, 4, np.float32), y)
    np.testing.assert_array_equal(y, -1.0)


@pytest.mark.skipif(not fpenv.supported(), reason="FTZ/DAZ flags are set on x86-64 glibc Linux only")
@pytest.mark.parametrize("flush", [True, False])
def test_a_decaying_velocity_skips_the_denormals_under_the_flags_only(flush):
    """Where the gradient is 0 (dead units, blank pixels) the velocity decays geometrically, ``v <- mu v``.
    That decay runs on the calling thread, so under ``fit``'s flags it jumps from the smallest normal
    floats to 0; BLAS worker threads only ever add ``-lr g``, here 0, to it."""
    opt = SGD(0.1, momentum=0.5)
    params, grads = {"W": np.ones(LARGE, np.float32)}, {"W": np.zeros(LARGE, np.float32)}
    opt.state["velocity"]["W"] = velocity = np.full(LARGE, 1e-30, np.float32)
    seen = 0
    with fpenv.flush_denormals(flush):
        for _ in range(60):  # 1e-30 * 0.5^k is below float32's smallest normal after 27 steps, 0 after 50
            opt.step(params, grads)
            seen += np.count_nonzero((velocity != 0) & (np.abs(velocity) < np.finfo(np.float32).tiny))
    assert (seen == 0) == flush
    assert np.count_nonzero(velocity) == 0


def momentum(w, g, t, state, nesterov=False):
    state["v"] = 0.9 * state.get("v", 0) - 0.1 * g
    return w + (0.9 * state["v"] - 0.1 * g if nesterov else state["v"])


def adam(w, g, t, state):
    state["m"] = 0.9 * state.get("m", 0) + 0.1 * g
    state["v"] = 0.999 * state.get("v", 0) + 0.001 * g * g
    return w - 0.01 * (state["m"] / (1 - 0.9**t)) / (np.sqrt(state["v"] / (1 - 0.999**t)) + 1e-8)


def rmsprop(w, g, t, state):
    state["s"] = 0.9 * state.get("s", 0) + 0.1 * g * g
    return w - 0.01 * g / (np.sqrt(state["s"]) + 1e-8)


@pytest.mark.parametrize("make, rule", [
    (lambda: SGD(0.1), lambda w, g, t, state: w - 0.1 * g),
    (lambda: SGD(0.1, momentum=0.9), momentum),
    (lambda: SGD(0.1, momentum=0.9, nesterov=True), lambda *args: momentum(*args, nesterov=True)),
    (lambda: Adam(0.01), adam),
    (lambda: RMSprop(0.01), rmsprop),
])
def test_optimizers_on_blas_sized_float32_weights_match_the_rules_in_float64(make, rule):
    """Three steps on a 512x512 float32 weight (the BLAS path) against the update rule in float64."""
    rng = np.random.default_rng(2)
    w0 = rng.standard_normal((512, 512)).astype(np.float32)
    params, opt = {"W": w0.copy()}, make()
    w, state = w0.astype(np.float64), {}
    for t in range(1, 4):
        g = rng.standard_normal((512, 512)).astype(np.float32)
        opt.step(params, {"W": g})
        w = rule(w, g.astype(np.float64), t, state)
    assert params["W"].dtype == np.float32
    np.testing.assert_allclose(params["W"], w, rtol=1e-5, atol=1e-5)


def test_training_with_blas_sized_weights_is_reproducible():
    """The README's promise (same seeds, same weights) on the threaded path: 300x256 weights, momentum."""
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((256, 300)).astype(np.float32), rng.integers(0, 4, 256)

    def train():
        model = Sequential([Dense(300, 256), ReLU(), Dense(256, 4)], seed=4)
        fit(model, SoftmaxCrossEntropy(), SGD(0.05, momentum=0.9), x, y, epochs=2, batch_size=32, seed=5, verbose=0)
        return model.params

    first, second = train(), train()
    assert first["0.W"].size >= blas.MIN_SIZE
    assert not np.array_equal(first["0.W"], Sequential([Dense(300, 256)], seed=4).params["0.W"])  # it trained
    for key, value in first.items():
        np.testing.assert_array_equal(second[key], value)
