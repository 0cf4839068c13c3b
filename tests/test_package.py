from __future__ import annotations

import subprocess
import sys
from importlib import metadata

import pytest
from click.testing import CliRunner
from conftest import ROOT

import mlp
from mlp.cli import main
from mlp.extras import MissingExtraError, extra_requirements, require


def test_public_names_import():
    code = "from mlp import Sequential, Dense, ReLU, Softmax, SoftmaxCrossEntropy"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_every_public_class_is_documented():
    for name in mlp.__all__:
        obj = getattr(mlp, name)
        if not isinstance(obj, type):
            continue
        assert obj.__doc__ and len(obj.__doc__) > 20, name
        if issubclass(obj, mlp.Layer | mlp.Loss | mlp.nn.optim.Optimizer):  # the numerical classes
            assert "(batch" in obj.__doc__ or "=" in obj.__doc__ or "<-" in obj.__doc__, name


def test_cli_help_and_version():
    runner = CliRunner()
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0 and "Train multilayer perceptrons" in result.output
    result = runner.invoke(main, ["--version"])
    assert result.exit_code == 0 and result.output.splitlines()[0] == f"mlp, version {mlp.__version__}"


@pytest.mark.parametrize("extra", ["plot", "sklearn", "onnx", "mpi", "optuna", "dask", "docs"])
def test_a_missing_extras_message_names_what_pyproject_declares_for_it(extra):
    tomllib = pytest.importorskip("tomllib")
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"][extra]
    assert extra_requirements(extra) == declared


def test_a_missing_extra_is_one_line_with_an_install_command_that_works_outside_a_clone(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    with pytest.raises(MissingExtraError) as caught:
        require("sklearn", "sklearn", "mlp.sklearn", "scikit-learn")
    assert str(caught.value) == ("mlp.sklearn needs scikit-learn, which is not installed; install it with: "
                                 "pip install 'scikit-learn>=1.6'  (the sklearn extra)")

    def not_installed(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "requires", not_installed)  # mlp run from a source tree, not installed
    with pytest.raises(MissingExtraError, match=r"install it with: pip install scikit-learn  \(the sklearn extra\)$"):
        require("sklearn", "sklearn", "mlp.sklearn", "scikit-learn")
