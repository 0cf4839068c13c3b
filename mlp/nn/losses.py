"""Losses: ``forward(output, target, weights=None) -> mean loss``, ``backward() -> dL/d(output)``.

The loss is the mean over the batch, ``L = (1/N) sum_n loss(Y[n], T[n])``, or with per-row weights ``w``
the weighted mean ``L = sum_n w_n loss(Y[n], T[n]) / sum_n w_n``. The ``1/N`` (or ``w_n / sum w``) lives in
exactly one place, ``Loss._mean`` and ``Loss._rows`` below, used by every loss. ``backward`` gives the output
delta that starts the backward pass (``docs/backprop.md`` §2); for the matched pairs below it has the form
``(Y - T) / N``, and with weights ``w_n (Y_n - T_n) / sum w``: each row's delta carries its weight.

Targets may be class labels ``(batch,)`` (integers, converted to one-hot ``T``) or arrays shaped like
the output (one-hot, soft labels or real values); a ``(batch,)`` target fits a ``(batch, 1)`` output.

L2 weight decay is not a loss term here: it is applied by the optimizers (``weight_decay=``), as the
gradient ``lambda W`` of ``(lambda / 2) ||W||^2``.
"""

from __future__ import annotations

import numpy as np

from mlp.nn import functional as F
from mlp.nn.layer import ShapeError
from mlp.nn.sample_weights import row_weights
from mlp.registry import Registry


