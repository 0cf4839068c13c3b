"""scikit-learn estimators: ``MLPClassifier`` and ``MLPRegressor``, for Pipelines, cross-validation and grid search.

Needs the ``sklearn`` extra (``pip install scikit-learn``); ``import mlp`` does not import this module.

The parameters are stored as given and checked in ``fit``, as scikit-learn requires, by the config machinery
of ``mlp train`` (``mlp.runs.config``): they are turned into a run config (the hidden layers into ``model.layers``,
``optimizer`` and its settings into ``optimizer:``, ...) and resolved, so a bad value gets the message it gets
in a YAML file. Training is ``mlp.fit``; the network is ``model_``, a ``Sequential``::

    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from mlp.sklearn import MLPClassifier

    clf = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(64,), epochs=50, random_state=0))
    clf.fit(X_train, y_train).score(X_test, y_test)

Models are saved with ``save(path)`` and read with ``MLPClassifier.load(path)``, in ``mlp``'s model files (an
``.npz`` of arrays and JSON, no pickle); the estimators also pickle, which ``GridSearchCV(n_jobs=...)`` needs.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from mlp.arrays import finite
from mlp.data.dataset import Standardizer
from mlp.extras import require
from mlp.nn.losses import LOSSES
from mlp.nn.optim import OPTIMIZERS, Optimizer
from mlp.nn.sequential import Sequential
from mlp.runs.config import RunSpec, resolve_spec
from mlp.settings import keys_from_signature
from mlp.train.checkpoint import load_checkpoint, save_model
from mlp.train.history import History
from mlp.train.loop import fit

require("sklearn", "sklearn", "mlp.sklearn", "scikit-learn")
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.utils import check_random_state  # noqa: E402
from sklearn.utils.metaestimators import available_if  # noqa: E402
from sklearn.utils.multiclass import check_classification_targets  # noqa: E402
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data  # noqa: E402

# The optimizer settings that are parameters of their own (as in scikit-learn's MLP); the others go in
# ``optimizer_options``. Each is passed to the optimizers that take it and left out for the others.
OPTIMIZER_PARAMETERS = {"learning_rate": "lr", "momentum": "momentum", "nesterov": "nesterov",
                        "weight_decay": "weight_decay"}


class _MLPEstimator(BaseEstimator):
    """What the classifier and the regressor share: parameters, the config they make, fitting and saving."""

    _default_loss = ""

    def __init__(
        self,
        hidden_layer_sizes: Any = (100,),
        activation: str = "relu",
        init: str = "glorot_uniform",
        dropout: float = 0.0,
        loss: str | None = None,
        optimizer: str = "adam",
        learning_rate: float = 0.001,
        momentum: float = 0.9,
        nesterov: bool = True,
        weight_decay: float = 0.0,
        optimizer_options: dict[str, Any] | None = None,
        batch_size: int | str = "auto",
        epochs: int = 200,
        shuffle: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        patience: int = 10,
        class_weight: str | dict[Any, float] | None = None,
        standardize: bool = False,
        dtype: str = "float32",
        random_state: Any = None,
        verbose: int = 0,
        warm_start: bool = False,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.init = init
        self.dropout = dropout
        self.loss = loss
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.nesterov = nesterov
        self.weight_decay = weight_decay
        self.optimizer_options = optimizer_options
        self.batch_size = batch_size
        self.epochs = epochs
        self.shuffle = shuffle
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.class_weight = class_weight
        self.standardize = standardize
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start

    # -- parameters -> a run config --------------------------------------------------------------------
    def _hidden_layers(self) -> list[dict[str, Any]]:
        """``hidden_layer_sizes`` as ``model.layers`` entries: a width is a dense layer with ``activation``
        (and a dropout after it, if ``dropout``); a mapping is a layer spec in the YAML form, used as it is."""
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if isinstance(sizes, int | np.integer | Mapping) else sizes
        if not isinstance(sizes, list | tuple):
            raise ValueError(f"hidden_layer_sizes must be a width, a tuple of widths or a list of layer specs "
                             f"(e.g. (100,) or [{{'dense': 64, 'activation': 'tanh'}}]), got {sizes!r}")
        layers: list[dict[str, Any]] = []
        for size in sizes:
            if isinstance(size, Mapping):
                layers.append(dict(size))
                continue
            width = int(size) if isinstance(size, np.integer) else size
            layers.append({"dense": width, "activation": self.activation, "init": self.init})
            if self.dropout:
                layers.append({"dropout": self.dropout})
        return layers

    def _optimizer_section(self) -> dict[str, Any]:
        name = self.optimizer
        known = isinstance(name, str) and name in OPTIMIZERS
        takes = keys_from_signature(OPTIMIZERS.get(name).__init__, Optimizer.__init__) if known else {}
        section = {key: getattr(self, param) for param, key in OPTIMIZER_PARAMETERS.items() if key in takes}
        return {"name": name, **section, **(self.optimizer_options or {})}

    def _config(self, outputs: int, seed: int) -> dict[str, Any]:
        """The run config these parameters make, for a network of ``outputs`` outputs."""
        loss = self.loss if self.loss is not None else self._default_loss
        takes = LOSSES.get(loss).takes if isinstance(loss, str) and loss in LOSSES else "scores"
        last = {"dense": outputs, "activation": "softmax" if takes == "probabilities" else "linear", "init": self.init}
        batch_size = self.batch_size
        training: dict[str, Any] = {"epochs": self.epochs, "shuffle": self.shuffle,
                                    "batch_size": 1 if batch_size == "auto" else batch_size}
        if self.early_stopping:
            training["early_stopping"] = {"monitor": "val_loss", "patience": self.patience}
        return {
            "name": type(self).__name__,
            "seed": seed,
            "data": {"validation_split": self.validation_fraction if self.early_stopping else 0.0},  # the rows: fit's
            "model": {"layers": [*self._hidden_layers(), last], "dtype": self.dtype},
            "loss": loss,
            "optimizer": self._optimizer_section(),
            "training": training,
        }

    def _spec(self, outputs: int, seed: int) -> RunSpec:
        """The checked config: every bad parameter is a ``ConfigError`` (a ``ValueError``), worded as for YAML."""
        for name in ("early_stopping", "standardize", "shuffle", "warm_start", "nesterov"):
            if not isinstance(getattr(self, name), bool | np.bool_):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if self.batch_size != "auto" and (isinstance(self.batch_size, str) or self.batch_size is None):
            raise ValueError(f"batch_size must be 'auto' or an integer >= 1, got {self.batch_size!r}")
        spec = resolve_spec(self._config(outputs, seed))
        classifier = isinstance(self, ClassifierMixin)
        if spec.loss.classification != classifier:
            fitting = [name for name, cls in LOSSES.items() if cls.classification == classifier]
            raise ValueError(f"loss {spec.config['loss']} is {'not ' if classifier else ''}a classification loss; "
                             f"{type(self).__name__} takes {', '.join(fitting)}")
        return spec

    # -- fitting ---------------------------------------------------------------------------------------
    def _targets(self, y: np.ndarray, first: bool, classes: Any = None) -> np.ndarray:
        raise NotImplementedError

    def _outputs(self, y: np.ndarray) -> int:
        raise NotImplementedError

    def _class_weight(self) -> Any:
        """``class_weight`` for ``mlp.fit`` (which refuses it for a regression loss)."""
        return self.class_weight

    def _fit(self, X: Any, y: Any, sample_weight: Any, incremental: bool, classes: Any = None) -> _MLPEstimator:
        fresh = not hasattr(self, "model_") or not (incremental or self.warm_start)
        X, y = validate_data(self, X, y, reset=fresh, dtype=(np.float64, np.float32), **self._y_checks())
        weights = _check_sample_weight(sample_weight, X, dtype=np.float64) if sample_weight is not None else None
        targets = self._targets(y, fresh, classes)
        if fresh:
            self._rng = check_random_state(self.random_state)
        seed = int(self._rng.randint(np.iinfo(np.int32).max))
        spec = self._spec(self._outputs(targets), seed)
        if fresh:
            dtype = np.dtype(spec.config["model"]["dtype"])
            self.model_ = Sequential(spec.layers(X.shape[1], dtype), seed=seed)
            self.standardizer_ = Standardizer.fit(X) if self.standardize else None
            self.loss_curve_: list[float] = []
            self.history_ = History()
        if fresh or not incremental or not hasattr(self, "_optimizer"):
            self._optimizer = spec.optimizer  # a fit starts its optimizer afresh (warm_start keeps the weights)
        x = self._features(X)
        validation: tuple[Any, ...] | None = None
        if self.early_stopping and not incremental:
            x, targets, weights, validation = self._hold_out(x, targets, weights, seed)
        rows = len(x)
        batch_size = min(200, rows) if self.batch_size == "auto" else self.batch_size
        history = fit(self.model_, spec.loss, self._optimizer, x, targets, epochs=1 if incremental else self.epochs,
                      batch_size=batch_size, validation_data=validation, shuffle=self.shuffle, seed=seed,
                      callbacks=spec.callbacks, verbose=self.verbose, sample_weight=weights,
                      class_weight=self._class_weight())
        for record in history.records:
            self.history_.append(record)
        self.loss_curve_ += history["loss"]
        self.n_iter_ = len(history)
        self.loss_name_ = spec.config["loss"]
        return self

    def _y_checks(self) -> dict[str, Any]:
        raise NotImplementedError

    def _hold_out(self, x: np.ndarray, targets: np.ndarray, weights: np.ndarray | None,
                  seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, tuple[Any, ...]]:
        """``validation_fraction`` of the rows, drawn at random (by class, for a classifier), for early stopping."""
        stratify = targets if isinstance(self, ClassifierMixin) else None
        parts = [x, targets] + ([weights] if weights is not None else [])
        split = train_test_split(*parts, test_size=self.validation_fraction, random_state=seed, stratify=stratify)
        train, held = split[0::2], split[1::2]
        return train[0], train[1], train[2] if weights is not None else None, tuple(held)

    def _features(self, X: np.ndarray) -> np.ndarray:
        """``X`` in the network's dtype (every value must fit it: 1e39 is beyond float32), standardised if asked."""
        x = finite(X, next(iter(self.model_.params.values())).dtype, "X", unit="feature")
        return self.standardizer_.transform(x) if self.standardizer_ is not None else x

    def _output(self, X: Any) -> tuple[np.ndarray, np.dtype]:
        """The network's output ``(n, outputs)`` for ``X``, checked as scikit-learn checks it, and the float dtype
        ``X`` came in, in which results are returned (the network computes in its own, float32 by default)."""
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        return self.model_.predict(self._features(X)), X.dtype

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> _MLPEstimator:
        """Train on ``X: (n, features)`` and ``y`` for ``epochs`` epochs (from the weights of the last fit, with
        ``warm_start``); ``sample_weight: (n,)`` weighs the rows (``mlp.nn.sample_weights``)."""
        return self._fit(X, y, sample_weight, incremental=False)

    # -- saving ----------------------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write the fitted estimator to ``path``: an ``mlp`` model file (``.npz``, no pickle) with the network,
        the optimizer's state, the history, and the parameters and fitted attributes as JSON."""
        check_is_fitted(self, "model_")
        params = self.get_params()
        if not isinstance(params["random_state"], int | None):
            params["random_state"] = None  # a generator's state is not kept: a refit draws afresh
        names = getattr(self, "feature_names_in_", None)
        state = {
            "estimator": type(self).__name__,
            "params": _to_json(params),
            "n_features_in": self.n_features_in_,
            "feature_names_in": names.tolist() if names is not None else None,
            "standardizer": self.standardizer_.get_state() if self.standardizer_ is not None else None,
            "loss": self.loss_name_,
            "loss_curve": self.loss_curve_,
            "n_iter": self.n_iter_,
            "rng": _rng_state(self._rng),  # where the seeds of further fits and partial_fits are drawn from
            **self._saved_state(),
        }
        save_model(path, self.model_, self._optimizer, history=self.history_, extra={"sklearn": state})

    def _saved_state(self) -> dict[str, Any]:
        return {}

    @classmethod
    def load(cls, path: str | Path) -> Any:
        """The estimator ``save`` wrote to ``path``, fitted, ready to predict or to train on."""
        checkpoint = load_checkpoint(path)
        state = checkpoint.extra.get("sklearn")
        if not isinstance(state, dict) or state.get("estimator") != cls.__name__:
            what = state.get("estimator") if isinstance(state, dict) else "no scikit-learn estimator"
            raise ValueError(f"{path} holds {what}, not an {cls.__name__}; load it with the class that saved it")
        try:
            estimator = cls(**_from_json(state["params"]))
            estimator._restore(checkpoint, state)
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise ValueError(f"{path} holds an {cls.__name__} whose saved state cannot be read ({type(err).__name__}: "
                             f"{err}); save the estimator again") from None
        return estimator

    def _restore(self, checkpoint: Any, state: dict[str, Any]) -> None:
        """The fitted attributes ``save`` wrote (``state``) and the network, optimizer and history of the file."""
        self.model_, self._optimizer = checkpoint.model, checkpoint.optimizer
        self.history_ = checkpoint.history or History()
        self.n_features_in_ = int(state["n_features_in"])
        if self.n_features_in_ != self.model_.in_features:
            raise ValueError(f"{self.n_features_in_} features, but the network takes {self.model_.in_features}")
        if state["feature_names_in"] is not None:
            self.feature_names_in_ = np.asarray(state["feature_names_in"], dtype=object)
        standardizer = state["standardizer"]
        self.standardizer_ = Standardizer.from_state(standardizer) if standardizer is not None else None
        self.loss_name_ = LOSSES.canonical(state["loss"])
        self.loss_curve_, self.n_iter_ = list(state["loss_curve"]), int(state["n_iter"])
        rng = state["rng"]
        self._rng = np.random.RandomState()
        self._rng.set_state({**rng, "state": {"key": np.asarray(rng["state"]["key"], dtype=np.uint32),
                                              "pos": rng["state"]["pos"]}})
        self._load_state(state)

    def _load_state(self, state: dict[str, Any]) -> None:
        pass

    @property
    def _loss(self) -> Any:
        return LOSSES.get(self.loss_name_)()


