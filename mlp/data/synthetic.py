"""Small seeded synthetic datasets for demos, docs and tests (all float32 features)."""

from __future__ import annotations

import numpy as np


def two_spirals(n: int = 1000, noise: float = 0.01, seed: int | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved spiral arms in ``[-1, 1]^2``: ``x: (n, 2)``, labels ``(n,)`` in {0, 1}, shuffled."""
    rng = np.random.default_rng(seed)
    half = n // 2
    t = np.sqrt(rng.random(n - half)) * 3 * np.pi
    arm = np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / (3 * np.pi)
    x = np.concatenate([arm[:half], -arm]) + rng.normal(0, noise, (n, 2))
    y = np.repeat([0, 1], [half, n - half])
    order = rng.permutation(n)
    return x[order].astype(np.float32), y[order]


def xor(n: int = 1000, noise: float = 0.0, seed: int | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """Points in ``[-1, 1]^2`` labelled 1 where the signs of the coordinates differ: ``(n, 2)``, ``(n,)``."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (n, 2))
    y = ((x[:, 0] > 0) != (x[:, 1] > 0)).astype(np.int64)
    return (x + rng.normal(0, noise, x.shape)).astype(np.float32), y


def blobs(
    n: int = 1000, centers: int = 3, features: int = 2, std: float = 0.5, seed: int | None = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian clusters around ``centers`` random points in ``[-5, 5]^features``: ``(n, features)``, ``(n,)``."""
    rng = np.random.default_rng(seed)
    means = rng.uniform(-5, 5, (centers, features))
    y = rng.integers(0, centers, n)
    return (means[y] + rng.normal(0, std, (n, features))).astype(np.float32), y


def regression_curve(n: int = 1000, noise: float = 0.05, seed: int | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """A 1-D regression target ``y = sin(2x) + x/2 + noise`` for ``x`` in ``[-3, 3]``: ``(n, 1)``, ``(n, 1)``."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3, 3, (n, 1))
    y = np.sin(2 * x) + x / 2 + rng.normal(0, noise, x.shape)
    return x.astype(np.float32), y.astype(np.float32)


GENERATORS = {"spirals": two_spirals, "xor": xor, "blobs": blobs, "regression": regression_curve}
