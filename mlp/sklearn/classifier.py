"""``MLPClassifier``: scikit-learn's multilayer-perceptron classifier, trained by ``mlp``."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import compute_sample_weight
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import type_of_target, unique_labels
from sklearn.utils.validation import column_or_1d, validate_data

from mlp.sklearn.base import MLPEstimator


class MLPClassifier(ClassifierMixin, MLPEstimator):
    """A multilayer-perceptron classifier with scikit-learn's parameters and meanings, trained by ``mlp``.

    Change ``from sklearn.neural_network import MLPClassifier`` to ``from mlp.sklearn import MLPClassifier`` and
    the code runs as it did: the parameters, their defaults, the fitted attributes, ``partial_fit``,
    ``warm_start``, multilabel ``y`` (an indicator matrix), sparse ``X`` and the stopping rule are
    scikit-learn's (``docs/sklearn.md`` lists what differs).

    Parameters (scikit-learn's):
        hidden_layer_sizes: ``(100,)``: the widths of the hidden layers.
        activation: ``"identity" | "logistic" | "tanh" | "relu"`` of the hidden layers.
        solver: ``"adam"`` (default), ``"sgd"``, or ``"lbfgs"`` (SciPy's L-BFGS-B on all the weights at once).
        alpha: the L2 term ``(alpha / 2) ||W||^2 / n_batch`` of each batch's loss.
        batch_size: ``"auto"`` is ``min(200, n_samples)``.
        learning_rate: ``"constant" | "invscaling" | "adaptive"``, sgd's schedule; ``learning_rate_init``;
            ``power_t`` for invscaling (``lr = learning_rate_init / (t + 1) ** power_t``, ``t`` samples seen).
        max_iter, tol, n_iter_no_change: at most ``max_iter`` epochs (lbfgs: iterations, ``max_fun`` loss
            evaluations); stop when the loss has not improved by ``tol`` for ``n_iter_no_change`` epochs.
        shuffle, random_state, verbose, warm_start, momentum, nesterovs_momentum, early_stopping,
        validation_fraction, beta_1, beta_2, epsilon, max_fun: as in scikit-learn.
    ``mlp``'s own (their defaults keep scikit-learn's behaviour):
        dropout: the dropout rate after each hidden layer (stochastic solvers).
        max_norm: cap the norm of each unit's incoming weights after every step (Srivastava et al. 2014).
        dtype: ``"float32"`` or ``"float64"``, the network's floats; ``None`` (default) follows ``X``, as
            scikit-learn does: float32 ``X`` trains in float32, about twice as fast.
        standardize: standardise the features with the mean and std of the first fit's rows.
        class_weight: ``None``, ``"balanced"`` or ``{label: weight}``: multiplies the rows' sample weights.

    Attributes (scikit-learn's): ``classes_``, ``loss_``, ``best_loss_``, ``loss_curve_``, ``validation_scores_``,
    ``best_validation_score_``, ``t_``, ``coefs_`` (weights ``(fan_in, fan_out)`` per layer), ``intercepts_``,
    ``n_features_in_``, ``feature_names_in_``, ``n_iter_``, ``n_layers_``, ``n_outputs_``, ``out_activation_``;
    and ``model_``, the ``mlp`` ``Sequential`` holding ``coefs_`` and ``intercepts_``.
    """

    _parameter_constraints: ClassVar[dict] = {**MLPEstimator._parameter_constraints,
                                    "class_weight": [None, dict, StrOptions({"balanced"})]}

    def __init__(
        self,
        hidden_layer_sizes: Any = (100,),
        activation: str = "relu",
        *,
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size: int | str = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: Any = None,
        tol: float = 1e-4,
        verbose: bool | int = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int | float = 10,
        max_fun: int = 15000,
        dropout: float = 0.0,
        max_norm: float | None = None,
        dtype: str | None = None,
        standardize: bool = False,
        class_weight: str | dict[Any, float] | None = None,
    ) -> None:
        self._keep_parameters(locals())

    def _validate_input(self, X: Any, y: Any, incremental: bool, reset: bool) -> tuple[Any, np.ndarray]:
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(f"warm_start can only be used where `y` has the same classes as in the "
                                     f"previous call to fit. Previously got {self.classes_}, `y` has {classes}")
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has {self.classes_}. "
                                 f"'y' has {classes}.")
        return X, self._label_binarizer.transform(y).astype(np.float64)

    def _row_weights(self, y: Any, sample_weight: np.ndarray | None) -> np.ndarray | None:
        if self.class_weight is None:
            return sample_weight
        if self._label_binarizer.y_type_.startswith("multilabel"):
            raise ValueError("class_weight is for one class per row; weigh multilabel rows with sample_weight")
        unknown = [label for label in self.class_weight if label not in self.classes_] \
            if isinstance(self.class_weight, dict) else []
        if unknown:
            raise ValueError(f"class_weight names class {unknown[0]!r}, which y does not have; classes are "
                             f"{self.classes_.tolist()}")
        weights = compute_sample_weight(self.class_weight, np.asarray(y).reshape(-1))
        return weights * sample_weight if sample_weight is not None else weights

    def _output_activation(self, y: np.ndarray) -> str:
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _target_values(self, targets: np.ndarray) -> np.ndarray:
        return self._label_binarizer.inverse_transform(targets)

    def _labels(self, output: np.ndarray) -> np.ndarray:
        return self._label_binarizer.inverse_transform(output.ravel() if self.n_outputs_ == 1 else output)

    def _score_outputs(self, output: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None) -> float:
        return accuracy_score(y, self._labels(output), sample_weight=sample_weight)

    @available_if(MLPEstimator._stochastic)
    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None, classes: Any = None) -> MLPClassifier:
        """One epoch over ``X, y`` from where the last call left the weights and the optimizer. The first call
        needs ``classes``, every label there will be, unless ``y`` is an indicator matrix."""
        self._validate_params()
        if not hasattr(self, "classes_"):
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit.")
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y if type_of_target(y).startswith("multilabel") else classes)
            self.classes_ = self._label_binarizer.classes_
        elif classes is not None and not np.array_equal(unique_labels(classes), self.classes_):
            raise ValueError(f"`classes={unique_labels(classes)!r}` is not the same as on last call to partial_fit, "
                             f"was: {self.classes_!r}")
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X: Any) -> np.ndarray:
        """The class of each row ``(n,)`` (an indicator matrix ``(n, classes)`` for a multilabel fit)."""
        return self._labels(self._forward(X))

    def predict_proba(self, X: Any) -> np.ndarray:
        """The probability of each class ``(n, classes)``, columns in the order of ``classes_`` (multilabel: of
        each label on its own)."""
        output = self._forward(X)
        return np.hstack([1 - output, output]) if self.n_outputs_ == 1 else output

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """``log(predict_proba(X))``."""
        probabilities = self.predict_proba(X)
        with np.errstate(divide="ignore"):  # a probability of 0 is log 0 = -inf
            return np.log(probabilities, out=probabilities)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags
