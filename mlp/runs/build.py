"""From a ``RunSpec`` (``mlp.runs.config.resolve_spec``) to what trains: the data a ``data:`` section names, and
the network for that data (``RunSpec.layers``), checked against what the loss needs. The loss, optimizer,
schedule and callbacks are already in the spec, built once when the config was checked."""

from __future__ import annotations

import json
from typing import Any

from numpy.typing import DTypeLike

from mlp.data.dataset import DATASETS, DataFingerprint, Dataset
from mlp.nn.losses import Loss
from mlp.nn.sequential import Sequential
from mlp.runs.config import ConfigError, RunSpec


def load_data(data: dict[str, Any], seed: int) -> Dataset:
    """The dataset a resolved ``data:`` section names (``mlp.data.DATASETS``), with a test set, cut to ``limit``
    rows and normalised. ``normalize: standardize`` fits mean/std on the rows ``fit`` trains on (not the
    validation rows); ``seed`` draws the synthetic sets."""
    dataset = DATASETS.get(data["dataset"]).load(data, seed)
    if data["limit"] is not None:
        cut = slice(data["limit"])
        dataset.x_train, dataset.y_train = dataset.x_train[cut], dataset.y_train[cut]
        if dataset.x_test is not None:
            dataset.x_test, dataset.y_test = dataset.x_test[cut], dataset.y_test[cut]
        dataset.w_train = dataset.w_train[cut] if dataset.w_train is not None else None
        dataset.w_test = dataset.w_test[cut] if dataset.w_test is not None else None
    if data["normalize"] == "standardize":
        dataset.standardize(data["validation_split"])
    return dataset


def data_fingerprints(configs: list[dict[str, Any]]) -> list[DataFingerprint]:
    """The fingerprint of the data each resolved config trains on (``load_data``), loading each distinct data
    section once: configs that differ only in other keys (and, for data drawn from the seed, not in the seed)
    share it."""
    known: dict[str, DataFingerprint] = {}
    found = []
    for config in configs:
        seed = config["seed"] if DATASETS.get(config["data"]["dataset"]).seeded else None
        key = json.dumps([config["data"], seed], sort_keys=True, default=str)
        if key not in known:
            known[key] = load_data(config["data"], config["seed"]).fingerprint()
        found.append(known[key])
    return found


def build_model(spec: RunSpec, dataset: Dataset, dtype: DTypeLike | None = None) -> Sequential:
    """The network of ``spec``: the first dense layer takes the data's features, the last one must give the
    loss what the targets need (one output per class, or per target value), and the run's seed draws the
    weights and dropout masks."""
    layers = spec.layers(dataset.num_features, dtype)
    outputs = next(n for layer in reversed(layers) if (n := layer.output_size(None)) is not None)
    _check_outputs(spec.loss, spec.config["loss"], outputs, dataset)
    return Sequential(layers, seed=spec.config["seed"])


def _check_outputs(loss: Loss, name: str, outputs: int, dataset: Dataset) -> None:
    what = f"the data ({dataset.name})"
    if dataset.num_classes is None:
        if loss.classification:
            raise ConfigError(f"loss {name} needs class labels, but {what} has real-valued targets; use `loss: mse`")
        needed = 1 if dataset.y_train.ndim == 1 else dataset.y_train.shape[1]
        unit = f"{needed} target value{'s' * (needed > 1)}"
    else:
        needed = dataset.num_classes
        if needed < 2:
            raise ConfigError(f"{what} has a single class ({dataset.classes[0]}); a classifier needs at least two")
        unit = f"{needed} classes"
        if loss.binary and needed == 2 and outputs == 1:
            return  # one output, the probability of class 1, for two classes
    if outputs != needed:
        raise ConfigError(f"the last dense layer has {outputs} units, but {what} has {unit}; "
                          f"make it {{dense: {needed}}}")