class MLPClassifier(ClassifierMixin, _MLPEstimator):
    """A multilayer-perceptron classifier trained by ``mlp``.

    Parameters:
        hidden_layer_sizes: the widths of the hidden layers, ``(100,)`` as in scikit-learn, or a list of layer
            specs in the YAML form (``[{"dense": 64, "activation": "tanh"}, {"dropout": 0.2}]``).
        activation, dropout: of each hidden layer given as a width (a dropout layer after it if ``dropout > 0``).
        init: the weights' initializer (``mlp.nn.init``) of those layers and the output layer; ``glorot_uniform``
            (default) is scikit-learn's choice, ``he_normal`` that of ``mlp train``.
        loss: ``softmax_cross_entropy`` (default), ``binary_crossentropy`` (two classes, one output),
            ``categorical_crossentropy`` (a softmax output layer) or ``multiclass_hinge`` (no ``predict_proba``).
        optimizer: ``adam`` (default), ``sgd``, ``rmsprop``; ``learning_rate``, ``momentum``, ``nesterov``,
            ``weight_decay`` are passed to the optimizers that take them; ``optimizer_options`` holds the others
            (``{"beta2": 0.99}``).
        batch_size: ``"auto"`` is ``min(200, rows)``, as in scikit-learn.
        epochs, shuffle: passes over the data, reshuffled every epoch.
        early_stopping, validation_fraction, patience: hold out that fraction of the rows (stratified) and stop
            when the validation loss has not improved for ``patience`` epochs, keeping the best weights.
        class_weight: ``None``, ``"balanced"`` or ``{class label: weight}``.
        standardize: standardise the features with mean and std fitted on the training rows.
        dtype: ``"float32"`` (default) or ``"float64"``, the network's floats.
        random_state: an int makes ``fit`` reproducible (weights, shuffling, dropout, validation split).
        verbose: 0 silent, 1 a progress bar and a line per epoch, 2 lines only.
        warm_start: ``fit`` continues from the weights of the previous fit.

    Attributes: ``classes_``, ``n_features_in_``, ``feature_names_in_`` (for data frames), ``model_`` (the
    ``Sequential``), ``history_`` (``mlp.History`` of every epoch trained), ``loss_curve_`` (its training
    losses), ``n_iter_`` (epochs of the last call), ``standardizer_``.
    """

    _default_loss = "softmax_cross_entropy"

    def _y_checks(self) -> dict[str, Any]:
        return {}

    def _targets(self, y: np.ndarray, first: bool, classes: Any = None) -> np.ndarray:
        """Class indices into ``classes_`` (set by the first fit, or by ``classes`` of the first ``partial_fit``)."""
        check_classification_targets(y)
        if first:
            labels = np.unique(y) if classes is None else np.unique(np.asarray(classes))
            if len(labels) < 2:
                raise ValueError(f"{type(self).__name__} needs at least 2 classes in y, got 1 class: "
                                 f"{labels.tolist()[0]!r}")
            self.classes_ = labels
        unknown = np.setdiff1d(np.unique(y), self.classes_)
        if len(unknown):
            raise ValueError(f"y holds labels the estimator does not know: {unknown.tolist()[:5]}; classes are "
                             f"{self.classes_.tolist()}")
        return np.searchsorted(self.classes_, y).astype(np.int64)

    def _outputs(self, y: np.ndarray) -> int:
        loss = self.loss if self.loss is not None else self._default_loss
        binary = isinstance(loss, str) and loss in LOSSES and LOSSES.get(loss).binary
        return 1 if binary and len(self.classes_) == 2 else len(self.classes_)

    def _class_weight(self) -> Any:
        if not isinstance(self.class_weight, Mapping):
            return self.class_weight
        unknown = [label for label in self.class_weight if label not in self.classes_]
        if unknown:
            raise ValueError(f"class_weight names class {unknown[0]!r}, which y does not have; classes are "
                             f"{self.classes_.tolist()}")
        return {int(np.searchsorted(self.classes_, label)): weight for label, weight in self.class_weight.items()}

    def partial_fit(self, X: Any, y: Any, classes: Any = None, sample_weight: Any = None) -> MLPClassifier:
        """One epoch over ``X, y``, from where the last call left the weights and the optimizer. The first call
        needs ``classes``, every label there will be (as in scikit-learn), unless ``y`` has them all."""
        first = not hasattr(self, "model_")
        if not first and classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(f"classes {np.unique(classes).tolist()} differ from those of the first call, "
                             f"{self.classes_.tolist()}")
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def predict(self, X: Any) -> np.ndarray:
        """The class label of each row ``(n,)``."""
        output, _ = self._output(X)
        return self.classes_[self._loss.predicted_classes(output)]

    def _has_probabilities(self) -> bool:
        """Whether the loss defines class probabilities (the multiclass hinge has margins only)."""
        loss = getattr(self, "loss_name_", None) or self.loss or self._default_loss
        cls = LOSSES.get(loss) if isinstance(loss, str) and loss in LOSSES else None
        return cls is not None and (cls.takes == "probabilities" or cls.applies is not None)

    @available_if(_has_probabilities)
    def predict_proba(self, X: Any) -> np.ndarray:
        """The probability of each class ``(n, classes)``, columns in the order of ``classes_``."""
        output, dtype = self._output(X)
        return self._loss.class_probabilities(output).astype(dtype, copy=False)

    @available_if(_has_probabilities)
    def predict_log_proba(self, X: Any) -> np.ndarray:
        """``log(predict_proba(X))``."""
        with np.errstate(divide="ignore"):  # a probability of 0 is log 0 = -inf
            return np.log(self.predict_proba(X))

    def _saved_state(self) -> dict[str, Any]:
        dtype = "object" if self.classes_.dtype == object else self.classes_.dtype.str
        return {"classes": self.classes_.tolist(), "classes_dtype": dtype}

    def _load_state(self, state: dict[str, Any]) -> None:
        self.classes_ = np.asarray(state["classes"], dtype=np.dtype(state["classes_dtype"]))
        outputs = self.model_.output_size(self.n_features_in_)
        if self.classes_.ndim != 1 or not (outputs == len(self.classes_) or (outputs, len(self.classes_)) == (1, 2)):
            raise ValueError(f"{len(self.classes_)} classes, but the network has {outputs} outputs")

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = False
        return tags


