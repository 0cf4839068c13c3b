"""Activation layers ``Z = f(A)``.

Elementwise activations pass the gradient back as ``dL/dA = f'(A) * dL/dZ`` (``docs/backprop.md`` §3).
Each class states ``f`` and ``f'``; where ``f'`` is cheapest from the output (sigmoid ``s(1 - s)``,
tanh ``1 - t^2``, ReLU ``Z > 0``) it is computed from the cached output instead of the input. ReLU, the
activation of most hidden layers, computes both passes with ``mlp.native.vector`` (on MKL's threads where MKL
makes the products).
``Softmax`` is row-wise, so its backward is a Jacobian-vector product instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlp.native import vector
from mlp.nn import functional as F
from mlp.nn.layer import LAYERS, Layer


class Activation(Layer):
    """Elementwise activation: ``Z = f(A)``, backward ``dL/dA = f'(A) * dL/dZ``; shapes ``(batch, n)``.

    Subclasses implement ``f(a)`` and ``df(a, z)`` (the derivative, given input ``a`` and output ``z``); one whose
    product ``f'(A) * dL/dZ`` has a cheaper form overrides ``input_gradient``.
    """

    def __init__(self) -> None:
        super().__init__()
        self._a: np.ndarray | None = None
        self._z: np.ndarray | None = None

    def f(self, a: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def df(self, a: np.ndarray, z: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._a = x
        self._z = self.f(x)
        return self._z

    def backward(self, grad_out: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        if not input_grad:
            return None
        if self._a is None:
            raise RuntimeError(f"{self!r}.backward called before forward")
        return self.input_gradient(self._a, self._z, grad_out)

    def input_gradient(self, a: np.ndarray, z: np.ndarray, grad_out: np.ndarray) -> np.ndarray:
        """``dL/dA = f'(A) * dL/dZ`` from the input ``a``, the output ``z`` and ``grad_out = dL/dZ``."""
        return self.df(a, z) * grad_out


@LAYERS.register("linear", "identity")
class Identity(Activation):
    """``f(a) = a``, ``f'(a) = 1``: a linear output (regression with ``MeanSquaredError``)."""

    def f(self, a: np.ndarray) -> np.ndarray:
        return a

    def df(self, a: np.ndarray, z: np.ndarray) -> np.ndarray:
        return np.ones_like(a)

    def input_gradient(self, a: np.ndarray, z: np.ndarray, grad_out: np.ndarray) -> np.ndarray:
        # f' is 1: the gradient passes unchanged, without multiplying by an array of ones.
        return grad_out


@LAYERS.register("relu")
class ReLU(Activation):
    """``f(a) = max(0, a)``; ``f'(a) = 1`` where ``a > 0``, else 0: the gradient is passed or blocked."""

    def f(self, a: np.ndarray) -> np.ndarray:
        return vector.relu(a)

    def df(self, a: np.ndarray, z: np.ndarray) -> np.ndarray:
        return z > 0

    def input_gradient(self, a: np.ndarray, z: np.ndarray, grad_out: np.ndarray) -> np.ndarray:
        return vector.relu_backward(z, grad_out)  # (z > 0) * grad_out


@LAYERS.register("leaky_relu")
class LeakyReLU(Activation):
    """``f(a) = a`` for ``a > 0``, ``alpha * a`` otherwise; ``f'(a) = 1`` or ``alpha``."""

    def __init__(self, alpha: float = 0.01) -> None:
        super().__init__()
        if not alpha >= 0:
            raise ValueError(f"LeakyReLU alpha must be >= 0, got {alpha}")
        self.alpha = float(alpha)

    def f(self, a: np.ndarray) -> np.ndarray:
        return np.where(a > 0, a, self.alpha * a)

    def df(self, a: np.ndarray, z: np.ndarray) -> np.ndarray:
        one, alpha = a.dtype.type(1), a.dtype.type(self.alpha)  # in a's dtype: no float64 temporary
        return np.where(a > 0, one, alpha)

    def get_config(self) -> dict[str, Any]:
        return {"alpha": self.alpha}


@LAYERS.register("elu")
class ELU(Activation):
    """``f(a) = a`` for ``a > 0``, ``alpha * (exp(a) - 1)`` otherwise; ``f'(a) = 1`` or ``alpha * exp(a)``.

    ``alpha * exp(a)`` equals ``z + alpha``, but that sum cancels for very negative ``a`` (``z`` is then
    ``-alpha`` to within rounding), losing every digit by ``a = -40``; ``exp(a)`` keeps them.
    """

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__()
        if not alpha > 0:
            raise ValueError(f"ELU alpha must be > 0, got {alpha}")
        self.alpha = float(alpha)

    def f(self, a: np.ndarray) -> np.ndarray:
        # expm1 only sees a <= 0, so large positive inputs cannot overflow.
        return np.where(a > 0, a, self.alpha * np.expm1(np.minimum(a, 0)))

    def df(self, a: np.ndarray, z: np.ndarray) -> np.ndarray:
        one, alpha = a.dtype.type(1), a.dtype.type(self.alpha)  # in a's dtype: no float64 temporary
        return np.where(a > 0, one, alpha * np.exp(np.minimum(a, 0)))

    def get_config(self) -> dict[str, Any]:
        return {"alpha": self.alpha}


@LAYERS.register("sigmoid")
class Sigmoid(Activation):
    """``s = 1 / (1 + exp(-a))`` (stable two-branch form); ``f'(a) = s (1 - s)``."""

    def f(self, a: np.ndarray) -> np.ndarray:
        return F.sigmoid(a)

    def df(self, a: np.ndarray, z: np.ndarray) -> np.ndarray:
        return z * (1 - z)


@LAYERS.register("tanh")
class Tanh(Activation):
    """``t = tanh(a)``; ``f'(a) = 1 - t^2``."""

    def f(self, a: np.ndarray) -> np.ndarray:
        return np.tanh(a)

    def df(self, a: np.ndarray, z: np.ndarray) -> np.ndarray:
        return 1 - z * z


@LAYERS.register("softplus")
class Softplus(Activation):
    """``f(a) = log(1 + exp(a))`` (stable); ``f'(a) = sigmoid(a)``."""

    def f(self, a: np.ndarray) -> np.ndarray:
        return F.softplus(a)

    def df(self, a: np.ndarray, z: np.ndarray) -> np.ndarray:
        return F.sigmoid(a)


@LAYERS.register("softmax")
class Softmax(Activation):
    """Row-wise ``s_j = exp(a_j) / sum_k exp(a_k)`` for ``a: (batch, classes)``.

    Backward is the Jacobian-vector product ``dL/dA = s * (g - sum(g * s, axis=1))`` with
    ``g = dL/dS``: the Jacobian ``diag(s) - s s^T`` of each row applied without forming it.
    For training, prefer logits + ``SoftmaxCrossEntropy``, which fuses both and is cheaper.
    """

    def f(self, a: np.ndarray) -> np.ndarray:
        return F.softmax(a)

    def backward(self, grad_out: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        if not input_grad:
            return None
        if self._z is None:
            raise RuntimeError(f"{self!r}.backward called before forward")
        s = self._z
        return s * (grad_out - (grad_out * s).sum(axis=1, keepdims=True))


def activation_names() -> list[str]:
    """The names of the registered activations (``"linear"`` first; ``"identity"`` is its alias)."""
    return [name for name, cls in LAYERS.items() if issubclass(cls, Activation)]
