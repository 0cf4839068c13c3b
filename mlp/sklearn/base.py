"""What ``MLPClassifier`` and ``MLPRegressor`` share: scikit-learn's parameters (declared as data), the network,
the two kinds of solver, predicting and saving.

The network is an ``mlp`` ``Sequential`` (``model_``) whose Dense layers hold ``coefs_[i]: (fan_in, fan_out)`` and
``intercepts_[i]: (fan_out,)`` themselves: the same arrays, so what one shows the other holds. The stochastic
solvers (``adam``, ``sgd``) are ``mlp.fit`` with scikit-learn's L2 term and stopping rule as callbacks
(``mlp.sklearn.stopping``); ``lbfgs`` is SciPy's L-BFGS-B on the same network (``mlp.sklearn.lbfgs``).
"""

from __future__ import annotations

import warnings
from itertools import pairwise
from numbers import Integral, Real
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, is_classifier
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from mlp.arrays import SparseRows, finite
from mlp.data.dataset import Standardizer
from mlp.nn.activations import Identity, ReLU, Sigmoid, Tanh
from mlp.nn.dense import Dense
from mlp.nn.dropout import Dropout
from mlp.nn.layer import Layer
from mlp.nn.losses import BinaryCrossEntropy, HalfSquaredError, Loss, PoissonDeviance, SoftmaxCrossEntropy
from mlp.nn.optim import SGD, Adam, Optimizer
from mlp.nn.sequential import Sequential
from mlp.sklearn import lbfgs
from mlp.sklearn.convergence import not_converged
from mlp.sklearn.persistence import restore_state, save_state
from mlp.sklearn.stopping import StoppingRule
from mlp.train.checkpoint import load_checkpoint, save_model
from mlp.train.loop import DivergenceError, fit

ACTIVATIONS: dict[str, type[Layer]] = {"identity": Identity, "logistic": Sigmoid, "tanh": Tanh, "relu": ReLU}
STOCHASTIC_SOLVERS = ("sgd", "adam")
NON_FINITE = ("Solver produced non-finite parameter weights. The input data may contain large values and need to "
              "be preprocessed.")


