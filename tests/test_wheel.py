"""The built package (not the source tree) carries the bundled MNIST sample, loads it, and runs the default
``mlp train`` (its config is built in, not read from the source tree's configs/)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

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


def test_non_editable_install_ships_and_loads_the_sample(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    purelib = subprocess.check_output([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                      text=True).strip()
    # The dependencies come from the environment running the tests (a plain path line in a .pth file: that
    # environment's own .pth files, such as its editable mlp, are not processed).
    Path(purelib, "test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # Built from a clean copy: a build/ folder left in the working tree could supply files the package lacks.
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "__pycache__",
                                                                 ".pytest_cache", ".ruff_cache", "runs"))
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--no-deps", str(source)], check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("MLP_DATA_DIR", "PYTHONPATH")}
    env["XDG_CACHE_HOME"] = str(tmp_path / "empty-cache")
    result = subprocess.run([python, "-c", CHECK], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok ") and str(venv) in result.stdout
    result = subprocess.run([python, "-c", TRAIN], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "BUNDLED SAMPLE" in result.stderr and "test loss" in result.stdout
    run = the_run(tmp_path / "runs")
    assert run.name.startswith("mnist-") and (run / "model.npz").is_file()
