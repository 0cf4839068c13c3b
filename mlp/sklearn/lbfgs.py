"""The ``lbfgs`` solver: SciPy's L-BFGS-B on the network's parameters flattened into one vector, as
scikit-learn's MLP does it.

The objective is the loss over all the rows plus the L2 term, ``L(theta) + (alpha / 2) sum ||W||^2 / n`` (``n``:
the rows, or the sum of their weights); its gradient comes from the network's own backward pass (no autograd).
The rows go through the network ``CHUNK`` at a time, each chunk's loss and gradients scaled to the whole batch
(``Loss.forward(..., total=n)``), so a large or sparse ``X`` is never densified whole.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.optimize

from mlp.nn.losses import Loss
from mlp.nn.sequential import Sequential
from mlp.sklearn.convergence import not_converged

CHUNK = 4096  # rows per forward/backward pass; any size gives the same sums up to rounding


class Objective:
    """``theta -> (value, gradient)`` of a network, a loss and the rows ``x: (n, features)``, targets ``y: (n, k)``.

    ``params`` are the network's arrays in the order ``theta`` packs them (scikit-learn's: every weight matrix,
    then every bias); they are overwritten in place with each ``theta``, so the network always holds the last.
    """

    def __init__(self, model: Sequential, loss: Loss, params: list[np.ndarray], x: Any, y: np.ndarray,
                 sample_weight: np.ndarray | None, alpha: float) -> None:
        self.model, self.loss, self.params = model, loss, params
        self.x, self.y, self.w, self.alpha = x, y, sample_weight, alpha
        self.total = float(len(y)) if sample_weight is None else float(sample_weight.sum())
        self.grads = {id(p): g for p, g in zip(model.params.values(), model.grads.values(), strict=True)}

    def pack(self) -> np.ndarray:
        return np.concatenate([p.ravel() for p in self.params]).astype(np.float64)

    def unpack(self, theta: np.ndarray) -> None:
        start = 0
        for p in self.params:
            p[...] = theta[start : start + p.size].reshape(p.shape)
            start += p.size

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        self.unpack(theta)
        value = 0.0
        gradient = [np.zeros(p.shape, dtype=np.float64) for p in self.params]
        with np.errstate(over="ignore", invalid="ignore"):
            for start in range(0, len(self.y), CHUNK):
                rows = slice(start, start + CHUNK)
                part = self.x[rows] if isinstance(self.x, np.ndarray) else self.x.dense(rows)  # a view, or densified
                output = self.model.forward(part, training=True)
                weights = self.w[rows] if self.w is not None else None
                value += self.loss.forward(output, self.y[rows], weights, total=self.total)
                self.model.backward(self.loss.backward())
                for g, p in zip(gradient, self.params, strict=True):
                    g += self.grads[id(p)]
        squares = 0.0
        for g, p in zip(gradient, self.params, strict=True):
            if p.ndim == 2:  # weights, not biases: the gradient of (alpha / 2) ||W||^2 / n
                squares += float(np.dot(p.ravel(), p.ravel()))
                g += (self.alpha / self.total) * p
        value += 0.5 * self.alpha * squares / self.total
        return value, np.concatenate([g.ravel() for g in gradient])


def minimize(objective: Objective, max_iter: int, max_fun: int, tol: float,
             verbose: bool) -> scipy.optimize.OptimizeResult:
    """Run L-BFGS-B from the network's weights to at most ``max_iter`` iterations and ``max_fun`` evaluations, until
    the largest gradient entry is at most ``tol``; the network ends holding the result. A ConvergenceWarning says
    when it stopped on a limit, as scikit-learn's does."""
    iteration = 0

    def report(theta: np.ndarray) -> None:
        nonlocal iteration
        iteration += 1
        print(f"Iteration {iteration}, loss = {objective(theta)[0]:.8f}")

    result = scipy.optimize.minimize(objective, objective.pack(), method="L-BFGS-B", jac=True,
                                     callback=report if verbose else None,
                                     options={"maxfun": max_fun, "maxiter": max_iter, "gtol": tol})
    objective.unpack(result.x)
    if result.status != 0:
        message = result.message.decode() if isinstance(result.message, bytes) else result.message
        not_converged(f"lbfgs failed to converge after {result.nit} iteration(s) (status={result.status}): "
                      f"{message}. Increase the number of iterations (max_iter) or scale the data as shown in "
                      f"https://scikit-learn.org/stable/modules/preprocessing.html")
    return result
