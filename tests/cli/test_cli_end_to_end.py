"""The whole command-line journey on one tiny run: train, then evaluate, predict and plot from its folder."""

from __future__ import annotations

import csv
import json

from conftest import SPIRALS, invoke, png_size, the_run


def test_train_then_evaluate_predict_and_plot_from_the_run_directory(tmp_path):
    result = invoke("train", SPIRALS, "--epochs", "3", "--out", tmp_path / "runs")
    assert result.exit_code == 0, result.stderr
    run = the_run(tmp_path / "runs")
    assert f"saved    {run}" in result.stdout
    test_accuracy = json.loads((run / "metrics.json").read_text())["test"]["accuracy"]

    evaluated = invoke("evaluate", run)
    assert evaluated.exit_code == 0, evaluated.stderr
    assert f"accuracy {test_accuracy:.4f} " in evaluated.stdout  # the same model, the same test set

    predicted = invoke("predict", run, "spirals", "--out", tmp_path / "predictions.csv")
    assert predicted.exit_code == 0, predicted.stderr
    with open(tmp_path / "predictions.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 400 and set(rows[0]) == {"row", "prediction", "p_0", "p_1"}
    hits = sum(row["prediction"] == max(("0", "1"), key=lambda c: float(row[f"p_{c}"])) for row in rows)
    assert hits == len(rows)  # each prediction is its most probable class

    plotted = invoke("plot", run)
    assert plotted.exit_code == 0, plotted.stderr
    assert png_size(run / "learning_curves.png") == (1000, 400)
