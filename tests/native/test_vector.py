"""The elementwise passes of a training step that go through MKL where it makes the products (``mlp.native.vector``,
``blas.add_to_rows``, ``blas.column_sums``): NumPy's values, to the bit where NumPy's arithmetic is exact, on every
path; NumPy itself for small or unusual arrays."""

from __future__ import annotations

import numpy as np
import pytest

from mlp.native import blas, mkl, vector

try:
    mkl.load()
    WHY_NOT = ""
except mkl.MklError as err:
    WHY_NOT = f"MKL cannot be used here ({err}): pip install numpy-mlp[mkl]"
LIBRARIES = ["openblas", pytest.param("mkl", marks=pytest.mark.skipif(bool(WHY_NOT), reason=WHY_NOT))]
ROWS, COLUMNS = 128, 1024  # a batch of a hidden layer, above MIN_SIZE
pytestmark = pytest.mark.usefixtures("blas_threads")


@pytest.fixture(params=LIBRARIES)
def library(request, monkeypatch):
    """The step's library for the test, the setting of the environment back afterwards."""
    monkeypatch.delenv("MLP_BLAS", raising=False)
    blas.use(request.param)
    assert blas.active() == request.param
    yield request.param
    blas.use(None)


def inputs(dtype, shape=(ROWS, COLUMNS)):
    """Pre-activations with every kind of float a layer can meet: signs, zeros of both signs, denormals, infinities."""
    a = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    flat = a.reshape(-1)
    tiny = np.finfo(dtype).smallest_subnormal
    flat[:8] = [0.0, -0.0, tiny, -tiny, np.inf, -np.inf, np.finfo(dtype).max, 1e-30]
    return a


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_is_numpys_maximum_to_the_bit_and_keeps_nan(library, dtype):
    a = inputs(dtype)
    z = vector.relu(a)
    assert z.dtype == dtype and z.shape == a.shape and not np.shares_memory(z, a)
    np.testing.assert_array_equal(z, np.maximum(a, 0))
    positive = a > 0
    assert z[positive].tobytes() == a[positive].tobytes()  # the positive inputs themselves, not rounded
    a.reshape(-1)[9] = np.nan
    assert np.isnan(vector.relu(a).reshape(-1)[9])  # a diverged network shows as such


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_backward_is_the_gradient_masked_by_the_output_to_the_bit(library, dtype):
    z = vector.relu(inputs(dtype))
    g = np.random.default_rng(1).standard_normal(z.shape).astype(dtype)
    g.reshape(-1)[:3] = [-1.5, 2.0, 5.0]  # where z is 0, -0.0 in NumPy's output, and a denormal
    delta = vector.relu_backward(z, g)
    expected = (z > 0) * g
    assert delta.dtype == dtype and not np.shares_memory(delta, g)
    np.testing.assert_array_equal(delta, expected)
    passed = z > 0
    assert delta[passed].tobytes() == g[passed].tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_bias_is_added_to_every_row_with_numpys_bits(library, dtype):
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((ROWS, COLUMNS)).astype(dtype), rng.standard_normal(COLUMNS).astype(dtype)
    expected = a + b
    before = a.__array_interface__["data"][0]
    blas.add_to_rows(a, b)
    assert a.__array_interface__["data"][0] == before  # in place
    assert a.tobytes() == expected.tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_column_sums_are_numpys_sums_to_rounding(library, dtype):
    rng = np.random.default_rng(3)
    a, out = rng.standard_normal((ROWS, COLUMNS)).astype(dtype), np.full(COLUMNS, np.nan, dtype)
    assert blas.column_sums(a, out=out) is out
    np.testing.assert_allclose(out, a.astype(np.float64).sum(axis=0), rtol=0, atol=ROWS * 4 * np.finfo(dtype).eps)


@pytest.mark.skipif(bool(WHY_NOT), reason=WHY_NOT)
def test_small_or_unusual_arrays_take_numpys_path(monkeypatch):
    """Below MIN_SIZE a call into MKL costs more than NumPy's pass; other layouts and dtypes are NumPy's alone."""
    monkeypatch.delenv("MLP_BLAS", raising=False)
    blas.use("mkl")
    library = blas.mkl_for(np.zeros(blas.MIN_SIZE, np.float32))

    def refuse(*args):
        raise AssertionError("MKL was called")

    for routines in (library.fdim, library.fmin, library.ceil, library.mul, library.ger, library.gemv):
        for dtype in list(routines):
            monkeypatch.setitem(routines, dtype, refuse)
    rng = np.random.default_rng(4)
    wide = rng.standard_normal((ROWS, 2 * COLUMNS)).astype(np.float32)
    cases = [rng.standard_normal((8, 8)).astype(np.float32),  # small
             wide[:, ::2],  # not contiguous
             rng.standard_normal((ROWS, COLUMNS)).astype(np.float16)]  # a dtype MKL's routines do not take
    try:
        for a in cases:
            np.testing.assert_array_equal(vector.relu(a), np.maximum(a, 0))
            np.testing.assert_array_equal(vector.relu_backward(np.maximum(a, 0), a), (a > 0) * a)
            b, expected = a[0].copy(), a + a[0]
            blas.add_to_rows(a, b)
            np.testing.assert_array_equal(a, expected)
            out = np.empty(a.shape[1], a.dtype)
            np.testing.assert_array_equal(blas.column_sums(a, out=out), a.sum(axis=0))
    finally:
        blas.use(None)
