"""``mlp predict``: a trained model's predictions for the rows of a file or a dataset's test set, as CSV."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import click
import numpy as np

from mlp.cli.common import debug_option
from mlp.data.tabular import load_features_csv, load_features_npz
from mlp.files.atomic import atomic_write
from mlp.runs.outputs import check_output
from mlp.runs.trained import TrainedModel, data_kind, load_rows, load_trained

DECIMALS = 6  # of the probabilities


@click.command()
@click.argument("checkpoint", metavar="RUN_DIR|CHECKPOINT", type=click.Path(path_type=Path))
@click.argument("source", metavar="INPUT")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the CSV to this file (atomically) instead of standard output.")
@click.option("--limit", type=click.IntRange(min=1), metavar="N", help="Predict only the first N rows.")
@click.option("--json", "as_json", is_flag=True, help="A JSON object per row (JSON lines) instead of CSV.")
@debug_option
def predict(checkpoint: Path, source: str, out: Path | None, limit: int | None, as_json: bool) -> None:
    """Predict the rows of INPUT with a trained model, as CSV (or JSON lines).

    RUN_DIR is a run directory written by `mlp train` (its model.npz predicts) or a model file from
    one. INPUT is a .csv file of feature columns only (a header line is allowed), a .npz file (the
    array x, or its only array), or a dataset name (mnist, fashion-mnist, spirals, ...): that
    dataset's test set. The run's standardizer, stored in the model file, is applied first.

    Columns: row (0-based), prediction (the class name; the value, or prediction_0, prediction_1...,
    for a regression model), then p_<class> for each class where the loss gives probabilities.
    --json: a line per row, {"row": 0, "prediction": "setosa", "probabilities": {"setosa": 0.98, ...}}
    (a regression model's prediction: a number, or a list of them), unrounded.

    \b
    Examples:
      mlp predict runs/latest flowers.csv --out predictions.csv
      mlp predict runs/latest/model.npz mnist --limit 20
      mlp predict runs/latest points.npz | head
      mlp predict runs/latest flowers.csv --json
    """
    trained = load_trained(checkpoint)
    kind = data_kind(source)
    if out is not None:
        check_output(out, [trained.path, *([Path(source)] if kind in ("csv", "npz") else [])])
    labels, what = None, source
    if kind == "csv":
        delimiter = trained.config["data"].get("delimiter", ",")  # a run trained on CSV files: theirs
        x = trained.features(load_features_csv(source, delimiter=delimiter, features=trained.num_features), source)
    elif kind == "npz":
        x = trained.features(load_features_npz(source), source)
    else:
        rows = load_rows(trained, source, None, "test")
        x, labels, what = rows.x, rows.y, f"{rows.name} {rows.part}"
    if limit is not None:
        x = x[:limit]
        labels = labels[:limit] if labels is not None else None
    output = trained.outputs(x)
    text = predictions_json(trained, output) if as_json else predictions_csv(trained, output)
    if out is None:
        click.echo(text, nl=False)
        return
    atomic_write(out, lambda f: f.write(text.encode()))
    summary = f"wrote {len(x):,} predictions to {out}"
    if labels is not None:
        metrics = trained.evaluation(output, labels)
        if trained.classes is not None:
            score = f"accuracy {metrics['accuracy']:.4f}"
        else:
            score = f"{trained.config['loss']} {metrics['loss']:.4f}"
        summary += f" ({what}: {score})"
    click.echo(summary)


def predictions_csv(trained: TrainedModel, output: np.ndarray) -> str:
    """``output: (n, outputs)`` -> the CSV text: row, prediction(s), class probabilities."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if trained.classes is None:
        header = ["prediction"] if output.shape[1] == 1 else [f"prediction_{j}" for j in range(output.shape[1])]
        writer.writerow(["row", *header])
        writer.writerows([i, *(f"{v:.6g}" for v in values)] for i, values in enumerate(output.tolist()))
        return buffer.getvalue()
    names = trained.labels(output)
    probabilities = trained.probabilities(output)
    if probabilities is None:
        writer.writerow(["row", "prediction"])
        writer.writerows(enumerate(names))
        return buffer.getvalue()
    writer.writerow(["row", "prediction", *(f"p_{name}" for name in trained.classes)])
    writer.writerows([i, name, *(f"{p:.{DECIMALS}f}" for p in ps)]
                     for i, (name, ps) in enumerate(zip(names, probabilities.tolist(), strict=True)))
    return buffer.getvalue()


def predictions_json(trained: TrainedModel, output: np.ndarray) -> str:
    """``output: (n, outputs)`` -> a JSON object per line: row, prediction, the class probabilities (if any)."""
    if trained.classes is None:
        values = output.tolist()
        return "".join(json.dumps({"row": i, "prediction": v[0] if len(v) == 1 else v}) + "\n"
                       for i, v in enumerate(values))
    names = np.asarray(trained.classes, dtype=object)[trained.loss.predicted_classes(output)]
    probabilities = trained.loss.class_probabilities(output)
    lines = []
    for i, name in enumerate(names):
        row = {"row": i, "prediction": name}
        if probabilities is not None:
            row["probabilities"] = dict(zip(trained.classes, probabilities[i].tolist(), strict=True))
        lines.append(json.dumps(row) + "\n")
    return "".join(lines)
