"""From a resolved config (``mlp.config.resolve``) to the objects that train: data, model, loss,
optimizer, schedule and callbacks. Each builder reads its own section and nothing else."""

from __future__ import annotations

from typing import Any

import numpy as np

from mlp.activations import ACTIVATIONS
from mlp.callbacks import Callback
from mlp.config import CALLBACKS, ConfigError
from mlp.data import Dataset, from_file, load_dataset, synthetic
from mlp.dense import Dense
from mlp.dropout import Dropout
from mlp.layer import Layer
from mlp.losses import LOSSES, BinaryCrossEntropy, Loss
from mlp.optim import OPTIMIZERS, Optimizer
from mlp.schedules import SCHEDULES, Schedule, Warmup
from mlp.sequential import Sequential


def load_data(config: dict[str, Any]) -> Dataset:
    """The dataset of ``config["data"]``, with a test set, cut to ``limit`` rows and normalised.

    Files without a ``test_path`` and the synthetic sets hold out their last ``test_split`` of rows.
    ``normalize: standardize`` fits mean/std on the rows ``fit`` trains on (not the validation rows).
    """
    data = config["data"]
    name = data["dataset"]
    if name in ("mnist", "fashion-mnist"):
        dataset = load_dataset(name, data_dir=data["dir"])
    elif name in ("csv", "npz"):
        options = {k: data[k] for k in ("target", "header", "delimiter", "x_key", "y_key", "task") if k in data}
        dataset = from_file(data["path"], test_path=data["test_path"], **options)
        if data["test_path"] is None:
            dataset = _hold_out(dataset, data["test_split"])
    else:
        dataset = synthetic(name, n=data["samples"], test_size=data["test_split"], seed=config["seed"])
    if data["limit"] is not None:
        dataset.x_train, dataset.y_train = dataset.x_train[: data["limit"]], dataset.y_train[: data["limit"]]
        if dataset.x_test is not None:
            dataset.x_test, dataset.y_test = dataset.x_test[: data["limit"]], dataset.y_test[: data["limit"]]
    if data["normalize"] == "standardize":
        dataset.standardize(data["validation_split"])
    return dataset


def _hold_out(dataset: Dataset, fraction: float) -> Dataset:
    """Move the last ``fraction`` of the training rows to the test set."""
    cut = len(dataset.x_train) - round(len(dataset.x_train) * fraction)
    if fraction and (cut == len(dataset.x_train) or cut == 0):
        raise ConfigError(f"data.test_split {fraction} of {len(dataset.x_train)} rows leaves no test or training "
                          f"rows; change data.test_split or give data.test_path")
    if fraction:
        x, y = dataset.x_train, dataset.y_train
        dataset.x_train, dataset.y_train, dataset.x_test, dataset.y_test = x[:cut], y[:cut], x[cut:], y[cut:]
    return dataset


def _activation(spec: dict[str, Any]) -> Layer:
    cls = ACTIVATIONS[spec["activation"]]
    return cls(alpha=spec["alpha"]) if "alpha" in spec else cls()


def model_layers(config: dict[str, Any], num_features: int) -> list[Layer]:
    """The layers of ``config["model"]`` for data of ``num_features`` features (fresh weights)."""
    dtype = np.dtype(config["model"]["dtype"])
    layers: list[Layer] = []
    width = num_features
    for spec in config["model"]["layers"]:
        if "dense" in spec:
            layers.append(Dense(width, spec["dense"], init=spec["init"], bias=spec["bias"], dtype=dtype))
            width = spec["dense"]
            if spec["activation"] != "linear":
                layers.append(_activation(spec))
        elif "dropout" in spec:
            layers.append(Dropout(spec["dropout"]))
        else:
            layers.append(_activation(spec))
    return layers


def build_model(config: dict[str, Any], dataset: Dataset) -> Sequential:
    """The network of ``config["model"]``: the first dense layer takes the data's features, and the
    last one must give the loss what the targets need (one output per class, or per target value)."""
    layers = model_layers(config, dataset.num_features)
    outputs = next(layer.output_size(None) for layer in reversed(layers) if layer.output_size(None) is not None)
    _check_outputs(config["loss"], outputs, dataset)
    return Sequential(layers, seed=config["seed"])


def _check_outputs(loss: str, outputs: int, dataset: Dataset) -> None:
    what = f"the data ({dataset.name})"
    if dataset.num_classes is None:
        if LOSSES[loss].classification:
            raise ConfigError(f"loss {loss} needs class labels, but {what} has real-valued targets; use `loss: mse`")
        needed = 1 if dataset.y_train.ndim == 1 else dataset.y_train.shape[1]
        unit = f"{needed} target value{'s' * (needed > 1)}"
    else:
        needed = dataset.num_classes
        if needed < 2:
            raise ConfigError(f"{what} has a single class ({dataset.classes[0]}); a classifier "
                              f"needs at least two")
        unit = f"{needed} classes"
        if LOSSES[loss] is BinaryCrossEntropy and needed == 2 and outputs == 1:
            return  # one sigmoid output for two classes
    if outputs != needed:
        raise ConfigError(f"the last dense layer has {outputs} units, but {what} has {unit}; "
                          f"make it {{dense: {needed}}}")


def build_loss(config: dict[str, Any]) -> Loss:
    return LOSSES[config["loss"]]()


def build_optimizer(config: dict[str, Any]) -> Optimizer:
    options = {k: v for k, v in config["optimizer"].items() if k != "name"}
    return OPTIMIZERS[config["optimizer"]["name"]](**options)


def build_schedule(config: dict[str, Any]) -> Schedule | None:
    """``None``, a schedule, or a linear warm-up of ``warmup`` epochs followed by the schedule."""
    spec = config["schedule"]
    if spec is None:
        return None
    options = {k: v for k, v in spec.items() if k not in ("name", "warmup")}
    schedule = SCHEDULES[spec["name"]](**options)
    return Warmup(spec["warmup"], after=schedule) if spec["warmup"] else schedule


def build_callbacks(config: dict[str, Any]) -> list[Callback]:
    """Early stopping and reduce-on-plateau, where configured."""
    training = config["training"]
    return [cls(**training[name]) for name, cls in CALLBACKS.items() if training[name] is not None]
