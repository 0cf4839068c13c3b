"""``mlp plot``: learning curves of a run directory's history.json as a PNG."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import png_size

from mlp.cli import main
from mlp.history import History

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
    assert_error(plot(run), 'mlp plot needs matplotlib, which is not installed; install it with: '
                            'pip install "mlp[plot]"  (or pip install matplotlib)')
    assert not (run / "learning_curves.png").exists()
