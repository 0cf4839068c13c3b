"""``mlp plot``: learning curves, gradient norms, weights and confusion matrix of a run as PNGs."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import SPIRALS, assert_one_line_error, invoke, png_size, the_run

from mlp.cli import main
from mlp.train.history import History

pytest.importorskip("matplotlib")


def history(accuracy: bool = True, validation: bool = True, epochs: int = 3) -> History:
    records = []
    for epoch in range(1, epochs + 1):
        record = {"epoch": epoch, "loss": 1 / epoch, "accuracy": 1 - 0.2 / epoch,
                  "val_loss": 0.5 + (epoch - 2) ** 2 / 10, "val_accuracy": 0.9 - 0.1 / epoch, "lr": 0.1, "time": 1.0}
        records.append({k: v for k, v in record.items()
                        if (accuracy or "accuracy" not in k) and (validation or not k.startswith("val_"))})
    return History(records)


def run_dir(tmp_path: Path, hist: History | None = None) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    (history() if hist is None else hist).to_json(run / "history.json")
    return run


def plot(*args: str | Path) -> Result:
    return CliRunner().invoke(main, ["plot", *map(str, args)])


def assert_error(result: Result, message: str) -> None:
    """Exit code 2 and exactly one line on stderr, no traceback."""
    assert result.exit_code == 2, result.output
    assert result.stderr == f"error: {message}\n"
    assert "Traceback" not in result.output


def test_plot_writes_two_panels_into_the_run_directory(tmp_path):
    run = run_dir(tmp_path)
    result = plot(run)
    assert result.exit_code == 0, result.output
    out = run / "learning_curves.png"
    assert result.output == f"wrote {out}\n"
    assert png_size(out) == (1000, 400)


def test_regression_history_gets_the_loss_panel_only(tmp_path):
    run = run_dir(tmp_path, history(accuracy=False))
    assert plot(run).exit_code == 0
    assert png_size(run / "learning_curves.png") == (500, 400)


def test_history_without_validation(tmp_path):
    run = run_dir(tmp_path, history(validation=False, epochs=1))
    assert plot(run).exit_code == 0
    assert png_size(run / "learning_curves.png") == (1000, 400)


def test_history_file_and_out_option(tmp_path):
    run = run_dir(tmp_path)
    out = tmp_path / "figures" / "curves.png"
    result = plot(run / "history.json", "--out", out)
    assert result.exit_code == 0, result.output
    assert result.output == f"wrote {out}\n"
    assert png_size(out) == (1000, 400)
    assert not (run / "learning_curves.png").exists()


def test_missing_run_directory(tmp_path):
    missing = tmp_path / "nope"
    assert_error(plot(missing), f"{missing} does not exist; give a run directory written by `mlp train` "
                                "or its history.json")


def test_directory_without_history(tmp_path):
    assert_error(plot(tmp_path), f"{tmp_path} has no history.json; is it a run directory written by `mlp train`?")


def test_empty_history(tmp_path):
    run = run_dir(tmp_path, History([]))
    assert_error(plot(run), f"{run / 'history.json'} has no epochs yet; nothing to plot")


def test_missing_matplotlib(tmp_path, monkeypatch):
    for module in ("matplotlib", "matplotlib.figure", "matplotlib.ticker"):
        monkeypatch.setitem(sys.modules, module, None)  # None in sys.modules makes the import fail
    run = run_dir(tmp_path)
    assert_error(plot(run), "mlp plot needs matplotlib, which is not installed; install it with: "
                            "pip install 'matplotlib>=3.7'  (the plot extra)")
    assert not (run / "learning_curves.png").exists()


# -- gradient norms, weights, confusion matrix: from a real (tiny) run ---------------------------------------


@pytest.fixture
def digits_run(tmp_path, offline_mnist) -> Path:
    """A 2-epoch run on 40 digits of the bundled MNIST sample (40 test digits), with gradient norms
    recorded every batch."""
    root = tmp_path / "digits"
    root.mkdir()
    config = root / "digits.yaml"
    config.write_text(
        "name: digits\ndata: {dataset: mnist, validation_split: 0.25, limit: 40}\n"
        "model: {layers: [{dense: 16, activation: relu}, {dense: 10}]}\n"
        "training: {epochs: 2, batch_size: 10, gradient_norms: {every: 1}}\n"
    )
    result = invoke("train", config, "--out", root / "runs", "--quiet")
    assert result.exit_code == 0, result.output
    return the_run(root / "runs")


@pytest.mark.slow
def test_a_run_records_gradient_norms_and_plot_draws_them(digits_run):
    norms = History.from_json(digits_run / "gradient_norms.json")
    assert norms["epoch"] == pytest.approx([k / 3 for k in range(1, 7)])  # 30 training rows, batches of 10
    assert (digits_run / "gradient_norms.csv").read_text().startswith(
        "epoch,0.W/grad_norm,0.W/update_ratio,2.W/grad_norm,2.W/update_ratio\n")
    result = plot(digits_run)
    assert result.exit_code == 0, result.output
    assert result.output == f"wrote {digits_run / 'learning_curves.png'}\nwrote {digits_run / 'gradient_norms.png'}\n"
    assert png_size(digits_run / "gradient_norms.png") == (1000, 400)


@pytest.mark.slow
def test_weights_and_confusion_images(digits_run, tmp_path):
    out = tmp_path / "figures" / "curves.png"
    result = plot(digits_run, "--out", out, "--weights", "--units", "12", "--confusion")
    assert result.exit_code == 0, result.output
    names = ["curves.png", "gradient_norms.png", "weights.png", "confusion_matrix.png", "most_confused.png"]
    assert result.stdout == "".join(f"wrote {out.parent / name}\n" for name in names)
    assert result.stderr.startswith("warning: MNIST NOT FOUND, USING THE BUNDLED SAMPLE")  # the data of the run
    assert png_size(out.parent / "weights.png") == (800, 240)  # 12 units: 2 rows of 8, 100 px each, + title
    assert png_size(out.parent / "confusion_matrix.png") == (600, 600)
    wrong = 40 - round(40 * json.loads((digits_run / "metrics.json").read_text())["test"]["accuracy"])
    rows = math.ceil(min(wrong, 32) / 8)  # the most confident of the wrong guesses, 8 to a row
    assert png_size(out.parent / "most_confused.png") == (800, 100 * rows + 40)


@pytest.mark.slow
def test_weights_of_points_are_a_heat_map(tmp_path):
    result = invoke("train", SPIRALS, "--epochs", "1", "--out", tmp_path, "--quiet")
    assert result.exit_code == 0, result.output
    run = the_run(tmp_path)
    result = plot(run, "--weights")
    assert result.exit_code == 0, result.output
    assert png_size(run / "weights.png") == (800, 250)  # 2 inputs x 64 hidden units


def test_resumed_runs_keep_the_earlier_gradient_norms(tmp_path, offline_mnist):
    config = tmp_path / "digits.yaml"
    config.write_text("data: {dataset: mnist, limit: 20}\n"
                      "model: {layers: [{dense: 8, activation: relu}, {dense: 10}]}\n"
                      "training: {epochs: 1, batch_size: 8, gradient_norms: {every: 1}}\n")
    assert invoke("train", config, "--out", tmp_path / "runs", "-q").exit_code == 0
    run = the_run(tmp_path / "runs")
    result = invoke("train", "--resume", run, "--epochs", "3", "-q")
    assert result.exit_code == 0, result.output
    # 16 training rows in batches of 8: two records an epoch, for the three epochs.
    assert History.from_json(run / "gradient_norms.json")["epoch"] == pytest.approx([0.5, 1, 1.5, 2, 2.5, 3])


def test_augment_draws_training_pictures_and_their_augmented_versions(tmp_path, offline_mnist):
    config = tmp_path / "elastic.yaml"
    config.write_text("name: elastic\ndata: {dataset: mnist, validation_split: 0.25, limit: 40, augment: "
                      "{rotate: 10, elastic: {alpha: 34, sigma: 4}}}\n"
                      "model: {layers: [{dense: 16, activation: relu}, {dense: 10}]}\n"
                      "training: {epochs: 1, batch_size: 10}\n")
    assert invoke("train", config, "--out", tmp_path / "runs", "--quiet").exit_code == 0
    run = the_run(tmp_path / "runs")
    result = plot(run, "--augment")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"wrote {run / 'learning_curves.png'}\nwrote {run / 'augmented.png'}\n"
    assert png_size(run / "augmented.png") == (800, 640)  # 6 pictures, each with 7 versions: 8 x 6 of 100 px + title
    plain = tmp_path / "plain.yaml"
    plain.write_text(config.read_text().replace(", augment: {rotate: 10, elastic: {alpha: 34, sigma: 4}}", ""))
    assert invoke("train", plain, "--out", tmp_path / "plain", "--quiet").exit_code == 0
    assert_one_line_error(plot(the_run(tmp_path / "plain"), "--augment"),
                          "was trained without augmentation (no data.augment in its config); nothing to draw")
