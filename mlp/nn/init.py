"""Weight initializers for ``Dense``: each draws a ``(fan_in, fan_out)`` matrix from a ``Generator``.

An initializer is any callable ``init(rng, shape, dtype) -> array``; ``get_initializer`` also accepts
the names below. Biases always start at zero.

The normal initializers draw from the full normal distribution with the variance shown (He et al. and
Glorot & Bengio's own definition, and PyTorch's ``kaiming_normal_``/``xavier_normal_``). Keras'
``HeNormal`` and ``GlorotNormal`` draw from a normal truncated at two standard deviations, rescaled to the
same variance: the same scale, no values beyond 2 sigma.

================  ==============================================  =========================
name              distribution                                    suited to
================  ==============================================  =========================
``he_normal``     ``N(0, 2 / fan_in)``                            ReLU family (default)
``he_uniform``    ``U(-l, l)``, ``l = sqrt(6 / fan_in)``          ReLU family
``glorot_uniform````U(-l, l)``, ``l = sqrt(6 / (fan_in+fan_out))``  tanh, sigmoid, softmax (Keras default)
``glorot_normal`` ``N(0, 2 / (fan_in + fan_out))``                 tanh, sigmoid, softmax
``normal``        ``N(0, 0.01^2)``; ``normal(std)`` for another std  classic small-random init
``zeros``         all zeros                                        linear models
================  ==============================================  =========================
"""

from __future__ import annotations

from collections.abc import Callable
from math import sqrt

import numpy as np
from numpy.typing import DTypeLike

from mlp.messages import quoted
from mlp.registry import Registry

Initializer = Callable[[np.random.Generator, tuple[int, int], DTypeLike], np.ndarray]


def _scaled_normal(rng: np.random.Generator, shape: tuple[int, int], dtype: DTypeLike, std: float) -> np.ndarray:
    w = rng.standard_normal(shape, dtype=np.dtype(dtype).type)
    w *= std
    return w


def _scaled_uniform(rng: np.random.Generator, shape: tuple[int, int], dtype: DTypeLike, limit: float) -> np.ndarray:
    w = rng.random(shape, dtype=np.dtype(dtype).type)
    w *= 2 * limit
    w -= limit
    return w


def he_normal(rng: np.random.Generator, shape: tuple[int, int], dtype: DTypeLike) -> np.ndarray:
    """He et al. 2015: ``N(0, 2 / fan_in)``, keeps the activation variance constant through ReLUs."""
    return _scaled_normal(rng, shape, dtype, sqrt(2.0 / shape[0]))


def he_uniform(rng: np.random.Generator, shape: tuple[int, int], dtype: DTypeLike) -> np.ndarray:
    """He et al. 2015, uniform form: ``U(-l, l)`` with ``l = sqrt(6 / fan_in)``."""
    return _scaled_uniform(rng, shape, dtype, sqrt(6.0 / shape[0]))


def glorot_uniform(rng: np.random.Generator, shape: tuple[int, int], dtype: DTypeLike) -> np.ndarray:
    """Glorot & Bengio 2010: ``U(-l, l)`` with ``l = sqrt(6 / (fan_in + fan_out))`` (Keras' default)."""
    return _scaled_uniform(rng, shape, dtype, sqrt(6.0 / (shape[0] + shape[1])))


def glorot_normal(rng: np.random.Generator, shape: tuple[int, int], dtype: DTypeLike) -> np.ndarray:
    """Glorot & Bengio 2010: ``N(0, 2 / (fan_in + fan_out))``."""
    return _scaled_normal(rng, shape, dtype, sqrt(2.0 / (shape[0] + shape[1])))


def normal(std: float = 0.01) -> Initializer:
    """An initializer drawing from ``N(0, std^2)``."""
    if not std > 0:
        raise ValueError(f"normal(std) needs std > 0, got {std}")

    def init(rng: np.random.Generator, shape: tuple[int, int], dtype: DTypeLike) -> np.ndarray:
        return _scaled_normal(rng, shape, dtype, std)

    init.__name__ = f"normal({std})"
    return init


def zeros(rng: np.random.Generator, shape: tuple[int, int], dtype: DTypeLike) -> np.ndarray:
    """All zeros (only sensible without hidden layers: hidden units would stay identical)."""
    return np.zeros(shape, dtype=dtype)


INITIALIZERS: Registry[Initializer] = Registry("initializer")
INITIALIZERS.add("he_normal", he_normal, "he")
INITIALIZERS.add("he_uniform", he_uniform)
INITIALIZERS.add("glorot_uniform", glorot_uniform, "glorot", "xavier", "xavier_uniform")
INITIALIZERS.add("glorot_normal", glorot_normal, "xavier_normal")
INITIALIZERS.add("normal", normal())
INITIALIZERS.add("zeros", zeros)


def get_initializer(init: str | Initializer) -> Initializer:
    """Resolve an initializer name (see the module table; ``INITIALIZERS`` holds them) or pass a callable through."""
    if callable(init):
        return init
    if init not in INITIALIZERS:
        valid = ", ".join(sorted(INITIALIZERS.choices()))
        raise ValueError(f"unknown initializer {quoted(init)}; valid names: {valid}")
    return INITIALIZERS.get(init)