class MLPRegressor(RegressorMixin, _MLPEstimator):
    """A multilayer-perceptron regressor trained by ``mlp``, with the squared error (``loss="mse"``).

    Parameters and attributes as ``MLPClassifier``'s (``class_weight`` is for classifiers: a regressor refuses
    one; weigh rows with ``sample_weight``), without ``classes_``; ``y`` may be
    ``(n,)`` or ``(n, targets)``, and ``predict`` gives the same shape.
    """

    _default_loss = "mse"

    def _y_checks(self) -> dict[str, Any]:
        return {"multi_output": True, "y_numeric": True}

    def _targets(self, y: np.ndarray, first: bool, classes: Any = None) -> np.ndarray:
        if first:
            self._single_output = y.ndim == 1
        return y

    def _outputs(self, y: np.ndarray) -> int:
        return 1 if y.ndim == 1 else y.shape[1]

    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPRegressor:
        """One epoch over ``X, y``, from where the last call left the weights and the optimizer."""
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X: Any) -> np.ndarray:
        """The predicted values: ``(n,)`` for a model fitted on ``(n,)`` targets, else ``(n, targets)``."""
        output, dtype = self._output(X)
        return (output[:, 0] if self._single_output else output).astype(dtype, copy=False)

    def _saved_state(self) -> dict[str, Any]:
        return {"single_output": self._single_output}

    def _load_state(self, state: dict[str, Any]) -> None:
        self._single_output = state["single_output"]

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


def _to_json(params: dict[str, Any]) -> dict[str, Any]:
    """Parameters as JSON keeps them: tuples become lists, and a ``class_weight`` mapping (whose keys may be
    numbers, which JSON turns into strings) a list of ``[label, weight]`` pairs."""
    params = copy.deepcopy(params)
    weights = params.get("class_weight")
    if isinstance(weights, Mapping):
        params["class_weight"] = {"pairs": [[_plain(k), v] for k, v in weights.items()]}
    return params


def _from_json(params: dict[str, Any]) -> dict[str, Any]:
    weights = params.get("class_weight")
    if isinstance(weights, dict) and "pairs" in weights:
        params["class_weight"] = {label: weight for label, weight in weights["pairs"]}
    sizes = params.get("hidden_layer_sizes")
    if isinstance(sizes, list) and all(isinstance(size, int) for size in sizes):
        params["hidden_layer_sizes"] = tuple(sizes)
    return params


def _rng_state(rng: np.random.RandomState) -> dict[str, Any]:
    state = rng.get_state(legacy=False)
    return {**state, "state": {"key": state["state"]["key"].tolist(), "pos": state["state"]["pos"]}}


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
