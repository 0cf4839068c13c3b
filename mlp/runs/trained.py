"""A trained model and what its run knew: opened from a run directory or a model file written by ``mlp train``.

``load_run`` (``mlp.load_run``) and ``load_trained`` give the model with its config, loss, class names and
standardizer, checked against the config it was trained from: a ``TrainedModel``, which predicts and evaluates
raw rows as ``mlp predict`` and ``mlp evaluate`` do, through the same methods. ``load_rows`` brings data (the
run's own, another dataset, or a file) into the form the model was trained on. ``mlp evaluate``,
``mlp predict``, ``mlp plot`` and ``mlp train --resume`` use them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from mlp.arrays import finite
from mlp.data import DATASETS, DataError, Standardizer
from mlp.data.split import training_rows
from mlp.data.tabular import as_class_indices, check_feature_count, map_classes
from mlp.messages import name_list
from mlp.nn.losses import Loss, as_target_matrix
from mlp.nn.sequential import Sequential
from mlp.runs.config import ConfigError, image_shape, resolve_data, resolve_spec, upgrade_stored_config
from mlp.runs.folder import CONFIG_FILE, HISTORY_JSON, MODEL_FILE, find_model_file
from mlp.runs.run import Console, load_run_data
from mlp.train.checkpoint import Checkpoint, CheckpointError, load_checkpoint
from mlp.train.history import History
from mlp.train.metrics import class_evaluation


def file_types() -> dict[str, str]:
    """``{".csv": "csv", ...}``: the datasets that read files, by the files' suffix."""
    return {source.file_type: name for name, source in DATASETS.items() if source.file_type is not None}


def named_datasets() -> list[str]:
    """The datasets a data argument can name (the others are files)."""
    return [name for name, source in DATASETS.items() if source.file_type is None]