def as_target_matrix(output: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Bring ``target`` to ``output``'s shape and dtype.

    ``output: (batch, k)``; ``target``: integer labels ``(batch,)`` (one-hot encoded when ``k > 1``),
    ``(batch,)`` values when ``k == 1``, or an array of shape ``(batch, k)``.
    """
    target = np.asarray(target)
    if output.ndim != 2:
        raise ShapeError(f"the network output must be 2-D (batch, outputs), got shape {output.shape}")
    if target.shape[:1] != output.shape[:1]:
        raise ShapeError(
            f"target has {target.shape[0] if target.ndim else 0} rows but the output has {output.shape[0]}; "
            f"give one target per input row"
        )
    if target.ndim == 1 and output.shape[1] > 1:
        if not np.issubdtype(target.dtype, np.integer):
            raise ValueError(
                f"a 1-D target for {output.shape[1]} outputs must hold integer class labels, got {target.dtype}; "
                f"convert labels with .astype(int) or pass a (batch, {output.shape[1]}) array"
            )
        return F.one_hot(target, output.shape[1], dtype=output.dtype)
    if target.ndim == 1:
        target = target[:, None]
    if target.shape != output.shape:
        raise ShapeError(f"target shape {target.shape} does not match the output shape {output.shape}")
    return target.astype(output.dtype, copy=False)


def class_labels(output: np.ndarray, target: np.ndarray) -> np.ndarray | None:
    """``target`` as checked class labels ``(batch,)`` when it is 1-D integer labels for ``output: (batch, k)`` with
    ``k > 1`` (what ``as_target_matrix`` would one-hot encode), else ``None``."""
    target = np.asarray(target)
    if (output.ndim != 2 or output.shape[1] < 2 or target.ndim != 1 or len(target) != len(output)
            or target.dtype.kind not in "iu"):
        return None
    return F.check_labels(target, output.shape[1])


# The names configs use; each loss registers itself below (``@LOSSES.register``).
LOSSES: Registry[type[Loss]] = Registry("loss")

class Loss:
    """Base class: ``forward(output, target) -> float`` (batch mean), ``backward() -> dL/d(output)``.

    What a loss takes, said by the loss itself (config validation, the builders and ``mlp evaluate`` read it):

    Attributes:
        classification: whether outputs are class scores, so that accuracy is meaningful; then
            ``predict_labels(output)`` and ``target_labels(target)`` give what accuracy compares.
        takes: what the network's last layer must give it: ``"scores"`` (raw scores, logits: no activation
            on the last layer), ``"probabilities"`` (a softmax's output) or ``"values"`` (any output).
        applies: the activation the loss applies to the scores itself (``"softmax"``, ``"sigmoid"``), or ``None``.
        binary: whether one output may stand for two classes (the probability of class 1).
    """

    classification = True
    takes = "scores"
    applies: str | None = None
    binary = False
    # How a row's entries make the row's loss: summed over the classes (cross-entropy, hinge) or averaged
    # over the outputs (``"mean"``: binary cross-entropy and squared error treat each output on its own).
    row_reduction = "sum"
    _total: float = 1.0
    _w: np.ndarray | None = None

    def _weigh(self, output: np.ndarray, weights: np.ndarray | None, total: float | None) -> None:
        """Set what each row counts for in the batch loss: ``1/N`` (``1/(N k)`` for a ``"mean"`` row reduction),
        or ``w_n / sum w`` (over ``k`` too). Weights of 1 give the unweighted loss to the last bit; a batch
        whose weights are all 0 has loss and delta 0. ``total`` replaces ``N`` (or ``sum w``) when the rows are
        a part of a larger batch (``mlp.train.parallel``): then the losses and deltas of the parts add up to the
        batch's."""
        n, k = output.shape
        per_row = k if self.row_reduction == "mean" else 1
        self._w = row_weights(weights, n).astype(output.dtype)[:, None] if weights is not None else None
        if total is not None:
            self._total = total * per_row
        elif self._w is None:
            self._total = n * per_row
        else:
            self._total = float(self._w.sum(dtype=np.float64)) * per_row

    def _mean(self, entries: np.ndarray) -> float:
        """The batch loss from the loss of each entry ``(batch, k)``: the (weighted) mean over the rows."""
        if self._w is not None:
            entries = entries * self._w
        return float(entries.sum() / self._total) if self._total else 0.0

    def _rows(self, grad: np.ndarray) -> np.ndarray:
        """The output delta from the derivative of each entry's loss ``(batch, k)``: each row scaled as ``_mean``
        counts it."""
        if self._w is not None:
            grad = grad * self._w
        return grad / self._total if self._total else grad * 0

    def predict_labels(self, output: np.ndarray) -> np.ndarray:
        """Predicted classes ``(batch,)``: the highest-scoring output of each row."""
        return output.argmax(axis=1)

    def probabilities(self, output: np.ndarray) -> np.ndarray | None:
        """Class probabilities for the network's ``output``, or ``None`` where the loss defines none
        (margins, regression). The output itself, for losses that take probabilities."""
        return None

    def predicted_classes(self, output: np.ndarray) -> np.ndarray:
        """Class indices ``(batch,)``: the loss's decision for a single output (a probability of class 1),
        the highest-scoring output otherwise."""
        if output.shape[1] == 1:
            return self.predict_labels(output).reshape(-1).astype(np.int64)
        return output.argmax(axis=1)

    def class_probabilities(self, output: np.ndarray) -> np.ndarray | None:
        """``(batch, classes)`` probabilities of each class where the loss defines them: for a single output
        (the probability ``p`` of class 1) the two columns ``1 - p, p``."""
        probabilities = self.probabilities(output)
        if probabilities is not None and probabilities.shape[1] == 1:
            probabilities = np.hstack([1 - probabilities, probabilities])
        return probabilities

    def predictions(self, output: np.ndarray) -> np.ndarray:
        """What a regression loss predicts from the network's ``output: (batch, k)``: the output itself, or
        its inverse link (``PoissonDeviance``: ``exp``)."""
        return output

    def target_labels(self, target: np.ndarray) -> np.ndarray:
        """True classes ``(batch,)`` from labels or one-hot rows."""
        target = np.asarray(target)
        return target if target.ndim == 1 else target.argmax(axis=1)

    def forward(self, output: np.ndarray, target: np.ndarray, weights: np.ndarray | None = None,
                total: float | None = None) -> float:
        """The batch loss for ``output: (batch, k)`` and ``target``; ``weights: (batch,)`` weigh the rows;
        ``total``: the weight of the whole batch these rows are a part of (its rows, or the sum of its weights)."""
        raise NotImplementedError

    def backward(self) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, output: np.ndarray, target: np.ndarray, weights: np.ndarray | None = None,
                 total: float | None = None) -> float:
        return self.forward(output, target, weights, total)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


@LOSSES.register("softmax_cross_entropy")
class SoftmaxCrossEntropy(Loss):
    """Softmax and cross-entropy fused, on logits ``Z: (batch, classes)``.

    ``L = -(1/N) sum_n sum_j T_nj log softmax(Z_n)_j`` with a log-sum-exp stable ``log_softmax``;
    ``dL/dZ = (Y rowsum(T) - T) / N`` with ``Y = softmax(Z)``: for targets whose rows sum to 1 (labels,
    one-hot or soft labels) the ``(Y - T) / N`` output delta. Rows that sum to something else (multi-hot
    targets) keep the general form, which is the true gradient of ``L`` for them.

    Integer labels ``t: (batch,)`` are not one-hot encoded: ``T_nj`` is 1 only at ``j = t_n``, so the loss picks
    ``log softmax(Z_n)_{t_n}`` and the delta subtracts 1 there, the same numbers without the ``(batch, classes)`` T.
    """

    applies = "softmax"
    _labels: np.ndarray | None = None

    def forward(self, output: np.ndarray, target: np.ndarray, weights: np.ndarray | None = None,
                total: float | None = None) -> float:
        labels = class_labels(output, target)
        T = as_target_matrix(output, target) if labels is None else None
        self._weigh(output, weights, total)
        log_y = F.log_softmax(output)
        self._y, self._t, self._labels = np.exp(log_y), T, labels
        if labels is not None:
            self._row_sums = None
            return self._mean(-log_y[np.arange(len(labels)), labels][:, None])
        # d/dZ_nk of -sum_j T_nj (Z_nj - logsumexp(Z_n)) is Y_nk sum_j T_nj - T_nk: the sum is 1 for
        # distributions, and only then may it be left out.
        sums = T.sum(axis=1, keepdims=True)
        self._row_sums = None if np.all(sums == 1) else sums
        return self._mean(-(T * log_y))

    def backward(self) -> np.ndarray:
        if self._labels is not None:
            delta = self._y.copy()
            delta[np.arange(len(self._labels)), self._labels] -= 1
            return self._rows(delta)
        y = self._y if self._row_sums is None else self._y * self._row_sums
        return self._rows(y - self._t)

    def probabilities(self, output: np.ndarray) -> np.ndarray:
        return F.softmax(output)


