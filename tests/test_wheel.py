"""The built package, installed into a fresh environment and used from an empty folder (not the source tree):
it carries the bundled MNIST sample, the recipes, the derivation and its license, and the commands a new
user starts with work: ``mlp train spirals``, ``mlp config list``, ``mlp config init``, ``mlp evaluate`` and
``mlp predict``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import the_run

ROOT = Path(__file__).resolve().parents[1]

CHECK = """
import warnings, mlp, mlp.data
assert "site-packages" in mlp.__file__, mlp.__file__
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    data = mlp.data.load_mnist(download_missing=False)
assert data.source == "bundled sample" and data.x_train.shape == (10000, 784), data
assert any("BUNDLED SAMPLE" in str(w.message) for w in caught)
print("ok", mlp.__file__)
"""

# The default run, offline: downloads are refused at once (no network needed, no retry waits).
TRAIN = """
import dataclasses, mlp.data.download, mlp.data.mnist as mnist
mnist.MNIST = dataclasses.replace(mnist.MNIST, mirrors=("http://127.0.0.1:9/",))
mlp.data.download.time.sleep = lambda seconds: None
from mlp.cli import main
main(["train", "--epochs", "1", "--set", "data.limit=200", "--out", "runs", "-q"])
"""


@dataclass
class Installed:
    wheel: Path
    venv: Path

    @property
    def python(self) -> str:
        return str(self.venv / "bin" / "python")


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Installed:
    """The wheel, built from a clean copy of the project, installed without the source tree in a fresh venv."""
    tmp = tmp_path_factory.mktemp("wheel")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    purelib = subprocess.check_output([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                      text=True).strip()
    # The dependencies come from the environment running the tests (a plain path line in a .pth file: that
    # environment's own .pth files, such as its editable mlp, are not processed).
    Path(purelib, "test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # A clean copy: a build/ folder left in the working tree could supply files the package lacks.
    source = tmp / "source"
    leftovers = shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "__pycache__", ".pytest_cache",
                                       ".ruff_cache", "site")

    def ignored(folder: str, names: list[str]) -> set[str]:  # runs/ of the checkout's own runs, not mlp/runs
        return leftovers(folder, names) | ({"runs"} if Path(folder) == ROOT else set())

    shutil.copytree(ROOT, source, ignore=ignored)
    # Built by the test environment, with its setuptools (the dev extra): no build environment to download.
    wheels = tmp / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--wheel-dir",
                    str(wheels), str(source)], check=True)
    (wheel,) = wheels.glob("numpy_mlp-*.whl")
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--no-deps", str(wheel)], check=True)
    return Installed(wheel, venv)


def user_env(tmp_path: Path) -> dict[str, str]:
    """A user's environment: no MLP_DATA_DIR, nothing on PYTHONPATH, an empty cache."""
    env = {k: v for k, v in os.environ.items() if k not in ("MLP_DATA_DIR", "PYTHONPATH")}
    env["XDG_CACHE_HOME"] = str(tmp_path / "empty-cache")
    return env


def test_the_wheel_ships_the_sample_recipes_derivation_and_license(installed):
    with zipfile.ZipFile(installed.wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert {"mlp/configs/spirals.yaml", "mlp/configs/data/iris.csv", "mlp/docs/backprop.md",
            "mlp/data/mnist_sample.npz"} <= names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "Name: numpy-mlp\n" in metadata and "License-Expression: MIT" in metadata and "Classifier: " in metadata


def test_the_installed_package_loads_the_sample_and_trains_offline(installed, tmp_path):
    env = user_env(tmp_path)
    result = subprocess.run([installed.python, "-c", CHECK], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok ") and str(installed.venv) in result.stdout
    result = subprocess.run([installed.python, "-c", TRAIN], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "BUNDLED SAMPLE" in result.stderr and "test loss" in result.stdout
    run = the_run(tmp_path / "runs")
    assert run.name.startswith("mnist-") and (run / "model.npz").is_file()


def test_the_first_commands_work_from_an_empty_folder(installed, tmp_path):
    """What a new user does after installing: the commands the README starts with, from an empty folder."""
    empty = tmp_path / "empty"
    empty.mkdir()
    env = user_env(tmp_path)
    mlp = str(installed.venv / "bin" / "mlp")

    def run(*args: str) -> str:
        result = subprocess.run([mlp, *args], cwd=empty, env=env, capture_output=True, text=True)
        assert result.returncode == 0, (args, result.stderr)
        return result.stdout

    assert "test loss" in run("train", "spirals", "--epochs", "3", "-q")
    assert "spirals " in run("config", "list") and "csv_example " in run("config", "list")
    assert run("config", "init", "csv_example") == "wrote csv_example.yaml\nwrote data/iris.csv\n"
    assert "test loss" in run("train", "csv_example.yaml", "--epochs", "2", "-q")
    assert "accuracy" in run("evaluate", "runs/latest")
    (empty / "flowers.csv").write_text("sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n")
    assert run("predict", "runs/latest", "flowers.csv").startswith("row,prediction,p_setosa,p_versicolor,p_virginica")
