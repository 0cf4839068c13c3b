from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def away_from_zero(rng: np.random.Generator, shape: tuple[int, ...], margin: float = 0.1) -> np.ndarray:
    """Standard-normal values pushed at least ``margin`` away from 0 (keeps ReLU-family checks off the kink)."""
    x = rng.standard_normal(shape)
    return x + np.sign(x) * margin


def randomize_biases(model, rng: np.random.Generator) -> None:
    """Give every bias a value of magnitude 0.1-0.5: with zero biases, a row whose hidden units are all
    off feeds exactly 0 into the next ReLU, right on its kink, where centered differences are wrong."""
    for layer in model:
        b = layer.params.get("b")
        if b is not None:
            b[:] = rng.uniform(0.1, 0.5, b.shape) * rng.choice([-1, 1], b.shape)