@dataclass
class TrainedModel:
    """A model file written by ``mlp train``, with what its run knew: the config, the class names (``None``
    for regression) and the standardizer fitted on the training rows (``None`` if the run used none).

    ``predict``, ``predict_proba``, ``scores`` and ``evaluate`` take raw rows ``x: (n, features)`` (an array, a
    list of rows, a data frame of the feature columns) and apply the run's standardizer first, as ``mlp predict``
    and ``mlp evaluate`` do: they are the same code. ``model`` is the network (``Sequential``) alone.
    """

    path: Path
    checkpoint: Checkpoint
    config: dict[str, Any]
    loss: Loss
    classes: list[str] | None
    standardizer: Standardizer | None

    @property
    def model(self) -> Sequential:
        return self.checkpoint.model

    @cached_property
    def history(self) -> History:
        """The run's history, a record per epoch: its run directory's ``history.json`` (every epoch, also those
        after the kept model's with ``output.keep: best``), or the model file's own records outside a run
        directory."""
        run_dir = self.path.parent
        if (run_dir / HISTORY_JSON).is_file() and (run_dir / CONFIG_FILE).is_file():
            return History.from_json(run_dir / HISTORY_JSON)
        return self.checkpoint.history or History()

    @property
    def num_features(self) -> int:
        return int(self.model.in_features or 0)

    @property
    def image_shape(self) -> tuple[int, int] | None:
        """``(height, width)`` of the picture each input row is, for a model trained on image data (``(28, 28)``
        for MNIST and Fashion-MNIST); ``None`` for other data, whose inputs are not pixels."""
        shape = image_shape(self.config["data"])
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

    # -- what `mlp predict` and `mlp evaluate` give, from the network's outputs -------------------------------
    def labels(self, output: np.ndarray) -> np.ndarray:
        """``output: (n, outputs)`` -> the predictions: class names ``(n,)`` (str) for a classifier; values
        ``(n,)`` for a regression model with one output, ``(n, outputs)`` with more."""
        if self.classes is None:
            values = self.loss.predictions(output)
            return values[:, 0] if values.shape[1] == 1 else values
        return np.asarray(self.classes)[self.loss.predicted_classes(output)]

    def probabilities(self, output: np.ndarray) -> np.ndarray | None:
        """``output: (n, outputs)`` -> ``(n, classes)`` class probabilities, columns in ``classes`` order;
        ``None`` for a regression model or a loss that defines none (margins)."""
        return self.loss.class_probabilities(output) if self.classes is not None else None

    def evaluation(self, output: np.ndarray, y: np.ndarray) -> dict[str, Any]:
        """The metrics of ``output: (n, outputs)`` against ``y`` (the model's class indices ``(n,)``, or values):
        ``loss`` (the run's loss) and, for a classifier, what ``mlp.train.metrics.class_evaluation`` gives
        (accuracy, precision, recall and F1 by class and averaged, top-5 accuracy for 10 classes or more, the
        ``confusion_matrix``, rows: true class, columns: predicted class, in ``classes`` order); for a regression
        model ``mae``, the mean absolute error."""
        metrics: dict[str, Any] = {"loss": float(self.loss_of(output, y))}
        if self.classes is None:
            values = self.loss.predictions(output)
            return metrics | {"mae": float(np.abs(values - as_target_matrix(values, y)).mean())}
        return metrics | class_evaluation(y, self.loss.predicted_classes(output), output, self.classes)

    # -- raw rows: the Python handle (mlp.load_run) ---------------------------------------------------------
    def rows(self, x: Any) -> np.ndarray:
        """Raw rows ``x: (n, features)`` (any array-like of numbers) as the model takes them: float32, checked
        (2-D, finite, the model's width) and standardised with the run's mean and std."""
        array = np.asarray(x)
        if array.ndim != 2:
            raise DataError(f"x must be 2-D (rows, features), got shape {array.shape}; give one row as [row]")
        if not np.issubdtype(array.dtype, np.number) and array.dtype != np.bool_:
            raise DataError(f"x is not numeric ({array.dtype}); give the feature columns only")
        return self.features(finite(array, np.float32, "x:", DataError, unit="column"), "x")

    def scores(self, x: Any) -> np.ndarray:
        """The network's raw outputs ``(n, outputs)`` for raw rows ``x: (n, features)``: logits for
        ``softmax_cross_entropy``, probabilities for ``cross_entropy``, values for regression."""
        return self.outputs(self.rows(x))

    def predict(self, x: Any) -> np.ndarray:
        """Predictions for raw rows ``x: (n, features)``: class names ``(n,)`` for a classifier (``mlp predict``'s
        ``prediction`` column), values ``(n,)`` (``(n, outputs)`` for several outputs) for a regression model."""
        return self.labels(self.scores(x))

    def predict_proba(self, x: Any) -> np.ndarray:
        """Class probabilities ``(n, classes)`` for raw rows ``x: (n, features)``, columns in ``classes`` order
        (``mlp predict``'s ``p_<class>`` columns). A ``DataError`` for a model that gives none."""
        if self.classes is None:
            raise DataError(f"{self.config['name']} is a regression model (loss {self.config['loss']}): it gives "
                            f"values, not class probabilities; use predict(x)")
        probabilities = self.probabilities(self.scores(x))
        if probabilities is None:
            raise DataError(f"the loss {self.config['loss']} gives no class probabilities; use predict(x) for the "
                            f"classes or scores(x) for the outputs")
        return probabilities

    def evaluate(self, x: Any, y: Any) -> dict[str, Any]:
        """The metrics ``mlp evaluate`` prints (``evaluation``) for raw rows ``x: (n, features)`` and their targets
        ``y``: class labels ``(n,)`` matched to ``classes`` by name (``"setosa"``; a number ``3`` is the class
        ``"3"``), as for a file given to ``mlp evaluate --data``; or values for a regression model."""
        x = self.rows(x)
        y = np.asarray(y)
        if y.ndim == 0 or len(y) != len(x):
            raise DataError(f"x has {len(x):,} rows but y has {len(y) if y.ndim else 0:,}")
        if self.classes is None:
            targets = self.targets(finite(y, np.float32, "y:", DataError), None, "y")
        elif y.ndim != 1:
            raise DataError(f"y must be 1-D class labels (names or numbers), got shape {y.shape}")
        else:
            if np.issubdtype(y.dtype, np.floating) and np.all(np.mod(y, 1) == 0):
                y = y.astype(np.int64)  # 3.0 is the class "3", as a file's label 3.0 is
            indices, names = as_class_indices(y, "y")
            if np.issubdtype(y.dtype, np.number) and not set(names) & set(self.classes):
                # class indices where the run's classes have names (0, 1, 2 for iris' species)
                raise DataError(f"y holds numbers ({name_list(names)}), but the run's classes are "
                                f"{name_list(self.classes)}; give y as class names")
            targets = self.targets(indices, names, "y")
        return self.evaluation(self.outputs(x), targets)


BARE_FILE_FIX = "give a run directory or a model file from one"


def load_run(path: str | Path) -> TrainedModel:
    """A trained run: a run directory written by ``mlp train`` (or ``runs/latest``), whose ``model.npz`` it
    opens, or a model file written by ``mlp train`` (``model.npz``, ``last.npz``, a checkpoint of the run).

    The result predicts raw rows as ``mlp predict`` does and evaluates them as ``mlp evaluate`` does
    (``TrainedModel``: ``predict``, ``predict_proba``, ``scores``, ``evaluate``, ``classes``, ``config``,
    ``history``, ``model``). A ``CheckpointError`` says what is wrong with ``path``: no such path, not a run, a
    run without a model yet, a bare network's file (which ``mlp.Sequential.load`` opens).
    """
    return load_trained(path, fix=f"open a bare network with mlp.Sequential.load(path), or {BARE_FILE_FIX}")


def load_trained(path: str | Path, name: str = MODEL_FILE, fix: str = BARE_FILE_FIX) -> TrainedModel:
    """A model file written by ``mlp train`` (given directly, or the file ``name`` of a run directory), with
    what its run knew. Its architecture must be the one its stored config builds (a file edited without its
    checksum being noticed would fail here); its config is upgraded to today's names. ``fix`` says what to do
    with a file that holds no run config (a bare network's)."""
    path = find_model_file(path, name)
    checkpoint = load_checkpoint(path)
    extra = checkpoint.extra
    if not isinstance(extra.get("config"), dict):
        raise CheckpointError(f"{path} holds no run config (it was not written by `mlp train`); {fix}")
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