@LOSSES.register("categorical_crossentropy")
class CrossEntropy(Loss):
    """Cross-entropy on probabilities ``Y: (batch, classes)``, e.g. the output of a ``Softmax`` layer.

    ``L = -(1/N) sum_n sum_j T_nj log(clip(Y_nj, eps, 1))`` (Keras' ``categorical_crossentropy``);
    ``dL/dY = -T / (N Y)`` where ``Y`` is not clipped, 0 where it is. After a ``Softmax`` layer this
    chains to the same ``(Y - T) / N`` as ``SoftmaxCrossEntropy``, which is faster and more precise.
    """

    takes = "probabilities"

    def __init__(self, eps: float = 1e-7) -> None:
        if not 0 < eps < 1:
            raise ValueError(f"CrossEntropy eps must be in (0, 1), got {eps}")
        self.eps = eps

    def forward(self, output: np.ndarray, target: np.ndarray, weights: np.ndarray | None = None,
                total: float | None = None) -> float:
        T = as_target_matrix(output, target)
        self._weigh(output, weights, total)
        y = np.clip(output, self.eps, 1.0)
        self._y, self._t, self._inside = y, T, (output >= self.eps) & (output <= 1.0)
        return self._mean(-(T * np.log(y)))

    def backward(self) -> np.ndarray:
        return self._rows(-(self._t / self._y) * self._inside)

    def probabilities(self, output: np.ndarray) -> np.ndarray:
        return output


@LOSSES.register("binary_crossentropy")
class BinaryCrossEntropy(Loss):
    """Binary cross-entropy on logits ``Z: (batch, k)`` with 0/1 targets (k independent outputs).

    ``L = mean over all N*k entries of softplus(Z) - T Z``  (= ``-T log s - (1-T) log(1-s)``,
    ``s = sigmoid(Z)``, computed without forming ``log s``); ``dL/dZ = (sigmoid(Z) - T) / (N k)``.
    With ``outputs="sum"`` the k outputs' losses are added, not averaged: ``dL/dZ = (sigmoid(Z) - T) / N``.
    """

    applies = "sigmoid"
    binary = True
    row_reduction = "mean"

    def __init__(self, outputs: str = "mean") -> None:
        # scikit-learn's multilabel loss sums over the outputs (each label a loss of its own, so the gradient of
        # a label does not shrink as labels are added); Keras' and PyTorch's average them.
        if outputs not in ("mean", "sum"):
            raise ValueError(f"BinaryCrossEntropy outputs must be 'mean' or 'sum', got {outputs!r}")
        self.row_reduction = outputs

    def forward(self, output: np.ndarray, target: np.ndarray, weights: np.ndarray | None = None,
                total: float | None = None) -> float:
        T = as_target_matrix(output, target)
        self._weigh(output, weights, total)
        self._z, self._t = output, T
        return self._mean(F.softplus(output) - T * output)

    def backward(self) -> np.ndarray:
        return self._rows(F.sigmoid(self._z) - self._t)

    def predict_labels(self, output: np.ndarray) -> np.ndarray:
        """``(batch, k)`` 0/1 decisions: logit > 0, i.e. probability > 0.5 (accuracy is per entry)."""
        return (output > 0).astype(np.int8)

    def target_labels(self, target: np.ndarray) -> np.ndarray:
        target = np.asarray(target)
        return (target.reshape(len(target), -1) >= 0.5).astype(np.int8)

    def probabilities(self, output: np.ndarray) -> np.ndarray:
        """The probability of class 1 for each output: ``sigmoid(Z)``."""
        return F.sigmoid(output)


