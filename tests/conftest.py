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


def two_spirals(n_per_class: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved spiral arms in [-1, 1]^2, labels 0 and 1 (class 0 first)."""
    t = np.sqrt(rng.random(n_per_class)) * 3 * np.pi
    arm = np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / (3 * np.pi)
    x = np.concatenate([arm, -arm]) + rng.normal(0, 0.01, (2 * n_per_class, 2))
    return x.astype(np.float32), np.repeat([0, 1], n_per_class)


def shuffled_spirals(n_per_class: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x, y = two_spirals(n_per_class, rng)
    order = rng.permutation(len(x))
    return x[order], y[order]
