"""The ReLU layer's elementwise passes on MKL's threads, where MKL makes the training step's products.

NumPy computes ``max(a, 0)`` and ``g * (z > 0)`` on one core, and the second in two passes (a boolean mask, then a
product that converts it). With MKL, its vector-math routines run them on every thread of MKL's pool, the one
already busy with the products (no second pool spinning against it):

- ``relu(a)`` is ``fdim(a, 0)``: ``a - 0 = a`` where ``a > 0``, ``+0`` elsewhere, NaN where ``a`` is NaN, the same
  values as ``np.maximum(a, 0)`` (which keeps the sign of a ``-0.0`` input; a zero either way);
- ``relu_backward(z, g)`` is ``g * ceil(min(z, 1))`` for ``z = relu(a) >= 0``: the factor is exactly 1 where
  ``z > 0`` and 0 where ``z = 0``, so each entry is ``g`` or a zero, as in ``g * (z > 0)``. Where ``z`` is NaN (a
  network that diverged) the gradient passes.

Each call costs a few microseconds more than NumPy's, so arrays of fewer than ``MIN_SIZE`` entries, and arrays that
are not C-contiguous float32 or float64, take NumPy's path (``mlp.native.blas.mkl_for``).
"""

from __future__ import annotations

import numpy as np

from mlp.native.blas import mkl_for

_SCALARS = {(np.dtype(t), v): np.full(1, v, t) for t in (np.float32, np.float64) for v in (0, 1)}  # repeated scalars


def relu(a: np.ndarray) -> np.ndarray:
    """``max(a, 0)``, a new array of ``a``'s shape ``(batch, n)``; NaN stays NaN."""
    a = np.asarray(a)
    library = mkl_for(a)
    if library is None:
        return np.maximum(a, 0)
    z = np.empty_like(a)
    library.fdim[a.dtype](a.size, a.ctypes.data, 1, _SCALARS[a.dtype, 0].ctypes.data, 0, z.ctypes.data, 1)
    return z


def relu_backward(z: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``dL/dA = g * (z > 0)``: ``z = relu(a)`` and ``g = dL/dZ``, both ``(batch, n)``; a new array."""
    z, g = np.asarray(z), np.asarray(g)
    library = mkl_for(z, g) if z.shape == g.shape else None
    if library is None:
        return (z > 0) * g
    factor = np.empty_like(z)
    n, dtype = z.size, z.dtype
    library.fmin[dtype](n, z.ctypes.data, 1, _SCALARS[dtype, 1].ctypes.data, 0, factor.ctypes.data, 1)
    library.ceil[dtype](n, factor.ctypes.data, factor.ctypes.data)
    library.mul[dtype](n, factor.ctypes.data, g.ctypes.data, factor.ctypes.data)
    return factor
