"""``Dataset``: training and test arrays with their class names, source and preprocessing; and ``DATASETS``,
the datasets a config can name, each a ``DatasetSource`` registered where its loader is defined."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from mlp.data.split import training_rows
from mlp.registry import Registry
from mlp.settings import Key

OLD_STD_FLOOR = 1e-8  # what files of earlier versions hold for a constant feature


@dataclass
class Standardizer:
    """Per-feature standardisation ``x' = (x - mean) / std``, with ``std = 1`` for a feature that is constant
    in the training rows (as scikit-learn's ``StandardScaler`` does): such a feature is then only centred,
    so a test value that differs from the constant stays of its own size instead of being blown up by a
    tiny divisor (the border pixels of digit images are 0 in every training row, and 1 in a few test rows).

    Fitted on training rows only; ``get_state``/``from_state`` carry it into a model file so that
    prediction applies the same transform.
    """

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray) -> Standardizer:
        """``x: (n, features)`` -> the mean and standard deviation of each feature (in float64).

        A feature is constant when its variance is within the rounding error of computing it,
        ``n eps var + (n eps mean)^2`` (scikit-learn's bound): then its scale is 1.
        """
        x64 = np.asarray(x, dtype=np.float64)
        mean, var = x64.mean(axis=0), x64.var(axis=0)
        eps, n = np.finfo(np.float64).eps, len(x64)
        constant = var <= n * eps * var + (n * eps * mean) ** 2
        return cls(mean, np.where(constant, 1.0, np.sqrt(var)))

    def transform(self, x: np.ndarray) -> np.ndarray:
        """``(x - mean) / std`` in ``x``'s float dtype (float32 stays float32)."""
        dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.float32
        return ((x - self.mean.astype(dtype)) / self.std.astype(dtype)).astype(dtype, copy=False)

    def get_state(self) -> dict[str, Any]:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Standardizer:
        """What ``get_state`` gave; the scale of a constant feature in a file of an earlier version (which floored
        it at 1e-8) becomes 1, as ``fit`` gives now."""
        std = np.asarray(state["std"], dtype=np.float64)
        return cls(np.asarray(state["mean"], dtype=np.float64), np.where(std <= OLD_STD_FLOOR, 1.0, std))


@dataclass
class Dataset:
    """A dataset ready for ``fit``: ``x_train: (n, features)`` float32, ``y_train: (n,)`` class indices (or
    real targets ``(n,)``/``(n, k)`` for regression), optional test arrays, class names, where the data came
    from (``source``, e.g. "directory data/mnist" or "bundled sample") and the rows' weights ``(n,)``, where
    the data has them (a CSV's ``weight`` column)."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    classes: list[str] | None = None
    source: str = ""
    standardizer: Standardizer | None = None
    w_train: np.ndarray | None = None
    w_test: np.ndarray | None = None

    @property
    def num_features(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def num_classes(self) -> int | None:
        """Number of classes, ``None`` for regression data."""
        return len(self.classes) if self.classes is not None else None

    def standardize(self, validation_split: float = 0.0) -> Dataset:
        """Standardise every feature with mean/std fitted on the rows ``fit`` will train on (the first
        ``1 - validation_split`` of ``x_train``, as ``fit`` splits), applied to training and test data."""
        rows = training_rows(len(self.x_train), validation_split)
        self.standardizer = Standardizer.fit(self.x_train[:rows])
        self.x_train = self.standardizer.transform(self.x_train)
        if self.x_test is not None:
            self.x_test = self.standardizer.transform(self.x_test)
        return self

    def fingerprint(self) -> DataFingerprint:
        """What identifies these arrays: see ``DataFingerprint``."""
        digest = hashlib.blake2b(digest_size=16)
        for array in (self.x_train, self.y_train, self.x_test, self.y_test, self.w_train, self.w_test):
            # dtype and shape first: the same bytes read as other arrays are other data
            digest.update(b"-" if array is None else f"{array.dtype.str}{array.shape}".encode())
            if array is not None:
                digest.update(np.ascontiguousarray(array).data)
        return DataFingerprint(self.name, self.source, len(self.x_train),
                               0 if self.x_test is None else len(self.x_test), digest.hexdigest())

    def __repr__(self) -> str:
        parts = [f"train {self.x_train.shape}"]
        if self.x_test is not None:
            parts.append(f"test {self.x_test.shape}")
        parts.append(f"{self.num_classes} classes" if self.classes is not None else "regression")
        if self.standardizer is not None:
            parts.append("standardized")
        return f"Dataset({self.name!r}: {', '.join(parts)}; source: {self.source})"


class DataMismatchError(ValueError):
    """The data loaded in one process are not the data another process resolved for the same run (a sweep's
    client and its worker, MPI process 0 and another)."""


@dataclass(frozen=True)
class DataFingerprint:
    """What identifies the data a run trains on: the dataset's name, where it was loaded from, its training and
    test rows, and ``checksum``, a BLAKE2b digest of every array (features, targets, weights; dtypes and shapes
    included), as they are after ``limit`` and normalisation. Two loads are the same data when everything but
    ``source`` is equal: the same files in another folder are the same data."""

    dataset: str
    source: str
    train_rows: int
    test_rows: int
    checksum: str

    def as_dict(self) -> dict[str, Any]:
        """The ``data`` section of ``metrics.json``."""
        return asdict(self)

    def same_data(self, other: DataFingerprint) -> bool:
        return (self.dataset, self.train_rows, self.test_rows, self.checksum) == \
            (other.dataset, other.train_rows, other.test_rows, other.checksum)

    def describe(self, checksum: bool = False) -> str:
        """``"mnist from bundled sample (10,000 training, 2,000 test rows)"``, with the checksum if asked."""
        digest = f", checksum {self.checksum}" if checksum else ""
        return f"{self.dataset} from {self.source} ({self.train_rows:,} training, {self.test_rows:,} test rows{digest})"

    def check(self, found: DataFingerprint, here: str, there: str, others: str) -> None:
        """Raise ``DataMismatchError`` if ``found`` (loaded ``here``, e.g. "worker host n2") is not the data of
        ``self`` (resolved by ``there``, e.g. "the sweep's client"); the message says how to give ``others`` (e.g.
        "the workers") the same data."""
        if self.same_data(found):
            return
        # the same description on both sides (the same folder, other files): the checksums tell them apart
        checksum = found.describe() == self.describe()
        if self.source.startswith("MLP_DATA_DIR"):
            fix = f"set MLP_DATA_DIR on {others} to a folder with the same files"
        else:
            fix = f"give {others} the same data files as {there} (at the same path, or in MLP_DATA_DIR)"
        raise DataMismatchError(f"{here}: {found.describe(checksum)} loaded, but {there} used "
                                f"{self.describe(checksum)}; {fix}")


def images_to_features(images: np.ndarray, flatten: bool = True) -> np.ndarray:
    """uint8 images ``(n, h, w)`` -> float32 in ``[0, 1]``, flattened to ``(n, h * w)`` by default; one pass."""
    x = images.astype(np.float32)
    x /= 255
    return x.reshape(len(x), -1) if flatten else x


@dataclass(frozen=True)
class DatasetSource:
    """What a dataset named in a config (``data.dataset``) is to ``mlp``.

    Attributes:
        load: ``load(options, seed) -> Dataset``, with ``options`` the resolved ``data:`` section.
        keys: its own settings under ``data:`` (every dataset also has ``validation_split``, ``normalize``
            and ``limit``).
        check: ``check(options)`` raises ``ValueError`` for settings that are wrong together.
        file_type: the suffix of the files it reads (``".csv"``), for a data argument given as a file.
        download: ``download(folder or None) -> lines to print``, for datasets ``mlp data download`` fetches.
        locate: ``locate() -> str``: where it would be loaded from now (``mlp data info``).
        seeded: whether ``load`` draws the data from ``seed`` (the synthetic sets): then runs of other seeds train
            on other data.
    """

    load: Callable[[dict[str, Any], int], Dataset]
    keys: dict[str, Key] = field(default_factory=dict)
    check: Callable[[dict[str, Any]], None] | None = None
    file_type: str | None = None
    download: Callable[[Any], list[str]] | None = None
    locate: Callable[[], str] | None = None
    seeded: bool = False


# Filled by mlp.data.mnist, mlp.data.tabular and mlp.data.synthetic; mlp.data imports them in the order
# their names are listed.
DATASETS: Registry[DatasetSource] = Registry("dataset")
