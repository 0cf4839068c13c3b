"""A float32 training step stays in float32: no operation anywhere in it produces a float64 array.

The parameters are wrapped in an ``ndarray`` subclass that sees every ufunc (arithmetic, ``matmul``,
``exp``, reductions) and array function (``where``, ``clip``...) they take part in; the subclass passes
on to every result, so the whole forward pass, backward pass and optimizer step are watched.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from mlp import (
    ELU,
    SGD,
    Adam,
    BinaryCrossEntropy,
    CrossEntropy,
    Dense,
    Dropout,
    LeakyReLU,
    MeanSquaredError,
    MulticlassHinge,
    ReLU,
    RMSprop,
    Sequential,
    Sigmoid,
    Softmax,
    SoftmaxCrossEntropy,
    Softplus,
    Tanh,
)

FLOAT64_SEEN: list[str] = []


def _plain(value: Any) -> Any:
    if isinstance(value, Watched):
        return value.view(np.ndarray)
    if isinstance(value, tuple | list):
        return type(value)(_plain(v) for v in value)
    return value


def _watch(name: str, result: Any) -> Any:
    if isinstance(result, tuple):
        return tuple(_watch(name, r) for r in result)
    if isinstance(result, np.ndarray):
        if result.dtype == np.float64:
            FLOAT64_SEEN.append(name)
        return result.view(Watched)
    return result


class Watched(np.ndarray):
    """An array that records every float64 array computed from it (and from what is computed from it)."""

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if "out" in kwargs:
            kwargs["out"] = _plain(kwargs["out"])
        result = getattr(ufunc, method)(*_plain(inputs), **kwargs)
        return _watch(f"{ufunc.__name__}.{method}", result)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        return _watch(func.__name__, func(*_plain(args), **{k: _plain(v) for k, v in kwargs.items()}))


def watch_params(model: Sequential) -> None:
    for layer in model:
        for name, value in layer.params.items():
            layer.params[name] = value.view(Watched)


def train_step(model: Sequential, loss: Any, optimizer: Any, x: np.ndarray, y: np.ndarray) -> None:
    FLOAT64_SEEN.clear()
    loss.forward(model.forward(x, training=True), y)
    model.backward(loss.backward())
    optimizer.step(model.params, model.grads)


HIDDEN = [ReLU, LeakyReLU, ELU, Sigmoid, Tanh, Softplus]
OPTIMIZERS = [lambda: SGD(lr=0.1), lambda: SGD(lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4, max_norm=3.0),
              lambda: Adam(weight_decay=1e-4), lambda: RMSprop(max_norm=2.0)]


@pytest.mark.parametrize("activation", HIDDEN, ids=lambda cls: cls.__name__)
@pytest.mark.parametrize("make_optimizer", OPTIMIZERS, ids=["sgd", "nesterov", "adam", "rmsprop"])
def test_a_float32_training_step_creates_no_float64_array(activation, make_optimizer):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 20)).astype(np.float32)
    y = rng.integers(0, 5, 16)
    model = Sequential([Dense(20, 32), activation(), Dropout(0.2), Dense(32, 5)], seed=0)
    watch_params(model)
    optimizer = make_optimizer()
    for _ in range(2):  # the second step also runs the optimizer's slots (velocity, moments)
        train_step(model, SoftmaxCrossEntropy(), optimizer, x, y)
        assert FLOAT64_SEEN == []
    assert all(p.dtype == np.float32 for p in model.params.values())


@pytest.mark.parametrize("loss, last", [(CrossEntropy(), Softmax()), (BinaryCrossEntropy(), None),
                                        (MeanSquaredError(), None), (MulticlassHinge(), None)],
                         ids=["crossentropy", "bce", "mse", "hinge"])
def test_every_loss_keeps_float32(loss, last):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((16, 20)).astype(np.float32)
    y = rng.integers(0, 5, 16)
    model = Sequential([Dense(20, 5), *([last] if last else [])], seed=0)
    watch_params(model)
    target = (np.eye(5, dtype=np.float32)[y]) if isinstance(loss, BinaryCrossEntropy | MeanSquaredError) else y
    train_step(model, loss, SGD(lr=0.1), x, target)
    assert FLOAT64_SEEN == []


def test_the_watch_sees_a_float64_operation():
    w = np.ones((2, 2), np.float32).view(Watched)
    FLOAT64_SEEN.clear()
    w * 0.5  # a Python float keeps float32 (NumPy 2 promotion rules)
    assert FLOAT64_SEEN == []
    w * np.ones(2)  # a float64 array does not
    np.where(w > 0, 1, 0.1)  # as LeakyReLU's derivative once was: float64 from two Python scalars
    assert FLOAT64_SEEN == ["multiply.__call__", "where"]
