"""Numerical gradient checking: verify backprop against centered differences.

For a scalar function ``L`` of an array ``w``, each entry is estimated as
``dL/dw_i ~ (L(w + eps e_i) - L(w - eps e_i)) / (2 eps)`` (error ``O(eps^2)``) and compared with the
analytic gradient by the relative error ``|a - n| / max(|a|, |n|, tiny)``. Checks run in float64;
with ``eps = 1e-4`` a correct backward typically agrees to ``1e-8`` or better, so ``tol = 1e-6``.

The numerical estimate has an absolute error of its own, about ``eps^2 |d3L/dw3| / 6`` (truncation)
plus ``ulp(L) / eps`` (rounding), typically 1e-12 to 1e-8. An entry whose true gradient is that small
(a near-cancelled sum) would show a large relative error however right backprop is, so ``tiny``
defaults to ``1e-3`` times the largest gradient magnitude in the array: an absolute error above about
``1e-9`` of the largest entry still fails the check. For log losses keep probabilities above ~0.1 in
checks: the truncation error of ``-log y`` is ``eps^2 / (3 y^2)``, relative.

Layers are checked through the scalar ``L = sum(layer(x) * G)`` with a fixed random ``G``, so that
``dL/d(output) = G`` exercises every output. Random layers (dropout) are checked with a fixed mask:
each layer's ``rng`` is rewound before every forward pass.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from mlp.nn.layer import Layer
from mlp.nn.losses import Loss

EPS = 1e-4
TOL = 1e-6
RELATIVE_FLOOR = 1e-3
TINY = 1e-12


def relative_error(analytic: np.ndarray, numeric: np.ndarray, tiny: float | None = None) -> float:
    """Largest elementwise ``|a - n| / max(|a|, |n|, tiny)`` (0.0 for empty arrays).

    ``tiny`` defaults to ``RELATIVE_FLOOR`` times the largest ``|a|`` or ``|n|`` (at least ``TINY``),
    so that entries near the numerical estimate's own error are not judged by their relative error.
    """
    a, n = np.asarray(analytic, dtype=np.float64), np.asarray(numeric, dtype=np.float64)
    if a.size == 0:
        return 0.0
    magnitude = np.maximum(np.abs(a), np.abs(n))
    if tiny is None:
        tiny = max(RELATIVE_FLOOR * float(magnitude.max()), TINY)
    return float(np.max(np.abs(a - n) / np.maximum(magnitude, tiny)))


def numerical_gradient(
    f: Callable[[], float], w: np.ndarray, eps: float = EPS, indices: Iterable[tuple[int, ...]] | None = None
) -> np.ndarray:
    """Centered-difference ``dL/dw`` where ``f()`` evaluates ``L`` and reads ``w``, perturbed in place.

    Returns an array shaped like ``w``; with ``indices`` only those entries are estimated (others 0).
    ``w`` is restored exactly after each entry.
    """
    grad = np.zeros_like(w, dtype=np.float64)
    for idx in np.ndindex(w.shape) if indices is None else indices:
        old = w[idx]
        w[idx] = old + eps
        plus = f()
        w[idx] = old - eps
        minus = f()
        w[idx] = old
        grad[idx] = (plus - minus) / (2 * eps)
    return grad


@dataclass
class GradCheckResult:
    """Max relative error per checked array (``"input"``, ``"W"``, ``"0.W"``, ...) against ``tol``."""

    errors: dict[str, float]
    tol: float = TOL

    @property
    def passed(self) -> bool:
        return all(err < self.tol for err in self.errors.values())

    def lines(self, labels: dict[str, str] | None = None) -> list[str]:
        """One line per checked array, ``0.W  Dense(2, 64)  max rel error 1.23e-09  ok`` (with its label from
        ``labels``, if any), then the verdict."""
        names = {name: f"{name}  {labels[name]}" if labels and name in labels else name for name in self.errors}
        width = max(len(name) for name in names.values())
        lines = [f"{names[name]:<{width}}  max rel error {err:.2e}  {'ok' if err < self.tol else 'FAIL'}"
                 for name, err in self.errors.items()]
        return [*lines, f"{'passed' if self.passed else 'FAILED'} (tolerance {self.tol:.0e})"]

    def __str__(self) -> str:
        return "\n".join(self.lines())


def randomize_biases(model: Layer, rng: np.random.Generator) -> None:
    """Give every bias a value of magnitude 0.1-0.5: with zero biases, a row whose hidden units are all
    off feeds exactly 0 into the next ReLU, right on its kink, where centered differences are wrong."""
    for layer in getattr(model, "layers", [model]):
        b = layer.params.get("b")
        if b is not None:
            b[:] = rng.uniform(0.1, 0.5, b.shape) * rng.choice([-1, 1], b.shape)


def _require_float64(name: str, arrays: Iterable[np.ndarray]) -> None:
    if any(a.dtype != np.float64 for a in arrays):
        raise TypeError(
            f"gradient checks need float64, but {name} holds other dtypes; "
            f"build it with dtype=np.float64 or call .astype(np.float64)"
        )


def _rewinder(layer: Layer) -> Callable[[], None]:
    """A function that rewinds every random generator in ``layer`` to its current state."""
    layers = getattr(layer, "layers", [layer])
    generators = [lay.rng for lay in layers if isinstance(getattr(lay, "rng", None), np.random.Generator)]
    saved = [(rng, rng.bit_generator.state) for rng in generators]

    def rewind() -> None:
        for rng, state in saved:
            rng.bit_generator.state = state

    return rewind


def _sample(shape: tuple[int, ...], max_entries: int | None, rng: np.random.Generator) -> list[tuple[int, ...]] | None:
    """All entries (``None``) or a random subset of at most ``max_entries`` indices."""
    size = int(np.prod(shape))
    if max_entries is None or size <= max_entries:
        return None
    flat = rng.choice(size, size=max_entries, replace=False)
    return [np.unravel_index(i, shape) for i in flat]


def _compare(
    analytic: np.ndarray, f: Callable[[], float], w: np.ndarray, eps: float, indices: list[tuple[int, ...]] | None
) -> float:
    numeric = numerical_gradient(f, w, eps, indices)
    if indices is None:
        return relative_error(analytic, numeric)
    rows = tuple(np.array(i) for i in zip(*indices, strict=True))
    return relative_error(analytic[rows], numeric[rows])


def _check(
    layer: Layer,
    x: np.ndarray,
    objective: Callable[[np.ndarray], float],
    upstream: Callable[[], np.ndarray],
    *,
    training: bool,
    eps: float,
    tol: float,
    max_entries: int | None,
    seed: int,
) -> GradCheckResult:
    """Shared driver: ``L = objective(layer.forward(x))``; analytic gradients from ``backward(upstream())``."""
    x = np.array(x, dtype=np.float64)
    _require_float64(repr(layer), layer.params.values())
    rewind = _rewinder(layer)

    def loss_value() -> float:
        rewind()
        return objective(layer.forward(x, training))

    loss_value()
    grad_x = layer.backward(upstream(), input_grad=True)
    analytic = {"input": np.array(grad_x)} | {name: g.copy() for name, g in layer.grads.items()}
    rng = np.random.default_rng(seed)
    arrays = {"input": x} | layer.params
    errors = {
        name: _compare(analytic[name], loss_value, w, eps, _sample(w.shape, max_entries, rng))
        for name, w in arrays.items()
    }
    return GradCheckResult(errors, tol)


def check_layer(
    layer: Layer,
    x: np.ndarray,
    *,
    training: bool = False,
    eps: float = EPS,
    tol: float = TOL,
    max_entries: int | None = None,
    seed: int = 0,
) -> GradCheckResult:
    """Check ``layer.backward`` w.r.t. the input ``x: (batch, in_features)`` and every parameter.

    Uses ``L = sum(layer(x) * G)`` with ``G ~ N(0, 1)`` drawn from ``seed``. ``max_entries`` limits the
    check to a random subset of entries per array (for big layers).
    """
    G = np.random.default_rng(seed).standard_normal(layer.forward(np.asarray(x, dtype=np.float64)).shape)
    return _check(
        layer, x, lambda out: float(np.sum(out * G)), lambda: G,
        training=training, eps=eps, tol=tol, max_entries=max_entries, seed=seed,
    )


def check_model(
    model: Layer,
    loss: Loss,
    x: np.ndarray,
    target: np.ndarray,
    *,
    training: bool = True,
    eps: float = EPS,
    tol: float = TOL,
    max_entries: int | None = None,
    seed: int = 0,
) -> GradCheckResult:
    """Check a whole network and loss on a batch: ``L = loss(model(x), target)``.

    Reports the input gradient and every parameter (keys as in ``model.params``). ``training=True``
    includes dropout, with its mask held fixed across evaluations.
    """
    return _check(
        model, x, lambda out: loss.forward(out, target), loss.backward,
        training=training, eps=eps, tol=tol, max_entries=max_entries, seed=seed,
    )


def check_loss(
    loss: Loss, output: np.ndarray, target: np.ndarray, weights: np.ndarray | None = None, *, eps: float = EPS,
    tol: float = TOL,
) -> GradCheckResult:
    """Check ``loss.backward`` (``dL/d(output)``) for ``output: (batch, k)`` against centered differences;
    ``weights: (batch,)`` weigh the rows (``mlp.nn.losses``)."""
    output = np.array(output, dtype=np.float64)
    loss.forward(output, target, weights)
    analytic = loss.backward().copy()
    error = _compare(analytic, lambda: loss.forward(output, target, weights), output, eps, None)
    return GradCheckResult({"output": error}, tol)
