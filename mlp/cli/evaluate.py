"""``mlp evaluate``: a trained model's loss and accuracy on its test set or other data, per class and as a
confusion matrix."""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np

from mlp.cli.common import debug_option
from mlp.runs.trained import data_kind, file_types, load_rows, load_trained
from mlp.train.metrics import TOP_K

TABLE_WIDTH = 100  # the confusion matrix is made to fit this many columns


@click.command()
@click.argument("run_dir", metavar="RUN_DIR|CHECKPOINT", type=click.Path(path_type=Path))
@click.option("--data", metavar="DATASET|FILE",
              help="Evaluate on this dataset's test set (mnist, fashion-mnist, spirals, ...) or on all rows of a "
                   ".csv/.npz file, instead of the run's test set.")
@click.option("--data-dir", type=click.Path(path_type=Path), help="Folder with the dataset's files (data.dir).")
@click.option("--split", type=click.Choice(["test", "train"]),
              help="The test set (default) or the rows training fitted on (without the validation rows).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as one JSON object instead of text.")
@debug_option
def evaluate(run_dir: Path, data: str | None, data_dir: Path | None, split: str | None, as_json: bool) -> None:
    """Evaluate a trained model on its test set or on other data.

    RUN_DIR is a run directory written by `mlp train` (its model.npz is evaluated) or a model file
    from one. The data is the run's test set, loaded with the run's options and standardised with
    the mean/std stored in the model file (never fitted again). Another dataset (--data) is loaded
    with its defaults. A file's labels must be among the model's class names; its target column is
    the run's if the run trained on a file of the same type, else the last column (CSV) or the
    array y (NPZ).

    Prints the loss and accuracy (and the top-5 accuracy for 10 or more classes), then each class's
    support, precision, recall and F1 with their macro and weighted averages, and the confusion matrix
    (rows: true class, columns: predicted class). A regression model gets its loss and mean absolute
    error. --json prints the same numbers as one JSON object.

    \b
    Examples:
      mlp evaluate runs/latest
      mlp evaluate runs/latest/model.npz --split train
      mlp evaluate runs/latest --data-dir ~/data/mnist
      mlp evaluate runs/latest --data xor
      mlp evaluate runs/latest --data new_flowers.csv
      mlp evaluate runs/latest --json
    """
    if split is not None and data is not None and data_kind(data) in file_types().values():
        raise click.UsageError("--split applies to a dataset; a file given with --data is evaluated whole")
    trained = load_trained(run_dir)
    rows = load_rows(trained, data, data_dir, split or "test")
    results: dict = {"model": str(trained.path), "data": {"name": rows.name, "source": rows.source, "part": rows.part,
                                                          "rows": len(rows.x)},
                     "standardised": trained.standardizer is not None, "loss_name": trained.config["loss"]}
    results |= trained.evaluation(trained.outputs(rows.x), rows.y)
    if as_json:
        click.echo(json.dumps(results))
        return
    click.echo(f"model    {trained.path}: {trained.describe()}")
    standardised = ", standardised with the run's mean and std" if trained.standardizer is not None else ""
    click.echo(f"data     {rows.name} from {rows.source}: {rows.part}, {len(rows.x):,} rows{standardised}")
    click.echo(f"loss     {results['loss']:.4f} ({results['loss_name']})")
    if trained.classes is None:
        click.echo(f"mae      {results['mae']:.4f} (mean absolute error)")
        return
    click.echo(f"accuracy {results['accuracy']:.4f} ({results['correct']:,} of {results['rows']:,} rows)")
    top = f"top_{TOP_K}_accuracy"
    if top in results:
        click.echo(f"top-{TOP_K}    {results[top]:.4f} (the true class among the {TOP_K} highest scores)")
    click.echo()
    for line in class_table(results):
        click.echo(line)
    click.echo()
    click.echo("confusion matrix (rows: true class, columns: predicted class)")
    for line in matrix_table(trained.classes, np.asarray(results["confusion_matrix"])):
        click.echo(line)


def class_table(results: dict) -> list[str]:
    """Each class's support (true rows), precision, recall and F1, then their macro and weighted averages
    (``results``: ``mlp.train.metrics.class_evaluation``'s)."""
    keys = ("precision", "recall", "f1-score")
    named = [*results["classes"].items(), *((name, results[name]) for name in ("macro avg", "weighted avg"))]
    rows = [(name, f"{int(scores['support']):,}", *(f"{scores[key]:.4f}" for key in keys)) for name, scores in named]
    header = ("class", "support", "precision", "recall", "f1")
    widths = [max(len(row[c]) for row in [header, *rows]) for c in range(len(header))]
    lines = ["  ".join([f"{row[0]:<{widths[0]}}", *(f"{cell:>{width}}" for cell, width in zip(row[1:], widths[1:],
                                                                                             strict=True))])
             for row in [header, *rows]]
    return lines


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
