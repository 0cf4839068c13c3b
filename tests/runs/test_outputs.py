"""No command writes over what another wrote: a file a user names as an output (``export -o``, ``predict --out``,
``plot --out``, ``config init --out``) is refused, with one line and exit code 2, if it is (after symlinks and
``..``) a file ``mlp`` wrote into a run directory or a sweep folder, or the command's own input; ``train --out``
and ``sweep --out`` refuse an existing run directory instead of adding files inside it. The files refused are
left byte for byte as they were, and the run still evaluates and resumes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import assert_one_line_error, invoke, the_run

SPIRALS = ("data: {dataset: spirals, samples: 100}\ntraining: {epochs: 1}\n"
           "model: {layers: [{dense: 8, activation: relu}, {dense: 2}]}\n")
RUN_FILES = ("config.yaml", "train.log", "last.npz", "model.npz", "history.csv", "history.json", "metrics.json")


@pytest.fixture
def run(tmp_path) -> Path:
    """A finished run of spirals, trained in ``tmp_path/runs`` (``runs/latest`` links to it)."""
    config = tmp_path / "spirals.yaml"
    config.write_text(SPIRALS)
    result = invoke("train", config, "--out", tmp_path / "runs", "--quiet")
    assert result.exit_code == 0, result.output
    return the_run(tmp_path / "runs")


def contents(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file()}


def assert_unharmed(run: Path, before: dict[str, bytes]) -> None:
    """Every file of the run is as it was, and the run still evaluates and resumes."""
    assert contents(run) == before
    assert invoke("evaluate", run).exit_code == 0
    resumed = invoke("train", "--resume", run, "--epochs", "2", "--quiet")
    assert resumed.exit_code == 0, resumed.output


@pytest.mark.parametrize("name", ["model.npz", "last.npz", "metrics.json", "config.yaml", "history.json"])
def test_export_refuses_to_write_over_a_file_of_the_run(run, name):
    pytest.importorskip("onnx")
    before = contents(run)
    assert_one_line_error(invoke("export", run, "-o", run / name), f"{run / name}", "-o/--out")
    assert_unharmed(run, before)


@pytest.mark.parametrize("how", ["latest", "dotdot", "symlink"])
def test_a_run_file_is_refused_however_it_is_reached(run, tmp_path, how):
    """``runs/latest/model.npz``, ``runs/x/../x/model.npz`` and a link of the user's to it are the same file."""
    pytest.importorskip("onnx")
    before = contents(run)
    if how == "latest":
        target = tmp_path / "runs" / "latest" / "last.npz"
    elif how == "dotdot":
        target = run / ".." / run.name / "last.npz"
    else:
        target = tmp_path / "mine.npz"
        os.symlink(run / "last.npz", target)
    line = assert_one_line_error(invoke("export", run, "-o", target), "would overwrite", "of the run directory")
    assert str(run) in line
    assert_unharmed(run, before)


def test_export_writes_anywhere_else(run, tmp_path):
    pytest.importorskip("onnx")
    assert invoke("export", run, "-o", tmp_path / "model.onnx").exit_code == 0
    assert (tmp_path / "model.onnx").stat().st_size > 0


def test_predict_refuses_the_model_it_reads_and_the_rows_it_reads(run, tmp_path):
    rows = tmp_path / "points.csv"
    rows.write_text("0.1,0.2\n0.3,-0.4\n")
    before = contents(run)
    assert_one_line_error(invoke("predict", run, rows, "--out", run / "model.npz"), "is this command's input")
    assert_one_line_error(invoke("predict", run / "model.npz", rows, "--out", run / "model.npz"),
                          "is this command's input")
    assert_one_line_error(invoke("predict", run, rows, "--out", rows), "is this command's input")
    assert rows.read_text() == "0.1,0.2\n0.3,-0.4\n"
    assert_one_line_error(invoke("predict", run, rows, "--out", run / "history.csv"), "would overwrite history.csv")
    assert_unharmed(run, before)
    assert invoke("predict", run, rows, "--out", tmp_path / "predictions.csv").exit_code == 0


def test_plot_refuses_its_inputs_and_the_run_files(run):
    pytest.importorskip("matplotlib")
    before = contents(run)
    assert_one_line_error(invoke("plot", run, "--out", run / "history.json"), "is this command's input")
    assert_one_line_error(invoke("plot", run / "history.json", "--out", run / "history.json"),
                          "is this command's input")
    assert_one_line_error(invoke("plot", run, "--out", run / "metrics.json"), "would overwrite metrics.json")
    assert_unharmed(run, before)


