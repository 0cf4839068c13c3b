"""Datasets: MNIST and Fashion-MNIST (found, downloaded or bundled), CSV/NPZ files, synthetic sets.

>>> import mlp.data
>>> data = mlp.data.load_mnist()          # or load_dataset("mnist", data_dir=...)
>>> data.x_train.shape, data.source       # ((60000, 784), "MLP_DATA_DIR ...")

Every loader returns a ``Dataset`` with float32 features, integer class indices (or real targets),
class names and the data's source.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlp.data.dataset import Dataset, Standardizer, images_to_features
from mlp.data.idx import DataError, read_idx, write_idx
from mlp.data.mnist import FallbackWarning, cache_dir, load_fashion_mnist, load_mnist
from mlp.data.synthetic import GENERATORS, blobs, regression_curve, two_spirals, xor
from mlp.data.tabular import load_csv, load_npz, map_classes

DATASETS = ("mnist", "fashion-mnist", "csv", "npz", *GENERATORS)


def synthetic(name: str, n: int = 1000, test_size: float = 0.2, seed: int = 0, **kwargs: Any) -> Dataset:
    """One of the synthetic sets (spirals, xor, blobs, regression): ``n`` samples, the last ``test_size``
    of them held out as the test set."""
    if name not in GENERATORS:
        raise ValueError(f"unknown synthetic dataset {name!r}; valid names: {', '.join(GENERATORS)}")
    x, y = GENERATORS[name](n=n, seed=seed, **kwargs)
    cut = n - round(n * test_size)
    classes = None if name == "regression" else [str(c) for c in range(int(y.max()) + 1)]
    return Dataset(name, x[:cut], y[:cut], x[cut:], y[cut:], classes, source=f"synthetic (seed {seed})")


def from_file(path: str | Path, test_path: str | Path | None = None, **kwargs: Any) -> Dataset:
    """A CSV or NPZ file (by its extension) as a ``Dataset``; ``test_path`` adds a test set in the same format.

    Class names come from the training file; test labels are mapped to the same indices.
    """
    path = Path(path)
    reader = load_npz if path.suffix == ".npz" else load_csv
    x, y, classes = reader(path, **kwargs)
    dataset = Dataset(path.stem, x, y, classes=classes, source=f"file {path}")
    if test_path is not None:
        x_test, y_test, test_classes = reader(test_path, **kwargs)
        if x_test.shape[1] != x.shape[1]:
            raise DataError(f"{test_path} has {x_test.shape[1]} feature columns, but {path} has {x.shape[1]}; the "
                            f"test file must have the training file's columns")
        if classes is not None:  # the test file's own class indices -> the training file's
            y_test = map_classes(y_test, test_classes, classes, str(test_path), str(path))
        dataset.x_test, dataset.y_test = x_test, y_test
    return dataset


def load_dataset(name: str, **kwargs: Any) -> Dataset:
    """Load a dataset by name: "mnist", "fashion-mnist" (``data_dir=``, ``strict=``), "csv"/"npz"
    (``path=``, ``test_path=``, ...) or a synthetic set ("spirals", "xor", "blobs", "regression")."""
    if name == "mnist":
        return load_mnist(**kwargs)
    if name == "fashion-mnist":
        return load_fashion_mnist(**kwargs)
    if name in ("csv", "npz"):
        return from_file(**kwargs)
    if name in GENERATORS:
        return synthetic(name, **kwargs)
    raise ValueError(f"unknown dataset {name!r}; valid names: {', '.join(DATASETS)}")


__all__ = [
    "DATASETS",
    "DataError",
    "Dataset",
    "FallbackWarning",
    "Standardizer",
    "blobs",
    "cache_dir",
    "from_file",
    "images_to_features",
    "load_csv",
    "load_dataset",
    "load_fashion_mnist",
    "load_mnist",
    "load_npz",
    "read_idx",
    "regression_curve",
    "synthetic",
    "two_spirals",
    "write_idx",
    "xor",
]
