"""Examples the tests of several packages share: an instance of any registered layer, a batch for any loss, an
activation that is not built in, and ``mlp train`` of a YAML text."""

from __future__ import annotations

import inspect

import numpy as np
from conftest import invoke, the_run

from mlp.nn.activations import Activation
from mlp.nn.functional import softmax


def example(cls, rng):
    """An instance of a registered layer class for checking: required integer arguments (widths) 3, 4, ...;
    float64 parameters where the layer takes a dtype."""
    params = inspect.signature(cls).parameters
    widths = iter(range(3, 10))
    args = [next(widths) for p in params.values() if p.default is p.empty and p.kind is p.POSITIONAL_OR_KEYWORD]
    kwargs = {"dtype": np.float64} if "dtype" in params else {}
    layer = cls(*args, **kwargs)
    for name, value in layer.params.items():  # non-zero biases, so that the check sees them used
        value[...] = rng.standard_normal(value.shape) if name == "b" else value
    return layer


def example_batch(loss, rng):
    """Network outputs and targets of the kind ``loss`` takes (``Loss.takes``)."""
    scores = rng.standard_normal((5, 3))
    if not loss.classification:  # counts (>= 0): targets every regression loss takes
        return scores, rng.poisson(1.5, (5, 3)).astype(float)
    labels = rng.integers(0, 3, 5)
    if loss.takes == "probabilities":
        return 0.2 + 0.4 * softmax(scores), labels  # away from the clipping of log(0)
    return scores, labels


def train_yaml(tmp_path, text, *args):
    """``mlp train`` of the YAML ``text``: the run directory it writes."""
    path = tmp_path / "run.yaml"
    path.write_text(text)
    out = tmp_path / "runs"
    result = invoke("train", path, "--out", out, "--quiet", *args)
    assert result.exit_code == 0, result.output
    run = the_run(out)
    return run


class ScaledTanh(Activation):
    """``f(a) = tanh(beta a)``, ``f'(a) = beta (1 - t^2)``: an activation whose parameter is not ``alpha``."""

    def __init__(self, beta: float = 1.0) -> None:
        super().__init__()
        if not beta > 0:
            raise ValueError(f"ScaledTanh beta must be > 0, got {beta}")
        self.beta = float(beta)

    def f(self, a):
        return np.tanh(self.beta * a)

    def df(self, a, z):
        return self.beta * (1 - z * z)

    def get_config(self):
        return {"beta": self.beta}
