"""The repository holds source, not output: no committed document names a path of the machine that made it (the
result runs name their data as any reader would), and every script in scripts/ runs, with ``--help`` and, where
it is cheap, on a tiny input. (That the tests leave the checkout as they found it is checked by conftest.)"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from conftest import FULL_MNIST, ROOT, invoke, needs_full_mnist, the_run

SCRIPTS = sorted((ROOT / "scripts").glob("*.py"))
# The folders where a machine keeps its users' and its own files: in a committed document they are a leak
MACHINE_PATH = re.compile(rb"/(root|home|work|tmp)/")


def committed(*folders: str) -> list[Path]:
    """The files git holds under ``folders`` (every file there outside a git checkout, e.g. the wheel's copy)."""
    listing = subprocess.run(["git", "ls-files", "-z", "--", *folders], cwd=ROOT, capture_output=True)
    if listing.returncode == 0 and listing.stdout:
        return [ROOT / name for name in listing.stdout.decode().split("\0") if name]
    return [path for folder in folders for path in sorted((ROOT / folder).rglob("*")) if path.is_file()]


def script(name: str) -> ModuleType:
    """scripts/<name>.py imported as a module."""
    spec = importlib.util.spec_from_file_location(f"script_{name}", ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # where its dataclasses look up their module
    spec.loader.exec_module(module)
    return module


def run_script(name: str, *args: str | Path, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / name), *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_no_committed_document_names_a_path_of_the_machine():
    files = committed("docs", "configs", "README.md", "mkdocs.yml")
    assert any(path.suffix == ".json" for path in files)  # the result runs are among them
    leaks = [f"{path.relative_to(ROOT)}: {match.group().decode()}" for path in files
             if path.is_file() and (match := MACHINE_PATH.search(path.read_bytes()))]
    assert not leaks, leaks


def test_a_result_run_carries_no_path_of_the_machine(tmp_path, monkeypatch):
    """scripts/results.py rewrites a run trained with absolute paths: its data source, here a CSV file in the
    home folder, from ``~``; its folder as the commands of docs/results.md name it."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    csv = tmp_path / "home" / "data" / "flowers.csv"
    csv.parent.mkdir(parents=True)
    rng = np.random.default_rng(0)
    csv.write_text("a,b,label\n" + "".join(f"{a:.3f},{b:.3f},{int(a > b)}\n" for a, b in rng.random((60, 2))))
    config = tmp_path / "run.yaml"
    config.write_text(f"data: {{dataset: csv, path: {csv}, target: label}}\n"
                      "model: {layers: [{dense: 4, activation: relu}, {dense: 2}]}\ntraining: {epochs: 1}\n")
    assert invoke("train", config, "--out", tmp_path / "runs", "--quiet").exit_code == 0
    run = the_run(tmp_path / "runs")
    assert f"from file {csv}: " in (run / "train.log").read_text()
    script("results").make_portable(run)
    assert json.loads((run / "metrics.json").read_text())["data"]["source"] == "file ~/data/flowers.csv"
    log = (run / "train.log").read_text()
    assert log.startswith(f"run      run -> docs/results/runs/{run.name}  (mlp ")
    assert "from file ~/data/flowers.csv: " in log and f"saved    docs/results/runs/{run.name}\n" in log
    for name in ("train.log", "metrics.json", "config.yaml"):
        assert str(tmp_path) not in (run / name).read_text(), name


def test_a_data_source_is_named_as_a_reader_would(monkeypatch):
    results = script("results")
    monkeypatch.setenv("HOME", "/home/someone")
    assert results.portable_source("cache /home/someone/.cache/mlp/mnist") == "cache ~/.cache/mlp/mnist"
    assert results.portable_source("MLP_DATA_DIR /data/sets/mnist") == "MLP_DATA_DIR $MLP_DATA_DIR"
    assert results.portable_source(f"file {ROOT / 'configs' / 'x.csv'}") == "file configs/x.csv"
    for as_it_is in ("bundled sample", "synthetic (seed 3)", "directory /srv/mnist"):
        assert results.portable_source(as_it_is) == as_it_is


# scripts/sklearn_benchmark.py imports scikit-learn before it reads its arguments: 2 s
@pytest.mark.parametrize("path", [pytest.param(path, marks=[pytest.mark.slow] * (path.name == "sklearn_benchmark.py"))
                                  for path in SCRIPTS], ids=[path.name for path in SCRIPTS])
def test_every_script_says_how_to_use_it(path, tmp_path):
    result = run_script(path.name, "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: ") and result.stderr == ""


def test_the_mnist_sample_script_names_what_it_lacks(tmp_path):
    result = run_script("make_mnist_sample.py", cwd=tmp_path)  # no folder, and MLP_DATA_DIR unset (conftest)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].endswith("error: give the folder of the four MNIST files, or set "
                                                   "MLP_DATA_DIR to it")
    result = run_script("make_mnist_sample.py", tmp_path, "--out", tmp_path / "sample.npz", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr == (f"error: directory {tmp_path} has no complete mnist set (missing: "
                             "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
                             "t10k-labels-idx1-ubyte.gz); point it at the folder with the four files\n")
    assert not (tmp_path / "sample.npz").exists()


@pytest.mark.slow  # reads the full set when MLP_DATA_DIR has it
@needs_full_mnist
def test_the_mnist_sample_script_makes_the_bundled_sample(tmp_path):
    result = run_script("make_mnist_sample.py", FULL_MNIST, "--out", tmp_path / "sample.npz", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    with np.load(tmp_path / "sample.npz") as made, np.load(ROOT / "mlp" / "data" / "mnist_sample.npz") as bundled:
        assert sorted(made.files) == sorted(bundled.files)
        for role in bundled.files:
            assert made[role].dtype == bundled[role].dtype
            np.testing.assert_array_equal(made[role], bundled[role])


@pytest.mark.slow
def test_the_interrupt_script_stops_and_resumes_a_run(tmp_path):
    result = run_script("interrupt_trials.py", "--trials", "1", "--signals", "SIGTERM", "--commands", "train",
                        "predict", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SIGTERM: " in result.stdout and "FAILED" not in result.stdout
