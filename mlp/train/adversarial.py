"""One batch's gradients, and adversarial training (Goodfellow, Shlens and Szegedy 2015, "Explaining and
harnessing adversarial examples").

A training step's gradient is ``dL/dtheta`` of the batch loss ``L(X)``. With ``Adversarial(epsilon, weight)`` the
step minimises instead

    (1 - weight) L(X) + weight L(X + epsilon sign(dL/dX))

where ``dL/dX`` comes from the same backward pass as the clean gradient (the delta recursion carried one layer
further, ``Delta @ W.T`` of the first Dense layer), and the perturbation is held fixed: its gradient is the
weighted sum of the gradients of the two losses. Of the rows whose values each differ from X's by at most
``epsilon``, the perturbed ones raise the loss the most to first order: the fast gradient sign method. The
paper trains with ``weight = 0.5``; on MNIST (pixels in [0, 1]) ``epsilon`` of 0.1 to 0.25.

Nothing in it is random (the dropout masks are the network's), so runs repeat and resume exactly, and every
micro-batch of data-parallel training is computed alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mlp.nn.losses import Loss
from mlp.nn.sequential import Sequential


@dataclass(frozen=True)
class Adversarial:
    """``epsilon > 0``: each value of a row moves by ``+-epsilon`` (in the units of the data the network sees);
    ``weight`` in (0, 1]: the share of the perturbed rows' loss in the objective."""

    epsilon: float
    weight: float = 0.5

    def __post_init__(self) -> None:
        if not (isinstance(self.epsilon, (int, float)) and math.isfinite(self.epsilon) and self.epsilon > 0):
            raise ValueError(f"epsilon must be a number > 0, got {self.epsilon!r}")
        if not (isinstance(self.weight, (int, float)) and 0 < self.weight <= 1):
            raise ValueError(f"weight must be a number in (0, 1], got {self.weight!r}")


def batch_gradients(model: Sequential, loss: Loss, x: np.ndarray, y: np.ndarray, weights: np.ndarray | None,
                    total: float | None, adversarial: Adversarial | None) -> tuple[float, np.ndarray]:
    """Fill ``model.grads`` with the gradient of the batch loss of ``x: (batch, in_features)``, targets ``y`` and
    row ``weights`` (``total``: as ``Loss.forward``), in training mode; with ``adversarial``, of its objective.

    Returns the loss (the objective's value with ``adversarial``) and the network's output for ``x: (batch, k)``,
    which the metrics count. A non-finite loss leaves the gradients as they were: training stops on it."""
    output = model.forward(x, training=True)
    value = loss.forward(output, y, weights, total)
    if not math.isfinite(value):
        return value, output
    if adversarial is None:
        model.backward(loss.backward())
        return value, output
    dx = model.backward(loss.backward(), input_grad=True)
    clean = [g * (1 - adversarial.weight) for g in model.grads.values()]
    perturbed = x + np.sign(dx) * x.dtype.type(adversarial.epsilon)
    adversarial_value = loss.forward(model.forward(perturbed, training=True), y, weights, total)
    if not math.isfinite(adversarial_value):
        return adversarial_value, output
    model.backward(loss.backward())
    for grad, part in zip(model.grads.values(), clean, strict=True):
        grad *= adversarial.weight
        grad += part
    return (1 - adversarial.weight) * value + adversarial.weight * adversarial_value, output