@LOSSES.register("mse")
class MeanSquaredError(Loss):
    """Mean squared error on ``Y: (batch, k)``: ``L = mean over all N*k entries of (Y - T)^2``.

    ``dL/dY = 2 (Y - T) / (N k)``.
    """

    classification = False
    takes = "values"
    row_reduction = "mean"

    def forward(self, output: np.ndarray, target: np.ndarray, weights: np.ndarray | None = None,
                total: float | None = None) -> float:
        self._diff = output - as_target_matrix(output, target)
        self._weigh(output, weights, total)
        return self._mean(self._diff * self._diff)

    def backward(self) -> np.ndarray:
        return self._rows(2 * self._diff)


@LOSSES.register("half_squared_error")
class HalfSquaredError(Loss):
    """Half the squared error, summed over the outputs, on ``Y: (batch, k)``:
    ``L = (1/N) sum_n (1/2) sum_k (Y_nk - T_nk)^2``, the error function of the classic derivation
    (``docs/backprop.md``) and scikit-learn's ``squared_error``; ``dL/dY = (Y - T) / N``.
    """

    classification = False
    takes = "values"

    def forward(self, output: np.ndarray, target: np.ndarray, weights: np.ndarray | None = None,
                total: float | None = None) -> float:
        self._diff = output - as_target_matrix(output, target)
        self._weigh(output, weights, total)
        return self._mean(0.5 * self._diff * self._diff)

    def backward(self) -> np.ndarray:
        return self._rows(self._diff)


@LOSSES.register("poisson")
class PoissonDeviance(Loss):
    """Half the Poisson deviance with a log link, for counts (or rates) ``T >= 0`` and log-rates ``Z: (batch, k)``:
    ``L = (1/N) sum_n sum_k exp(Z) - T Z + T log T - T`` (the last two terms make a perfect fit 0, as in
    scikit-learn's ``poisson``); ``dL/dZ = (exp(Z) - T) / N``. The prediction is the rate ``exp(Z)``.
    """

    classification = False
    takes = "scores"
    applies = "exp"

    def forward(self, output: np.ndarray, target: np.ndarray, weights: np.ndarray | None = None,
                total: float | None = None) -> float:
        T = as_target_matrix(output, target)
        if (T < 0).any():
            raise ValueError(f"the poisson loss takes targets >= 0 (counts or rates), got {T.min():g}; use "
                             f"another loss (half_squared_error) for targets that can be negative")
        self._weigh(output, weights, total)
        self._rate, self._t = np.exp(output), T
        safe = np.where(T > 0, T, 1)  # T log T is 0 at T = 0
        return self._mean(self._rate - T * output + T * np.log(safe) - T)

    def backward(self) -> np.ndarray:
        return self._rows(self._rate - self._t)

    def predictions(self, output: np.ndarray) -> np.ndarray:
        return np.exp(output)


@LOSSES.register("multiclass_hinge")
class MulticlassHinge(Loss):
    """Multiclass SVM loss on scores ``S: (batch, classes)`` (cs231n / Weston-Watkins form; config name
    ``multiclass_hinge``).

    ``L = (1/N) sum_n sum_{j != y_n} max(0, S_nj - S_ny + 1)``. With ``M_nj = 1`` where that margin is
    positive: ``dL/dS_nj = M_nj / N`` for ``j != y_n`` and ``dL/dS_ny = -sum_j M_nj / N``.
    Targets are class labels or one-hot rows: for soft targets the margins are not defined.

    Relatives: PyTorch's ``MultiMarginLoss()`` is this divided by the number of classes; Keras'
    ``categorical_hinge`` is the Crammer-Singer form ``max(0, 1 + max_{j != y} S_j - S_y)`` (the largest
    margin only), and Keras' ``hinge`` is binary, on targets -1 or +1.
    """

    def forward(self, output: np.ndarray, target: np.ndarray, weights: np.ndarray | None = None,
                total: float | None = None) -> float:
        T = as_target_matrix(output, target)
        self._weigh(output, weights, total)
        if not (np.all((T == 0) | (T == 1)) and np.all(T.sum(axis=1) == 1)):
            raise ValueError("MulticlassHinge takes class labels or one-hot rows (a single 1 per row); soft or "
                             "multi-hot targets have no margin to enforce")
        correct = (output * T).sum(axis=1, keepdims=True)
        margins = np.maximum(output - correct + 1, 0) * (1 - T)
        self._active = (margins > 0).astype(output.dtype)
        self._t = T
        return self._mean(margins)

    def backward(self) -> np.ndarray:
        counts = self._active.sum(axis=1, keepdims=True)
        return self._rows(self._active - self._t * counts)


# Other names configs may use for them (Keras' where it has one).
LOSSES.alias("bce", "binary_crossentropy")
LOSSES.alias("mean_squared_error", "mse")
LOSSES.alias("cross_entropy", "categorical_crossentropy")
