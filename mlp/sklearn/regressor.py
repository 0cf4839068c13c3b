"""``MLPRegressor``: scikit-learn's multilayer-perceptron regressor, trained by ``mlp``."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.metrics import r2_score
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import column_or_1d, validate_data

from mlp.sklearn.base import MLPEstimator


class MLPRegressor(RegressorMixin, MLPEstimator):
    """A multilayer-perceptron regressor with scikit-learn's parameters and meanings, trained by ``mlp``.

    Parameters and attributes as ``MLPClassifier``'s (without ``classes_`` and ``class_weight``), and ``loss``:
    ``"squared_error"`` (half the squared error, identity output) or ``"poisson"`` (half the Poisson deviance,
    exponential output, for counts). ``y`` may be ``(n,)`` or ``(n, targets)``; ``predict`` gives the same shape.
    """

    _parameter_constraints: ClassVar[dict] = {**MLPEstimator._parameter_constraints,
                                    "loss": [StrOptions({"squared_error", "poisson"})]}

    def __init__(
        self,
        loss: str = "squared_error",
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
    ) -> None:
        self._keep_parameters(locals())

    def _validate_input(self, X: Any, y: Any, incremental: bool, reset: bool) -> tuple[Any, np.ndarray]:
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True, y_numeric=True,
                             dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y.reshape(len(y), -1)

    def _output_activation(self, y: np.ndarray) -> str:
        return "exp" if self.loss == "poisson" else "identity"

    def _score_outputs(self, output: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None) -> float:
        return r2_score(y, output, sample_weight=sample_weight)

    @available_if(MLPEstimator._stochastic)
    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPRegressor:
        """One epoch over ``X, y`` from where the last call left the weights and the optimizer."""
        self._validate_params()
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X: Any) -> np.ndarray:
        """The predicted values, in the dtype of ``X``: ``(n,)`` for a single output, else ``(n, targets)``."""
        output = self._forward(X)
        return output.ravel() if self.n_outputs_ == 1 else output

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags
