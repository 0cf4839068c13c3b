"""A trained model and what its run knew: opened from a run directory or a model file written by ``mlp train``.

``load_trained`` gives the model with its config, loss, class names and standardizer, checked against the
config it was trained from; ``load_rows`` brings data (the run's own, another dataset, or a file) into the
form the model was trained on. ``mlp evaluate``, ``mlp predict``, ``mlp plot`` and ``mlp train --resume``
use them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlp.data import DATASETS, DataError, Standardizer
from mlp.data.mnist import FASHION_MNIST, MNIST, TRAIN_IMAGES
from mlp.data.split import training_rows
from mlp.data.tabular import check_feature_count, map_classes
from mlp.messages import name_list
from mlp.nn.losses import Loss
from mlp.nn.sequential import Sequential
from mlp.runs.config import ConfigError, resolve_data, resolve_spec, upgrade_stored_config
from mlp.runs.folder import MODEL_FILE, find_model_file
from mlp.runs.run import Console, load_run_data
from mlp.train.checkpoint import Checkpoint, CheckpointError, load_checkpoint

# The datasets whose rows are pictures, and the (height, width) of each: the others' features are measurements
# (a CSV's columns, spirals' points) even when their number is a square (iris's 4).
IMAGE_SHAPES = {spec.name: (TRAIN_IMAGES[1], TRAIN_IMAGES[2]) for spec in (MNIST, FASHION_MNIST)}


def file_types() -> dict[str, str]:
    """``{".csv": "csv", ...}``: the datasets that read files, by the files' suffix."""
    return {source.file_type: name for name, source in DATASETS.items() if source.file_type is not None}


def named_datasets() -> list[str]:
    """The datasets a data argument can name (the others are files)."""
    return [name for name, source in DATASETS.items() if source.file_type is None]


@dataclass
class TrainedModel:
    """A model file written by ``mlp train``, with what its run knew: the config, the class names (``None``
    for regression) and the standardizer fitted on the training rows (``None`` if the run used none)."""

    path: Path
    checkpoint: Checkpoint
    config: dict[str, Any]
    loss: Loss
    classes: list[str] | None
    standardizer: Standardizer | None

    @property
    def model(self) -> Sequential:
        return self.checkpoint.model

    @property
    def num_features(self) -> int:
        return int(self.model.in_features or 0)

    @property
    def image_shape(self) -> tuple[int, int] | None:
        """``(height, width)`` of the picture each input row is, for a model trained on image data (``(28, 28)``
        for MNIST and Fashion-MNIST); ``None`` for other data, whose inputs are not pixels."""
        shape = IMAGE_SHAPES.get(self.config["data"]["dataset"])
        return shape if shape is not None and shape[0] * shape[1] == self.num_features else None

    def describe(self) -> str:
        """``spirals run, epoch 2: 2-64-64-2 (4,418 parameters), softmax_cross_entropy``."""
        widths = [self.num_features, *(n for layer in self.model if (n := layer.output_size(None)) is not None)]
        which = f"epoch {self.checkpoint.epoch}"
        for monitor, value in self.checkpoint.extra.get("best", {}).items():
            which += f" (best {monitor} {value:.4f})"
        return (f"{self.config['name']} run, {which}: {'-'.join(map(str, widths))} "
                f"({self.model.num_params():,} parameters), {self.config['loss']}")

    def outputs(self, x: np.ndarray) -> np.ndarray:
        """The network's outputs for ``x: (n, features)`` (evaluation mode); a model whose outputs overflow
        gives infinities, without NumPy warnings."""
        with np.errstate(over="ignore", invalid="ignore"):
            return self.model.predict(x)

    def loss_of(self, output: np.ndarray, y: np.ndarray) -> float:
        """The run's loss of ``output`` against the targets ``y`` (inf or NaN for an overflowing model)."""
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return self.loss.forward(output, y)

    def features(self, x: np.ndarray, where: str, table: bool = True) -> np.ndarray:
        """``x: (n, features)`` checked against the model's input width and standardised as in training;
        ``table``: ``x`` holds a file's columns."""
        check_feature_count(where, x.shape[1], self.num_features, table)
        return self.standardizer.transform(x) if self.standardizer is not None else x

    def targets(self, y: np.ndarray, data_classes: list[str] | None, where: str) -> np.ndarray:
        """Labels as indices into the model's classes, matched by name (values for a regression model)."""
        if self.classes is not None:
            return map_classes(y, data_classes, self.classes, where, "the model")
        if data_classes is not None:
            raise DataError(f"{where} has class labels, but the model is a regression model "
                            f"(loss {self.config['loss']})")
        return y



def load_trained(path: str | Path, name: str = MODEL_FILE) -> TrainedModel:
    """A model file written by ``mlp train`` (given directly, or the file ``name`` of a run directory), with
    what its run knew. Its architecture must be the one its stored config builds (a file edited without its
    checksum being noticed would fail here); its config is upgraded to today's names."""
    path = find_model_file(path, name)
    checkpoint = load_checkpoint(path)
    extra = checkpoint.extra
    if not isinstance(extra.get("config"), dict):
        raise CheckpointError(f"{path} holds no run config (it was not written by `mlp train`); "
                              f"give a run directory or a model file from one")
    try:
        spec = resolve_spec(upgrade_stored_config(extra["config"]))
    except ConfigError as err:
        raise CheckpointError(f"{path} holds a config that is not valid: {err}") from None
    built = Sequential(spec.layers(checkpoint.model.in_features or 0)).get_config()["layers"]
    stored = checkpoint.model.get_config()["layers"]
    if built != stored:
        differing = next((i for i, (a, b) in enumerate(zip(built, stored, strict=False)) if a != b), len(built))
        raise CheckpointError(f"{path} was changed after mlp wrote it: its layer {differing} is not what its "
                              f"config builds ({name_list([spec.get('type') for spec in stored])} in the file); "
                              f"use an unchanged copy, or train again")
    state = extra.get("standardizer")
    return TrainedModel(path, checkpoint, spec.config, spec.loss, extra.get("classes"),
                        Standardizer.from_state(state) if state is not None else None)


def data_kind(text: str) -> str:
    """What a data argument names: ``"csv"`` or ``"npz"`` for a file of that type, else a dataset name."""
    suffix = Path(text).suffix.lower()
    if suffix in file_types():
        return file_types()[suffix]
    if text in named_datasets():
        return text
    choices = f"give a {' or '.join(file_types())} file or a dataset name ({', '.join(named_datasets())})"
    if suffix or Path(text).exists():
        raise DataError(f"{text}: unknown input file type {suffix or '(no extension)'}; {choices}")
    raise DataError(f"unknown dataset {text!r}; {choices}")


@dataclass
class Rows:
    """Rows ready for the model: ``x`` standardised as in training, ``y`` the model's class indices (or values)."""

    name: str
    source: str
    part: str
    x: np.ndarray
    y: np.ndarray


def data_section(trained: TrainedModel, data: str | None, data_dir: Path | None) -> dict[str, Any]:
    """The ``data:`` section to load, resolved: the run's own (with its options), another dataset by name (its
    defaults), or a file (all of its rows as one set, read with the run's options if the run read such files);
    never normalised again."""
    section = dict(trained.config["data"])
    if data is not None:
        kind = data_kind(data)
        if kind in file_types().values():
            reader = set(DATASETS.get(kind).keys) - {"path", "test_path", "test_split", "task"}
            kept = {k: v for k, v in section.items() if k in reader} if section["dataset"] == kind else {}
            task = "classification" if trained.classes is not None else "regression"
            section = kept | {"dataset": kind, "path": data, "test_split": 0.0, "task": task}
        elif kind != section["dataset"]:
            section = {"dataset": kind, "validation_split": section["validation_split"]}
    if data_dir is not None:
        folders = [name for name, source in DATASETS.items() if "dir" in source.keys]
        if section["dataset"] not in folders:
            raise ConfigError(f"--data-dir applies to {' and '.join(folders)}, not to {section['dataset']}")
        section["dir"] = str(data_dir)
    section["normalize"] = "none"  # the run's own standardizer is applied instead: it is never fitted again
    return resolve_data(section)


def load_rows(trained: TrainedModel, data: str | None, data_dir: Path | None, split: str) -> Rows:
    """The ``split`` ("test" or "train": the rows ``fit`` trained on) of the run's data or of ``data`` (a
    dataset name, or a file, used whole), as the model saw data in training. Warnings go to stderr."""
    section = data_section(trained, data, data_dir)
    whole = data is not None and section["dataset"] in file_types().values()
    dataset = load_run_data(section, trained.config["seed"], Console())
    where = data if whole and data is not None else dataset.name
    if whole:
        x, y, part = dataset.x_train, dataset.y_train, "the whole file"
    elif split == "train":
        rows = training_rows(len(dataset.x_train), section["validation_split"])
        x, y = dataset.x_train[:rows], dataset.y_train[:rows]
        part = f"training rows (without the {len(dataset.x_train) - rows:,} validation rows)"
    elif dataset.x_test is None or dataset.y_test is None:
        raise DataError(f"{dataset.name} has no test set (data.test_split is 0 and there is no data.test_path); "
                        f"use --split train or --data FILE")
    else:
        x, y, part = dataset.x_test, dataset.y_test, "test set"
    return Rows(dataset.name, dataset.source, part, trained.features(x, where, table=whole),
                trained.targets(y, dataset.classes, where))
