"""Paths and pictures that say what is true: a config's output.dir is relative to the config's folder, as its data
paths are (a command line's --out and a shipped recipe's runs to where mlp runs); a data file that cannot be read
is named by every command; mlp plot draws images only of image data, and titles every picture with the run's name,
not the `latest` link's."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest
from conftest import assert_one_line_error, invoke, png_size, the_run

from mlp.runs.config import read, recipes

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


# -- mlp plot: images of image data only, every picture titled with the run's own name -------------------------


def png_title(path: Path) -> str | None:
    """The ``Title`` of a PNG's text chunks (``mlp.plots`` writes each picture's title there)."""
    data, at = path.read_bytes(), 8
    while at < len(data):
        (length,), kind = struct.unpack(">I", data[at:at + 4]), data[at + 4:at + 8]
        if kind == b"tEXt":
            key, _, value = data[at + 8:at + 8 + length].partition(b"\0")
            if key == b"Title":
                return value.decode("latin-1")
        at += 12 + length
    return None


def test_weights_of_data_that_are_not_images_are_a_heat_map_not_2x2_images(iris_run):
    pytest.importorskip("matplotlib")
    result = invoke("plot", iris_run.parent / "latest", "--weights")
    assert result.exit_code == 0, result.output
    weights = iris_run.parent / "latest" / "weights.png"
    assert result.stdout.splitlines()[-1] == f"wrote {weights}"
    # one row per input, one column per hidden unit: 4 x 16 (16 images of 2x2 pixels would be 800 x 240)
    assert png_size(weights) == (800, 250)
    assert png_title(weights) == f"{iris_run.name}: first-layer weights, 4 inputs x 16 hidden units"


def test_confusion_of_data_that_are_not_images_skips_the_mistakes_picture(iris_run):
    pytest.importorskip("matplotlib")
    result = invoke("plot", iris_run, "--confusion")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1:] == [
        f"wrote {iris_run / 'confusion_matrix.png'}",
        "not drawn: most_confused.png: the rows of iris are 4 numbers each, not images; the mistakes are drawn "
        "for image data such as mnist"]
    assert png_size(iris_run / "confusion_matrix.png") == (600, 600)
    assert png_title(iris_run / "confusion_matrix.png").startswith(f"{iris_run.name}: test accuracy ")
    assert not (iris_run / "most_confused.png").exists()


@pytest.mark.slow
def test_every_picture_of_runs_latest_is_titled_with_the_runs_own_name(tmp_path, offline_mnist):
    pytest.importorskip("matplotlib")
    config = tmp_path / "digits.yaml"
    config.write_text("data: {dataset: mnist, validation_split: 0.25, limit: 40}\n"
                      "model: {layers: [{dense: 16, activation: relu}, {dense: 10}]}\n"
                      "training: {epochs: 2, batch_size: 10, gradient_norms: {every: 1}}\n")
    result = invoke("train", config, "--out", tmp_path / "runs", "--quiet")
    assert result.exit_code == 0, result.output
    run = the_run(tmp_path / "runs")
    result = invoke("plot", tmp_path / "runs" / "latest", "--weights", "--units", "8", "--confusion")
    assert result.exit_code == 0, result.output
    pictures = {"learning_curves.png": "", "gradient_norms.png": ": gradients by layer",
                "weights.png": ": incoming weights of the first 8 hidden units",
                "confusion_matrix.png": ": test accuracy ", "most_confused.png": ": the most confident of "}
    assert [line.rpartition("/")[2] for line in result.stdout.splitlines()] == list(pictures)
    for name, title in pictures.items():
        assert png_title(run / name).startswith(run.name + title), (name, png_title(run / name))
        assert "latest" not in png_title(run / name)
