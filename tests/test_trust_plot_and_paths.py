"""Paths and pictures that say what is true: a config's output.dir is relative to the config's folder, as its data
paths are (a command line's --out and a shipped recipe's runs to where mlp runs); a data file that cannot be read
is named by every command; mlp plot draws images only of image data, and titles every picture with the run's name,
not the `latest` link's."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import invoke

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