class MLPEstimator(BaseEstimator):
    """The parameters and the training of both estimators (``MLPClassifier``'s docstring describes them)."""

    _parameter_constraints: ClassVar[dict] = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "solver": [StrOptions({"lbfgs", *STOCHASTIC_SOLVERS})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), Options(Real, {np.inf})],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        # mlp's own
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "max_norm": [None, Interval(Real, 0, None, closed="neither")],
        "dtype": [None, StrOptions({"float32", "float64"})],
        "standardize": ["boolean"],
    }

    def _keep_parameters(self, values: dict[str, Any]) -> None:
        """Store the parameters as given (``values``: the ``__init__``'s ``locals()``), as scikit-learn requires:
        they are checked in ``fit``. Each estimator lists its parameters in its own ``__init__``, where scikit-learn
        reads them (``get_params``, ``clone``)."""
        for name, value in values.items():
            if name != "self":
                setattr(self, name, value)

    # -- what the subclasses say ------------------------------------------------------------------------
    def _validate_input(self, X: Any, y: Any, incremental: bool, reset: bool) -> tuple[Any, np.ndarray]:
        """``X`` checked and ``y`` as the network's targets ``(n, n_outputs)``."""
        raise NotImplementedError

    def _output_activation(self, y: np.ndarray) -> str:
        raise NotImplementedError

    def _row_weights(self, y: Any, sample_weight: np.ndarray | None) -> np.ndarray | None:
        return sample_weight

    # -- the network -----------------------------------------------------------------------------------
    def _loss(self) -> Loss:
        """The loss of ``out_activation_``: softmax and cross-entropy, sigmoid and binary cross-entropy summed over
        the outputs, half the squared error summed over the outputs, or the Poisson deviance (log link)."""
        kind = self.out_activation_
        if kind == "softmax":
            return SoftmaxCrossEntropy()
        if kind == "logistic":
            return BinaryCrossEntropy(outputs="sum")
        return PoissonDeviance() if kind == "exp" else HalfSquaredError()

    @property
    def model_(self) -> Sequential:
        """The network, an ``mlp`` ``Sequential`` over ``coefs_`` and ``intercepts_`` (rebuilt if those were
        replaced): Dense, activation (and Dropout) for each hidden layer, then the output Dense layer, whose
        activation the loss applies (``out_activation_``)."""
        if "coefs_" not in self.__dict__:
            raise AttributeError("model_: the estimator is not fitted yet; call fit first")
        model = self.__dict__.get("_model")
        dense = [layer for layer in model if isinstance(layer, Dense)] if model is not None else []
        linked = len(dense) == len(self.coefs_) and all(
            layer.params["W"] is w and layer.params["b"] is b
            for layer, w, b in zip(dense, self.coefs_, self.intercepts_, strict=True))
        if not linked:
            self._model = model = self._build(self.coefs_, self.intercepts_)
        return model

    def _build(self, coefs: list[Any], intercepts: list[Any]) -> Sequential:
        """A network holding ``coefs`` and ``intercepts`` (converted to one float dtype, in place in the lists)."""
        dtype = np.result_type(*[np.asarray(w).dtype for w in coefs], np.float32)
        layers: list[Layer] = []
        for i, (w, b) in enumerate(zip(coefs, intercepts, strict=True)):
            coefs[i] = w = np.ascontiguousarray(w, dtype=dtype)
            intercepts[i] = b = np.ascontiguousarray(np.reshape(b, -1), dtype=dtype)
            dense = Dense(w.shape[0], w.shape[1], dtype=dtype, rng=0)
            dense.params["W"], dense.params["b"] = w, b
            dense.grads = {"W": np.zeros_like(w), "b": np.zeros_like(b)}
            layers.append(dense)
            if i < len(coefs) - 1:
                layers.append(ACTIVATIONS[self.activation]())
                if self.dropout:
                    layers.append(Dropout(self.dropout))
        return Sequential(layers)

    def _initialize(self, y: np.ndarray, layer_units: list[int], dtype: np.dtype) -> None:
        """The fitted attributes of a first fit, and scikit-learn's initial weights: each layer's weights and biases
        uniform in ``+-sqrt(6 / (fan_in + fan_out))`` (``sqrt(2 / ...)`` for logistic units; Glorot and Bengio
        2010), drawn from ``random_state`` in scikit-learn's order, so the same seed starts from the same network."""
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = y.shape[1]
        self.n_layers_ = len(layer_units)
        self.out_activation_ = self._output_activation(y)
        coefs, intercepts = [], []
        factor = 2.0 if self.activation == "logistic" else 6.0
        for fan_in, fan_out in pairwise(layer_units):
            bound = np.sqrt(factor / (fan_in + fan_out))
            coefs.append(self._random_state.uniform(-bound, bound, (fan_in, fan_out)).astype(dtype))
            intercepts.append(self._random_state.uniform(-bound, bound, fan_out).astype(dtype))
        self._model = self._build(coefs, intercepts)
        self.coefs_, self.intercepts_ = coefs, intercepts
        self._best_coefs = [c.copy() for c in self.coefs_]
        self._best_intercepts = [i.copy() for i in self.intercepts_]
        if self.solver in STOCHASTIC_SOLVERS:
            self.loss_curve_: list[float] = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_: list[float] | None = []
                self.best_validation_score_: float | None = -np.inf
                self.best_loss_: float | None = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.best_validation_score_ = None

    # -- fitting ---------------------------------------------------------------------------------------
    def _fit(self, X: Any, y: Any, sample_weight: Any = None, incremental: bool = False) -> MLPEstimator:
        sizes = self.hidden_layer_sizes
        sizes = list(sizes) if hasattr(sizes, "__iter__") else [sizes]
        if np.any(np.array(sizes) <= 0):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
        if self.dropout and self.solver == "lbfgs":
            raise ValueError("dropout needs a stochastic solver ('adam' or 'sgd'): lbfgs needs the same loss at "
                             "every evaluation; set dropout=0 or solver='adam'")
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X, targets = self._validate_input(X, y, incremental, reset=first_pass)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
        sample_weight = self._row_weights(y, sample_weight)
        self._random_state = check_random_state(self.random_state)
        if first_pass:
            dtype = np.dtype(self.dtype) if self.dtype is not None else X.dtype
            self._initialize(targets, [X.shape[1], *sizes, targets.shape[1]], dtype)
            self.standardizer_ = None
            if self.standardize:
                if hasattr(X, "toarray"):
                    raise ValueError("standardize=True needs dense X: centring would fill a sparse matrix; "
                                     "scale it with sklearn.preprocessing.MaxAbsScaler instead")
                self.standardizer_ = Standardizer.fit(np.asarray(X, dtype=np.float64))
        elif targets.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {targets.shape[1]} outputs, but the network was fitted with {self.n_outputs_}; "
                             f"fit it anew (warm_start=False)")
        model = self.model_
        dtype = self.coefs_[0].dtype
        x = self._network_input(X, dtype)
        targets = targets.astype(dtype, copy=False)
        if self.solver == "lbfgs":
            self._fit_lbfgs(model, x, targets, sample_weight)
        else:
            self._fit_stochastic(model, x, targets, y, sample_weight, incremental)
        if not all(np.isfinite(w).all() for w in [*self.coefs_, *self.intercepts_]):
            raise ValueError(NON_FINITE)
        return self

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> Any:
        """Train on ``X: (n, features)`` (dense, or sparse CSR/CSC) and ``y``: class labels ``(n,)`` or an indicator
        matrix ``(n, classes)`` (multilabel) for a classifier, targets ``(n,)`` or ``(n, targets)`` for a regressor;
        ``sample_weight: (n,)`` weighs the rows. With ``warm_start`` from the weights of the last fit."""
        self._validate_params()
        return self._fit(X, y, sample_weight, incremental=False)

    def _stochastic(self) -> bool:
        """Whether ``partial_fit`` exists: for the stochastic solvers only, as in scikit-learn."""
        if self.solver not in STOCHASTIC_SOLVERS:
            raise AttributeError(f"partial_fit is only available for stochastic optimizers. {self.solver} is not "
                                 f"stochastic.")
        return True

    def _network_input(self, X: Any, dtype: np.dtype) -> Any:
        """``X`` as the network takes it: standardised if asked, in the network's dtype; sparse ``X`` as
        ``SparseRows``, densified a batch at a time."""
        if hasattr(X, "toarray"):
            return finite(SparseRows(X), dtype, "X", unit="feature")
        x = np.asarray(X)
        if getattr(self, "standardizer_", None) is not None:
            x = self.standardizer_.transform(x.astype(np.float64))
        return finite(x, dtype, "X", unit="feature")  # 1e39 is beyond float32: named, not made inf

    def _fit_lbfgs(self, model: Sequential, x: Any, targets: np.ndarray, sample_weight: np.ndarray | None) -> None:
        objective = lbfgs.Objective(model, self._loss(), [*self.coefs_, *self.intercepts_], x, targets,
                                    sample_weight, self.alpha)
        result = lbfgs.minimize(objective, self.max_iter, self.max_fun, self.tol, bool(self.verbose))
        self.n_iter_ = min(int(result.nit), self.max_iter)
        self.loss_ = float(result.fun) * self._reported_loss_scale()

    def _reported_loss_scale(self) -> float:
        """scikit-learn reports the squared error averaged over the outputs (it minimises their sum)."""
        return 1 / self.n_outputs_ if self.out_activation_ == "identity" else 1.0

    def _optimizer_for(self) -> Optimizer:
        if self.solver == "sgd":
            return SGD(lr=self.learning_rate_init, momentum=self.momentum,
                       nesterov=bool(self.nesterovs_momentum and self.momentum > 0), max_norm=self.max_norm)
        return Adam(lr=self.learning_rate_init, beta1=self.beta_1, beta2=self.beta_2, eps=self.epsilon,
                    max_norm=self.max_norm)

    def _fit_stochastic(self, model: Sequential, x: Any, targets: np.ndarray, y: Any,
                        sample_weight: np.ndarray | None, incremental: bool) -> None:
        """``mlp.fit`` for up to ``max_iter`` epochs (one for ``partial_fit``), scikit-learn's stopping rule run after
        each (``StoppingRule``)."""
        if not incremental or not hasattr(self, "_optimizer"):
            self._optimizer = self._optimizer_for()
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        validation = self._validation_split(x, targets, sample_weight) if self.early_stopping else None
        if validation is not None:
            x, targets, sample_weight = validation[0], validation[1], validation[2]
        rows = len(targets)
        if self.batch_size == "auto":
            batch_size = min(200, rows)
        else:
            if self.batch_size > rows:
                warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going to be clipped",
                              stacklevel=3)
            batch_size = int(np.clip(self.batch_size, 1, rows))
        rule = StoppingRule(self, rows, validation)
        seed = int(self._random_state.randint(np.iinfo(np.int32).max))  # the epochs' orders and dropout masks
        self.n_iter_ = 0  # of this call
        if self.out_activation_ == "softmax":  # one class per row: its index, which the loss takes without one-hot rows
            targets = targets.argmax(axis=1)
        try:
            history = fit(model, self._loss(), self._optimizer, x, targets, epochs=1 if incremental else self.max_iter,
                          batch_size=batch_size, shuffle=self.shuffle, seed=seed, callbacks=[rule.penalty, rule],
                          verbose=0, sample_weight=sample_weight)
        except DivergenceError as err:  # the epoch gave no usable network: recorded, and training ends
            self.n_iter_ += 1
            self.t_ += rows
            self.loss_ = float("nan")
            self.loss_curve_.append(self.loss_)
            if validation is None:
                raise ValueError(f"{NON_FINITE} ({err})") from None
            self.validation_scores_.append(float("nan"))
        else:
            if history.ending.status == "interrupted":
                warnings.warn("Training interrupted by user.", stacklevel=3)
            elif not incremental and self.n_iter_ == self.max_iter:
                not_converged(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                              f"optimization hasn't converged yet.")
        if validation is not None:  # the best weights, in the arrays the network holds
            for current, best in zip([*self.coefs_, *self.intercepts_], [*self._best_coefs, *self._best_intercepts],
                                     strict=True):
                current[...] = best

    def _validation_split(self, x: Any, targets: np.ndarray, sample_weight: np.ndarray | None) -> tuple[Any, ...]:
        """``validation_fraction`` of the rows held out (stratified for a single-output classifier), as
        scikit-learn draws them: ``(x, targets, weights)`` to train on, then ``(x, y, weights)`` to score."""
        # the 0/1 targets as booleans, as scikit-learn stratifies them (its messages name the classes so)
        stratify = targets.astype(bool) if is_classifier(self) and self.n_outputs_ == 1 else None
        rows = np.arange(len(targets))
        parts = [rows, targets] + ([sample_weight] if sample_weight is not None else [])
        split = train_test_split(*parts, random_state=self._random_state, test_size=self.validation_fraction,
                                 stratify=stratify)
        train_rows, held_rows = split[0], split[1]
        if len(held_rows) < 2:
            raise ValueError("The validation set is too small. Increase 'validation_fraction' or the size of your "
                             "dataset.")
        weights = (split[4], split[5]) if sample_weight is not None else (None, None)
        y_held = self._target_values(targets[held_rows])
        return x[train_rows], targets[train_rows], weights[0], x[held_rows], y_held, weights[1]

    def _target_values(self, targets: np.ndarray) -> np.ndarray:
        """The ``y`` that ``targets`` encode (class labels for a classifier), for scoring."""
        return targets

    def _validation_score(self, x: Any, y: np.ndarray, sample_weight: np.ndarray | None) -> float:
        with np.errstate(over="ignore", invalid="ignore"):
            output = self._outputs(x)
        if not np.isfinite(output).all():
            return float("nan")
        return float(self._score_outputs(output, y, sample_weight))

    def _score_outputs(self, output: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None) -> float:
        """The validation score of early stopping for the network's ``output``: accuracy, R^2."""
        raise NotImplementedError

    # -- predicting ------------------------------------------------------------------------------------
    def _outputs(self, x: Any) -> np.ndarray:
        """The network's output ``(n, n_outputs)`` after the output activation (``out_activation_``), for rows
        already in the network's form (``_network_input``)."""
        model, loss = self.model_, self._loss()
        if isinstance(x, SparseRows):
            scores = np.vstack([model.predict(x.dense(slice(start, start + 1024))) for start in range(0, len(x), 1024)])
        else:
            scores = model.predict(x)
        probabilities = loss.probabilities(scores)
        return probabilities if probabilities is not None else loss.predictions(scores)

    def _forward(self, X: Any) -> np.ndarray:
        """The output for new rows ``X: (n, n_features_in_)``, checked as scikit-learn checks them."""
        check_is_fitted(self, "coefs_")
        X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False, dtype=(np.float64, np.float32))
        return self._outputs(self._network_input(X, self.coefs_[0].dtype))

    # -- saving ----------------------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write the fitted estimator to ``path``: an ``mlp`` model file (``.npz``, no pickle) holding the network,
        the optimizer's state and, as JSON, the parameters and fitted attributes."""
        check_is_fitted(self, "coefs_")
        save_model(path, self.model_, getattr(self, "_optimizer", None), extra={"sklearn": save_state(self)})

    @classmethod
    def load(cls, path: str | Path) -> Any:
        """The estimator ``save`` wrote to ``path``, fitted, ready to predict or to train on."""
        checkpoint = load_checkpoint(path)
        return restore_state(cls, checkpoint, path)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags
