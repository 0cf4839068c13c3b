"""scikit-learn's rules around each epoch of ``mlp.fit``, as callbacks: the L2 term ``alpha`` (``L2Penalty``) and the
stopping rule with its learning-rate schedules (``StoppingRule``).

- ``alpha`` is scikit-learn's L2 term, ``(alpha / 2) sum ||W||^2 / n_batch`` added to each batch's loss: the
  gradient of every weight matrix gets ``+ alpha W / n_batch`` (``n_batch``: the batch's rows, or the sum of its
  sample weights);
- after each epoch the training loss (or, with ``early_stopping``, the validation score) is compared with the best
  so far; ``n_iter_no_change`` epochs in a row without an improvement of ``tol`` stop training, or with
  ``learning_rate="adaptive"`` (sgd) divide the learning rate by 5, until it is at most 1e-6;
- ``learning_rate="invscaling"`` (sgd): ``lr = learning_rate_init / (t + 1) ** power_t`` after each epoch, ``t``
  the samples seen (``t_``).

The counts and best values are the estimator's attributes (``_no_improvement_count``, ``best_loss_``,
``best_validation_score_``, ...), as in scikit-learn, so that ``partial_fit`` carries them from call to call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from mlp.train.callbacks.callback import Callback, TrainingState

if TYPE_CHECKING:
    from mlp.sklearn.base import MLPEstimator

SMALLEST_ADAPTIVE_RATE = 1e-6  # "adaptive" stops dividing the learning rate at this, as scikit-learn does


class L2Penalty(Callback):
    """scikit-learn's ``alpha`` during ``mlp.fit``: before each batch the optimizer's weight decay becomes
    ``alpha / n_batch`` (the gradient of ``(alpha / 2) ||W||^2 / n_batch``), and the term's value is added up for
    the epoch's loss as scikit-learn reports it (``sum over batches of term * rows``, later divided by the rows)."""

    def __init__(self, alpha: float) -> None:
        self.alpha = alpha
        self.total = 0.0

    def on_batch_begin(self, state: TrainingState) -> None:
        if not self.alpha or not state.batch_weight:
            return
        state.optimizer.weight_decay = self.alpha / state.batch_weight
        squares = sum(float(np.dot(w.ravel(), w.ravel())) for w in state.model.params.values() if w.ndim == 2)
        self.total += 0.5 * self.alpha * squares / state.batch_weight * state.batch_rows

    def take(self) -> float:
        """The epoch's sum, and a fresh start for the next."""
        total, self.total = self.total, 0.0
        return total


class StoppingRule(Callback):
    """scikit-learn's bookkeeping after each epoch of ``mlp.fit``: ``n_iter_``, ``t_``, ``loss_`` (with the L2 term),
    ``loss_curve_``, the validation score, the count of epochs without improvement, the ``invscaling`` learning
    rate, and the stop (or, with ``adaptive``, a fifth of the learning rate) after ``n_iter_no_change`` of them.

    ``validation``: with early stopping, ``(..., x_val, y_val, w_val)`` (``MLPEstimator._validation_split``)."""

    def __init__(self, estimator: MLPEstimator, rows: int, validation: tuple[Any, ...] | None) -> None:
        self.estimator, self.rows, self.validation = estimator, rows, validation
        self.penalty = L2Penalty(estimator.alpha)

    def on_epoch_end(self, state: TrainingState, logs: dict[str, Any]) -> None:
        est = self.estimator
        est.n_iter_ += 1
        est.t_ += self.rows
        est.loss_ = logs["loss"] * est._reported_loss_scale() + self.penalty.take() / self.rows
        est.loss_curve_.append(est.loss_)
        if est.verbose:
            print(f"Iteration {est.n_iter_}, loss = {est.loss_:.8f}")
        self._count_no_improvement()
        if est.solver == "sgd" and est.learning_rate == "invscaling":
            state.optimizer.lr = est.learning_rate_init / (est.t_ + 1) ** est.power_t
        if est._no_improvement_count > est.n_iter_no_change:
            if self._stops(state):
                state.stop, state.stop_reason = True, "no improvement"
            else:
                est._no_improvement_count = 0

    def _count_no_improvement(self) -> None:
        """One more epoch without an improvement of ``tol`` (or the count back to 0), and the best so far."""
        est = self.estimator
        if self.validation is not None:
            score = est._validation_score(*self.validation[3:])
            est.validation_scores_.append(score)
            if est.verbose:
                print(f"Validation score: {score:f}")
            if score < est.best_validation_score_ + est.tol:
                est._no_improvement_count += 1
            else:
                est._no_improvement_count = 0
            if score > est.best_validation_score_:
                est.best_validation_score_ = score
                est._best_coefs = [c.copy() for c in est.coefs_]
                est._best_intercepts = [i.copy() for i in est.intercepts_]
            return
        if not est.loss_curve_[-1] <= est.best_loss_ - est.tol:  # NaN counts as no improvement
            est._no_improvement_count += 1
        else:
            est._no_improvement_count = 0
        if est.loss_curve_[-1] < est.best_loss_:
            est.best_loss_ = est.loss_curve_[-1]

    def _stops(self, state: TrainingState) -> bool:
        """``n_iter_no_change`` epochs without improvement: stop, or with ``learning_rate="adaptive"`` (sgd) divide
        the learning rate by 5 and go on, until it is at most 1e-6."""
        est, optimizer = self.estimator, state.optimizer
        what = "Validation score" if est.early_stopping else "Training loss"
        message = (f"{what} did not improve more than tol={est.tol:f} for {est.n_iter_no_change} consecutive "
                   f"epochs.")
        if est.solver != "sgd" or est.learning_rate != "adaptive":
            if est.verbose:
                print(message + " Stopping.")
            return True
        if optimizer.lr <= SMALLEST_ADAPTIVE_RATE:
            if est.verbose:
                print(message + " Learning rate too small. Stopping.")
            return True
        optimizer.lr /= 5.0
        if est.verbose:
            print(message + f" Setting learning rate to {optimizer.lr:f}")
        return False
