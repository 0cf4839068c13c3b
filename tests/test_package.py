from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

import mlp
from mlp.cli import main


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
    assert result.exit_code == 0 and result.output.strip() == f"mlp, version {mlp.__version__}"
