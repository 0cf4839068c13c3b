"""Paths and pictures that say what is true: a config's output.dir is relative to the config's folder, as its data
paths are (a command line's --out and a shipped recipe's runs to where mlp runs); a data file that cannot be read
is named by every command; mlp plot draws images only of image data, and titles every picture with the run's name,
not the `latest` link's."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import assert_one_line_error, invoke, the_run

from mlp.config import read, recipes

SPIRALS_RUN = ("data: {dataset: spirals, samples: 200}\n"
               "model: {layers: [{dense: 8, activation: relu}, {dense: 2}]}\n"
               "training: {epochs: 1}\n")


def runs_in(folder: Path) -> list[Path]:
    """The run directories ``mlp train`` wrote in ``folder`` (not the ``latest`` link)."""
    return [path for path in folder.iterdir() if not path.is_symlink()] if folder.is_dir() else []


@pytest.fixture
def elsewhere(tmp_path, monkeypatch) -> Path:
    """The current directory: a folder of its own, not the config's."""
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


# -- output.dir: relative to the config's folder, like data.path ------------------------------------------------


def test_output_dir_in_a_config_is_relative_to_the_config_file(tmp_path, elsewhere):
    config = tmp_path / "sub" / "c.yaml"
    config.parent.mkdir()
    config.write_text(SPIRALS_RUN + "output: {dir: out}\n")
    result = invoke("train", Path("..") / "sub" / "c.yaml", "--quiet")
    assert result.exit_code == 0, result.output
    assert len(runs_in(tmp_path / "sub" / "out")) == 1
    assert not (elsewhere / "out").exists()


def test_out_on_the_command_line_is_relative_to_the_current_directory(tmp_path, elsewhere):
    config = tmp_path / "sub" / "c.yaml"
    config.parent.mkdir()
    config.write_text(SPIRALS_RUN + "output: {dir: out}\n")
    result = invoke("train", config, "--out", "rel", "--quiet")
    assert result.exit_code == 0, result.output
    assert len(runs_in(elsewhere / "rel")) == 1
    assert not (tmp_path / "sub" / "rel").exists() and not (tmp_path / "sub" / "out").exists()


def test_a_shipped_recipe_writes_its_runs_in_the_current_directory(elsewhere):
    result = invoke("train", "spirals", "--epochs", "1", "--quiet")
    assert result.exit_code == 0, result.output
    assert len(runs_in(elsewhere / "runs")) == 1
    # the recipe that names output.dir (mnist: `dir: runs`) keeps it relative to where mlp runs, not its folder
    for name in recipes():
        assert read(name).get("output", {}).get("dir", "runs") == "runs", name


# -- a data file that cannot be read is named, by every command that reads it -----------------------------------

PROC_MEM = Path("/proc/self/mem")  # a regular file whose every read fails with EIO, without naming the file
needs_proc = pytest.mark.skipif(not PROC_MEM.exists(), reason="needs Linux's /proc")


@pytest.fixture
def iris_run(tmp_path) -> Path:
    """A 2-epoch run of the csv_example recipe (iris: 4 features, 3 classes) on its own copy of iris.csv."""
    config = tmp_path / "iris" / "iris.yaml"
    assert invoke("config", "init", "csv_example", "--out", config).exit_code == 0
    result = invoke("train", config, "--epochs", "2", "--out", tmp_path / "runs", "--quiet")
    assert result.exit_code == 0, result.output
    return the_run(tmp_path / "runs")


@needs_proc
@pytest.mark.parametrize("suffix", [".csv", ".npz"])
def test_evaluate_and_predict_name_a_data_file_that_cannot_be_read(iris_run, tmp_path, suffix):
    unreadable = tmp_path / f"mem{suffix}"
    unreadable.symlink_to(PROC_MEM)
    for result in (invoke("evaluate", iris_run, "--data", unreadable), invoke("predict", iris_run, unreadable)):
        line = assert_one_line_error(result, str(unreadable))
        assert "Input/output error" in line and "data.path" not in line


@needs_proc
def test_evaluate_names_the_runs_own_data_file_when_it_cannot_be_read(iris_run, tmp_path):
    data = tmp_path / "iris" / "data" / "iris.csv"
    data.unlink()
    data.symlink_to(PROC_MEM)
    assert_one_line_error(invoke("evaluate", iris_run), f"cannot read {data}: Input/output error")


@pytest.mark.parametrize("suffix", [".csv", ".npz"])
def test_a_folder_or_a_pipe_as_predicts_input_is_refused_in_one_line(iris_run, tmp_path, suffix):
    folder = tmp_path / f"folder{suffix}"
    folder.mkdir()
    pipe = tmp_path / f"pipe{suffix}"
    os.mkfifo(pipe)  # opening it to read would wait for a writer forever
    for path in (folder, pipe):
        assert_one_line_error(invoke("predict", iris_run, path), f"{path} is not a regular file")
    assert_one_line_error(invoke("predict", iris_run, tmp_path), f"{tmp_path}: unknown input file type")
