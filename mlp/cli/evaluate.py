"""``mlp evaluate``: a trained model's loss and accuracy on its test set or other data, per class and as a
confusion matrix. Also what ``mlp predict`` shares: a model file with its run's config, class names and
standardizer, and data brought into the form the model was trained on."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import numpy as np

from mlp import run
from mlp.builders import build_loss
from mlp.checkpoint import Checkpoint
from mlp.cli.common import debug_option
from mlp.config import ConfigError, resolve
from mlp.data import DATASETS, DataError, Standardizer
from mlp.data.tabular import check_feature_count, map_classes
from mlp.losses import Loss, as_target_matrix
from mlp.metrics import confusion_matrix
from mlp.sequential import Sequential
from mlp.training import training_rows

FILE_TYPES = {".csv": "csv", ".npz": "npz"}
NAMED_DATASETS = tuple(name for name in DATASETS if name not in FILE_TYPES.values())
DIR_DATASETS = ("mnist", "fashion-mnist")  # the datasets data.dir (--data-dir) applies to
FILE_OPTIONS = ("target", "header", "delimiter", "x_key", "y_key")  # kept when --data is a file of the run's type
TABLE_WIDTH = 100  # the confusion matrix is made to fit this many columns


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

    def describe(self) -> str:
        """``spirals run, epoch 2: 2-64-64-2 (4,418 parameters), softmax_cross_entropy``."""
        widths = [self.num_features, *(n for layer in self.model if (n := layer.output_size(None)) is not None)]
        which = f"epoch {self.checkpoint.epoch}"
        for monitor, value in self.checkpoint.extra.get("best", {}).items():
            which += f" (best {monitor} {value:.4f})"
        return (f"{self.config['name']} run, {which}: {'-'.join(map(str, widths))} "
                f"({self.model.num_params():,} parameters), {self.config['loss']}")

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

    def predicted_classes(self, output: np.ndarray) -> np.ndarray:
        """Class indices ``(n,)``: the loss's decision for one output (a sigmoid), the highest output otherwise."""
        if output.shape[1] == 1:
            return self.loss.predict_labels(output).reshape(-1).astype(np.int64)
        return output.argmax(axis=1)

    def probabilities(self, output: np.ndarray) -> np.ndarray | None:
        """``(n, classes)`` class probabilities, where the loss defines them (one sigmoid output: ``1 - p, p``)."""
        probabilities = self.loss.probabilities(output)
        if probabilities is not None and probabilities.shape[1] == 1:
            probabilities = np.hstack([1 - probabilities, probabilities])
        return probabilities


def load_trained(path: str | Path) -> TrainedModel:
    """A run directory's ``model.npz``, or a model file given directly, written by ``mlp train``."""
    checkpoint = run.load_run_checkpoint(run.find_model_file(path))
    extra = checkpoint.extra
    state = extra.get("standardizer")
    return TrainedModel(checkpoint.path, checkpoint, extra["config"], build_loss(extra["config"]), extra.get("classes"),
                        Standardizer.from_state(state) if state is not None else None)


def data_kind(text: str) -> str:
    """What a data argument names: ``"csv"`` or ``"npz"`` for a file of that type, else a dataset name."""
    suffix = Path(text).suffix.lower()
    if suffix in FILE_TYPES:
        return FILE_TYPES[suffix]
    if text in NAMED_DATASETS:
        return text
    choices = f"give a .csv or .npz file or a dataset name ({', '.join(NAMED_DATASETS)})"
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


def data_config(trained: TrainedModel, data: str | None, data_dir: Path | None) -> dict[str, Any]:
    """The run's config with the data to use: the run's own (with its options), another dataset by name (its
    defaults), or a ``.csv``/``.npz`` file (all of its rows as one set); never normalised again."""
    section = dict(trained.config["data"])
    if data is not None:
        kind = data_kind(data)
        if kind in FILE_TYPES.values():
            kept = {k: v for k, v in section.items() if k in FILE_OPTIONS} if section["dataset"] == kind else {}
            task = "classification" if trained.classes is not None else "regression"
            section = kept | {"dataset": kind, "path": data, "test_split": 0.0, "task": task}
        elif kind != section["dataset"]:
            section = {"dataset": kind, "validation_split": section["validation_split"]}
    if data_dir is not None:
        if section["dataset"] not in DIR_DATASETS:
            raise ConfigError(f"--data-dir applies to {' and '.join(DIR_DATASETS)}, not to {section['dataset']}")
        section["dir"] = str(data_dir)
    section["normalize"] = "none"  # the run's own standardizer is applied instead: it is never fitted again
    return trained.config | {"data": resolve({"data": section})["data"]}


def load_rows(trained: TrainedModel, data: str | None, data_dir: Path | None, split: str) -> Rows:
    """The ``split`` ("test" or "train": the rows ``fit`` trained on) of the run's data or of ``data`` (a
    dataset name, or a file, used whole), as the model saw data in training. Warnings go to stderr."""
    config = data_config(trained, data, data_dir)
    whole = data is not None and config["data"]["dataset"] in FILE_TYPES.values()
    dataset = run.load_run_data(config, run.Console())
    where = data if whole and data is not None else dataset.name
    if whole:
        x, y, part = dataset.x_train, dataset.y_train, "the whole file"
    elif split == "train":
        rows = training_rows(len(dataset.x_train), config["data"]["validation_split"])
        x, y = dataset.x_train[:rows], dataset.y_train[:rows]
        part = f"training rows (without the {len(dataset.x_train) - rows:,} validation rows)"
    elif dataset.x_test is None or dataset.y_test is None:
        raise DataError(f"{dataset.name} has no test set (data.test_split is 0 and there is no data.test_path); "
                        f"use --split train or --data FILE")
    else:
        x, y, part = dataset.x_test, dataset.y_test, "test set"
    return Rows(dataset.name, dataset.source, part, trained.features(x, where, table=whole),
                trained.targets(y, dataset.classes, where))


