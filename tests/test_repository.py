"""The repository holds source, not output: no committed document names a path of the machine that made it (the
result runs name their data as any reader would). (That the tests leave the checkout as they found it is checked
by conftest.)"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
from conftest import ROOT, invoke, the_run

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


def test_no_committed_document_names_a_path_of_the_machine():
    files = committed("docs", "configs", "README.md")
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
