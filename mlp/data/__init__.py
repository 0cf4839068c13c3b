"""Datasets: MNIST and Fashion-MNIST (found, downloaded or bundled), CSV/NPZ files, synthetic sets.

>>> import mlp.data
>>> data = mlp.data.load_mnist()          # or load_dataset("mnist", data_dir=...)
>>> data.x_train.shape, data.source       # ((60000, 784), "MLP_DATA_DIR ...")

Every loader returns a ``Dataset`` with float32 features, integer class indices (or real targets),
class names and the data's source. ``DATASETS`` (``mlp.data.dataset``) holds the datasets a config can
name; each module below registers its own.
"""

from __future__ import annotations

from typing import Any

from mlp.data.dataset import (
    DATASETS,
    DataFingerprint,
    DataMismatchError,
    Dataset,
    DatasetSource,
    Standardizer,
    images_to_features,
)
from mlp.data.idx import DataError, read_idx, write_idx

# The datasets are listed (in messages, by `mlp data info`) in the order these modules register them.
# isort: off
from mlp.data.mnist import FallbackWarning, cache_dir, load_fashion_mnist, load_mnist
from mlp.data.tabular import from_file, load_csv, load_npz, map_classes
from mlp.data.synthetic import GENERATORS, blobs, regression_curve, synthetic, two_spirals, xor
# isort: on


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
    "DataFingerprint",
    "DataMismatchError",
    "Dataset",
    "DatasetSource",
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
    "map_classes",
    "read_idx",
    "regression_curve",
    "synthetic",
    "two_spirals",
    "write_idx",
    "xor",
]