@click.command()
@click.argument("run_dir", metavar="RUN_DIR|CHECKPOINT", type=click.Path(path_type=Path))
@click.option("--data", metavar="DATASET|FILE",
              help="Evaluate on this dataset's test set (mnist, fashion-mnist, spirals, ...) or on all rows of a "
                   ".csv/.npz file, instead of the run's test set.")
@click.option("--data-dir", type=click.Path(path_type=Path), help="Folder with the dataset's files (data.dir).")
@click.option("--split", type=click.Choice(["test", "train"]),
              help="The test set (default) or the rows training fitted on (without the validation rows).")
@debug_option
def evaluate(run_dir: Path, data: str | None, data_dir: Path | None, split: str | None) -> None:
    """Evaluate a trained model on its test set or on other data.

    RUN_DIR is a run directory written by `mlp train` (its model.npz is evaluated) or a model file
    from one. The data is the run's test set, loaded with the run's options and standardised with
    the mean/std stored in the model file (never fitted again). Another dataset (--data) is loaded
    with its defaults. A file's labels must be among the model's class names; its target column is
    the run's if the run trained on a file of the same type, else the last column (CSV) or the
    array y (NPZ).

    Prints the loss and accuracy, then each class's support and accuracy, and the confusion matrix
    (rows: true class, columns: predicted class). A regression model gets its loss and mean absolute
    error.

    \b
    Examples:
      mlp evaluate runs/mnist-20261121-101500
      mlp evaluate runs/mnist-20261121-101500/model.npz --split train
      mlp evaluate runs/mnist-20261121-101500 --data-dir ../shared/datasets/mnist
      mlp evaluate runs/spirals-20261121-101500 --data xor
      mlp evaluate runs/iris-20261121-101500 --data new_flowers.csv
    """
    if split is not None and data is not None and data_kind(data) in FILE_TYPES.values():
        raise click.UsageError("--split applies to a dataset; a file given with --data is evaluated whole")
    trained = load_trained(run_dir)
    rows = load_rows(trained, data, data_dir, split or "test")
    output = trained.model.predict(rows.x)
    click.echo(f"model    {trained.path}: {trained.describe()}")
    standardised = ", standardised with the run's mean and std" if trained.standardizer is not None else ""
    click.echo(f"data     {rows.name} from {rows.source}: {rows.part}, {len(rows.x):,} rows{standardised}")
    click.echo(f"loss     {trained.loss.forward(output, rows.y):.4f} ({trained.config['loss']})")
    if trained.classes is None:
        error = np.abs(output - as_target_matrix(output, rows.y)).mean()
        click.echo(f"mae      {error:.4f} (mean absolute error)")
        return
    matrix = confusion_matrix(rows.y, trained.predicted_classes(output), len(trained.classes))
    correct = int(np.trace(matrix))
    click.echo(f"accuracy {correct / len(rows.x):.4f} ({correct:,} of {len(rows.x):,} rows)")
    click.echo()
    for line in class_table(trained.classes, matrix):
        click.echo(line)
    click.echo()
    click.echo("confusion matrix (rows: true class, columns: predicted class)")
    for line in matrix_table(trained.classes, matrix):
        click.echo(line)


def class_table(classes: list[str], matrix: np.ndarray) -> list[str]:
    """Each class's support (true rows) and accuracy (the fraction of them predicted right)."""
    support = matrix.sum(axis=1)
    rows = [(name, f"{n:,}", f"{matrix[i, i] / n:.4f}" if n else "-")
            for i, (name, n) in enumerate(zip(classes, support, strict=True))]
    header = ("class", "support", "accuracy")
    widths = [max(len(row[c]) for row in [header, *rows]) for c in range(3)]
    return [f"{a:<{widths[0]}}  {b:>{widths[1]}}  {c:>{widths[2]}}" for a, b, c in [header, *rows]]


def matrix_table(classes: list[str], matrix: np.ndarray, width: int = TABLE_WIDTH) -> list[str]:
    """The confusion matrix with class names as row labels and column headers, right-aligned; when the names
    do not fit ``width`` characters, the column headers are cut short."""
    labels = [name[:24] for name in classes]
    label_width = max(len(label) for label in labels)
    digits = len(str(matrix.max()))
    column = max(digits, *(len(label) for label in labels))
    gap = 2
    if label_width + len(classes) * (column + gap) > width:
        gap = 1
        column = max(digits, (width - label_width) // len(classes) - gap)
    lines = [" " * label_width + "".join(f"{' ' * gap}{label[:column]:>{column}}" for label in labels)]
    for label, counts in zip(labels, matrix, strict=True):
        lines.append(f"{label:<{label_width}}" + "".join(f"{' ' * gap}{n:>{column}}" for n in counts))
    return lines
