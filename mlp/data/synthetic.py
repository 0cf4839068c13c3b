"""Small seeded synthetic datasets for demos, docs and tests (all float32 features), registered in
``DATASETS`` under their generators' names (``spirals``, ``xor``, ``blobs``, ``regression``)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from mlp.data.dataset import DATASETS, Dataset, DatasetSource
from mlp.data.split import hold_out
from mlp.settings import AT_LEAST_ONE, FRACTION, Key


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


GENERATORS: dict[str, Callable[..., tuple[np.ndarray, np.ndarray]]] = {
    "spirals": two_spirals, "xor": xor, "blobs": blobs, "regression": regression_curve,
}


def synthetic(name: str, n: int = 1000, test_size: float = 0.2, seed: int = 0, **kwargs: Any) -> Dataset:
    """One of the synthetic sets (spirals, xor, blobs, regression): ``n`` samples, the last ``test_size``
    of them held out as the test set (``mlp.data.split``)."""
    if name not in GENERATORS:
        raise ValueError(f"unknown synthetic dataset {name!r}; valid names: {', '.join(GENERATORS)}")
    x, y = GENERATORS[name](n=n, seed=seed, **kwargs)
    x_train, y_train, x_test, y_test = hold_out(x, y, test_size)
    classes = None if name == "regression" else [str(c) for c in range(int(y.max()) + 1)]
    return Dataset(name, x_train, y_train, x_test, y_test, classes, source=f"synthetic (seed {seed})")


def _load(name: str, options: dict[str, Any], seed: int) -> Dataset:
    return synthetic(name, n=options["samples"], test_size=options["test_split"], seed=seed)


for _name in GENERATORS:
    DATASETS.add(_name, DatasetSource(partial(_load, _name), {"samples": Key(1000, int, AT_LEAST_ONE),
                                                             "test_split": Key(0.2, float, FRACTION)},
                                      seeded=True))
