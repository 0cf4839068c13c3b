"""An estimator in an ``mlp`` model file: the network and optimizer as ``save_model`` writes them, and the
parameters and fitted attributes as JSON (no pickle). ``save_state`` / ``restore_state`` turn one into the other."""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.preprocessing import LabelBinarizer

from mlp.data.dataset import Standardizer
from mlp.nn.dense import Dense
from mlp.train.checkpoint import Checkpoint

# The fitted attributes kept as JSON values (numbers, lists, strings; an infinity as the string "inf").
FITTED = ("n_features_in_", "n_iter_", "t_", "n_outputs_", "n_layers_", "out_activation_", "loss_", "loss_curve_",
          "best_loss_", "validation_scores_", "best_validation_score_", "_no_improvement_count")


def save_state(estimator: Any) -> dict[str, Any]:
    """The parameters and fitted attributes of ``estimator`` as JSON values."""
    params = copy.deepcopy(estimator.get_params())
    if not isinstance(params["random_state"], int | None):
        params["random_state"] = None  # a generator's state is not kept: scikit-learn draws afresh at each fit too
    weights = params.get("class_weight")
    if isinstance(weights, Mapping):  # JSON keys are strings: the labels keep their type as pairs
        params["class_weight"] = {"pairs": [[_plain(k), v] for k, v in weights.items()]}
    state: dict[str, Any] = {"estimator": type(estimator).__name__, "params": _plain(params)}
    state["fitted"] = {name: _plain(getattr(estimator, name)) for name in FITTED if hasattr(estimator, name)}
    names = getattr(estimator, "feature_names_in_", None)
    state["feature_names_in"] = names.tolist() if names is not None else None
    standardizer = getattr(estimator, "standardizer_", None)
    state["standardizer"] = standardizer.get_state() if standardizer is not None else None
    binarizer = getattr(estimator, "_label_binarizer", None)
    if binarizer is not None:
        classes = binarizer.classes_
        dtype = "object" if classes.dtype == object else classes.dtype.str
        state["classes"] = {"values": _plain(classes), "dtype": dtype, "y_type": binarizer.y_type_}
    return state


def restore_state(cls: type, checkpoint: Checkpoint, path: str | Path) -> Any:
    """The estimator of class ``cls`` that ``save_state`` described, with the network and optimizer of the file."""
    state = checkpoint.extra.get("sklearn")
    if not isinstance(state, dict) or state.get("estimator") != cls.__name__:
        what = state.get("estimator") if isinstance(state, dict) else "no scikit-learn estimator"
        raise ValueError(f"{path} holds {what}, not an {cls.__name__}; load it with the class that saved it")
    try:
        params = dict(state["params"])
        if isinstance(params.get("class_weight"), dict) and "pairs" in params["class_weight"]:
            params["class_weight"] = {label: weight for label, weight in params["class_weight"]["pairs"]}
        if isinstance(params.get("hidden_layer_sizes"), list):
            params["hidden_layer_sizes"] = tuple(params["hidden_layer_sizes"])
        estimator = cls(**params)
        for name, value in state["fitted"].items():
            setattr(estimator, name, _number(value))
        dense = [layer for layer in checkpoint.model if isinstance(layer, Dense)]
        estimator.coefs_ = [layer.params["W"] for layer in dense]
        estimator.intercepts_ = [layer.params["b"] for layer in dense]
        estimator._model = checkpoint.model
        if checkpoint.optimizer is not None:
            estimator._optimizer = checkpoint.optimizer
        if estimator.coefs_[0].shape[0] != estimator.n_features_in_:
            raise ValueError(f"{estimator.n_features_in_} features, but the network takes "
                             f"{estimator.coefs_[0].shape[0]}")
        if state["feature_names_in"] is not None:
            estimator.feature_names_in_ = np.asarray(state["feature_names_in"], dtype=object)
        standardizer = state["standardizer"]
        estimator.standardizer_ = Standardizer.from_state(standardizer) if standardizer is not None else None
        if "classes" in state:
            classes = state["classes"]
            binarizer = LabelBinarizer()
            values = np.asarray(classes["values"], dtype=np.dtype(classes["dtype"]))
            binarizer.fit(values if classes["y_type"] != "multilabel-indicator" else np.eye(len(values), dtype=int))
            binarizer.classes_ = values
            estimator._label_binarizer, estimator.classes_ = binarizer, values
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise ValueError(f"{path} holds an {cls.__name__} whose saved state cannot be read ({type(err).__name__}: "
                         f"{err}); save the estimator again") from None
    return estimator


def _plain(value: Any) -> Any:
    """``value`` as JSON holds it: NumPy scalars and arrays as numbers and lists, tuples as lists, infinities as
    strings."""
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _number(value: Any) -> Any:
    if value in ("inf", "-inf"):
        return float(value)
    if isinstance(value, list):
        return [_number(v) for v in value]
    return value
