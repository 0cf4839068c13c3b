"""The manual as a site: ``mkdocs build --strict`` builds it (into a temporary folder: never into the checkout),
with an API reference generated from the docstrings, and fails on a broken link, a missing anchor, a link to a
file of the repository that does not exist and a reference mkdocstrings cannot resolve."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from docblocks import ROOT

import mlp

API = ROOT / "docs" / "api"


def build(config: Path, site: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(config),
                           "--site-dir", str(site)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})  # not its advertisement


@pytest.mark.slow
def test_the_site_builds_strictly_with_the_api_reference(tmp_path):
    result = build(ROOT / "mkdocs.yml", tmp_path / "site")
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr, result.stderr
    api = (tmp_path / "site" / "api" / "nn" / "index.html").read_text()
    assert 'id="mlp.nn.dense.Dense.backward"' in api and "dL/dW = X.T @ Delta" in api
    # the derivation's links to the code lead to the code's entries in the API reference, or to the file itself
    backprop = (tmp_path / "site" / "backprop" / "index.html").read_text()
    assert 'href="../api/nn/#mlp.nn.dense"' in backprop
    results = (tmp_path / "site" / "results" / "index.html").read_text()
    assert 'href="../repository/configs/mnist.yaml"' in results
    assert (tmp_path / "site" / "repository" / "configs" / "mnist.yaml").read_text() == \
        (ROOT / "configs" / "mnist.yaml").read_text()


@pytest.mark.slow
def test_a_broken_link_anchor_or_reference_fails_the_build(tmp_path):
    copy = tmp_path / "project"
    for name in ("docs", "mlp", "configs"):
        shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("mkdocs.yml", "mkdocs_hooks.py"):
        shutil.copy(ROOT / name, copy / name)
    index = copy / "docs" / "index.md"
    index.write_text(index.read_text() + "\nSee [a page](no-such-page.md), [a section](python.md#no-such-section), "
                     "[a module](../mlp/nn/no_such_module.py) and [an object][mlp.nn.dense.NoSuchClass].\n")
    result = build(copy / "mkdocs.yml", tmp_path / "site")
    assert result.returncode != 0
    for broken in ("'no-such-page.md'", "'#no-such-section'", "'../mlp/nn/no_such_module.py'",
                   "'mlp.nn.dense.NoSuchClass'"):
        assert broken in result.stderr, (broken, result.stderr)
    assert "Aborted with 4 warnings in strict mode" in result.stdout + result.stderr, result.stdout + result.stderr


def test_the_api_reference_documents_the_public_modules():
    documented = {line.removeprefix(":::").strip() for page in API.glob("*.md")
                  for line in page.read_text().splitlines() if line.startswith(":::")}
    package = Path(mlp.__file__).parent
    nn = {f"mlp.nn.{path.stem}" for path in (package / "nn").glob("*.py") if path.stem != "__init__"}
    callbacks = {f"mlp.train.callbacks.{path.stem}" for path in (package / "train" / "callbacks").glob("*.py")
                 if path.stem != "__init__"}
    public = nn | callbacks | {"mlp.train.loop", "mlp.train.callbacks", "mlp.train.checkpoint", "mlp.train.history",
                               "mlp.train.schedules", "mlp.train.metrics", "mlp.train.parallel", "mlp.data",
                               "mlp.sklearn", "mlp.export", "mlp.runs.config"}
    assert public <= documented, sorted(public - documented)


def test_every_page_of_the_api_reference_is_in_the_nav():
    config = (ROOT / "mkdocs.yml").read_text()
    assert all(f"api/{page.name}" in config for page in API.glob("*.md"))