def test_plot_of_a_sweep_refuses_the_sweep_files(tmp_path):
    folder = tmp_path / "sweep"
    folder.mkdir()
    (folder / "sweep.yaml").write_text("space: {}\nmetric: loss\n")
    (folder / "results.csv").write_text("trial,loss\n")
    assert_one_line_error(invoke("plot", folder, "--out", folder / "results.csv"),
                          "would overwrite results.csv of the sweep folder")
    assert (folder / "results.csv").read_text() == "trial,loss\n"


def test_config_init_refuses_a_run_file_even_one_not_written_yet(run):
    """A run still training writes metrics.json last: a new file of that name in a run directory is refused too."""
    (run / "metrics.json").unlink()
    before = contents(run)
    assert_one_line_error(invoke("config", "init", "spirals", "--out", run / "metrics.json"),
                          "would overwrite metrics.json of the run directory")
    assert contents(run) == before


def test_config_init_writes_into_a_folder_that_merely_has_a_config(tmp_path):
    """A project folder with a config.yaml of the user's is not a run directory."""
    (tmp_path / "config.yaml").write_text(SPIRALS)
    assert invoke("config", "init", "spirals", "--out", tmp_path / "train.log").exit_code == 0


def test_train_refuses_a_run_directory_as_the_output_folder(run, tmp_path):
    before = contents(run)
    config = tmp_path / "spirals.yaml"
    assert_one_line_error(invoke("train", config, "--out", run), "is a run directory", f"e.g. {run.parent}")
    assert_one_line_error(invoke("train", config, "--out", tmp_path / "runs" / "latest"), "is a run directory")
    # output.dir in the config is the same setting as --out
    config.write_text(SPIRALS + f"output: {{dir: {run}}}\n")
    assert_one_line_error(invoke("train", config), "output.dir", "is a run directory")
    assert contents(run) == before
    assert [path.name for path in run.iterdir() if path.is_dir()] == []


def test_a_runs_config_trains_a_new_run_beside_it_from_anywhere(run, tmp_path, monkeypatch):
    """config.yaml names the output folder absolutely, as the data: `mlp train RUN_DIR/config.yaml` repeats the run
    in the folder the first one went in, not in a folder inside it."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    before = contents(run)
    result = invoke("train", run / "config.yaml", "--quiet")
    assert result.exit_code == 0, result.output
    assert len([path for path in run.parent.iterdir() if not path.is_symlink()]) == 2
    assert contents(run) == before and not [path for path in run.iterdir() if path.is_dir()]
    assert list(elsewhere.iterdir()) == []


def test_train_refuses_an_output_folder_inside_a_run_directory(run, tmp_path):
    """A config.yaml of an earlier version named its output folder relatively, which reads as a folder inside the
    run directory it is in: refused, as any folder inside a run directory is."""
    config = run / "config.yaml"
    config.write_text(config.read_text().replace(f"dir: {tmp_path / 'runs'}", "dir: runs"))
    before = contents(run)
    assert_one_line_error(invoke("train", config), "output.dir", f"is inside the run directory {run}",
                          f"e.g. {run.parent}")
    assert_one_line_error(invoke("train", tmp_path / "spirals.yaml", "--out", run / "sub" / "runs"),
                          f"is inside the run directory {run}")
    assert contents(run) == before and not [path for path in run.iterdir() if path.is_dir()]


def test_train_refuses_a_sweep_folder_as_the_output_folder(tmp_path):
    folder = tmp_path / "sweep"
    folder.mkdir()
    (folder / "sweep.yaml").write_text("space: {}\n")
    config = tmp_path / "spirals.yaml"
    config.write_text(SPIRALS)
    assert_one_line_error(invoke("train", config, "--out", folder), "is a sweep folder")
    assert sorted(path.name for path in folder.iterdir()) == ["sweep.yaml"]


def test_sweep_refuses_a_run_directory_and_its_own_sweep_file(run, tmp_path):
    sweep_file = tmp_path / "sweep.yaml"
    sweep_file.write_text(f"base: {tmp_path / 'spirals.yaml'}\nspace: {{optimizer.lr: [0.01, 0.1]}}\n")
    before = contents(run)
    assert_one_line_error(invoke("sweep", sweep_file, "--out", run), "--out", "is a run directory")
    assert contents(run) == before
    text = sweep_file.read_text()
    assert_one_line_error(invoke("sweep", sweep_file, "--out", tmp_path), "is this command's input")
    assert sweep_file.read_text() == text
