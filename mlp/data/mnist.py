"""MNIST and Fashion-MNIST: found, downloaded or bundled, always verified.

Where the files come from, in order:

1. an explicit directory (``data_dir=``, ``--data-dir``, ``data.dir``), or its ``<name>/`` subfolder;
2. the directory in the environment variable ``MLP_DATA_DIR`` (or its ``<name>/`` subfolder);
3. the cache, ``$XDG_CACHE_HOME/mlp/<name>`` or ``~/.cache/mlp/<name>``;
4. a download into the cache (mirrors in turn, MD5-verified, atomic; see ``mlp.data.download``), unless
   ``MLP_OFFLINE`` is set or one failed less than an hour ago (recorded in ``<cache>/<name>/download-failed.json``:
   deleting it, or ``mlp data download``, tries again at once);
5. for MNIST, the sample bundled with the package (the first 10,000 training and 2,000 test images),
   with a loud warning; ``strict=True`` makes this an error instead.

Files are read gzipped or raw under both namings (``train-images-idx3-ubyte(.gz)`` and
``train-images.idx3-ubyte``). The content of every file is checked against the published MD5s; the
result is remembered (keyed by path, size and modification time) in ``<cache>/verified.json``, so a
folder is hashed once.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
import warnings
from dataclasses import dataclass
from functools import partial
from importlib import resources
from pathlib import Path

import numpy as np

from mlp.data.dataset import DATASETS, Dataset, DatasetSource, images_to_features
from mlp.data.download import OFFLINE_VARIABLE, OfflineError, RemoteFile, download, offline
from mlp.data.idx import DataError, read_idx
from mlp.files.atomic import write_text
from mlp.files.reading import read_json
from mlp.messages import shorten
from mlp.settings import Key


class FallbackWarning(UserWarning):
    """The full dataset was not available and the bundled sample is used instead."""


@dataclass(frozen=True)
class IdxFile:
    """One IDX file: ``stem`` such as "train-images", its IDX rank, the MD5s of the published ``.gz`` file and
    of its decompressed content (``None`` where not known), the largest shape it may hold (the published
    one), checked before its data is read, and the size of the published ``.gz`` file in bytes."""

    stem: str
    rank: int
    gz_md5: str
    raw_md5: str | None = None
    max_shape: tuple[int, ...] | None = None
    gz_size: int | None = None

    @property
    def download_name(self) -> str:
        return f"{self.stem}-idx{self.rank}-ubyte.gz"

    @property
    def remote(self) -> RemoteFile:
        """The published ``.gz`` file, as the mirrors hold it."""
        return RemoteFile(self.download_name, self.gz_md5, self.gz_size)

    def names(self) -> list[str]:
        """Every file name this file may have: both namings, gzipped or raw."""
        bases = [f"{self.stem}-idx{self.rank}-ubyte", f"{self.stem}.idx{self.rank}-ubyte"]
        return [name for base in bases for name in (base + ".gz", base)]


ROLES = ("train_images", "train_labels", "test_images", "test_labels")


@dataclass(frozen=True)
class IdxDatasetSpec:
    """What defines an IDX image dataset: its four files (keyed by ``ROLES``), mirrors and class names."""

    name: str
    files: dict[str, IdxFile]
    mirrors: tuple[str, ...]
    classes: tuple[str, ...]
    sample: str | None = None  # file name of a bundled sample inside mlp/data


TRAIN_IMAGES, TEST_IMAGES = (60000, 28, 28), (10000, 28, 28)  # published shapes, MNIST's and Fashion-MNIST's

MNIST = IdxDatasetSpec(
    name="mnist",
    files={
        "train_images": IdxFile("train-images", 3, gz_md5="f68b3c2dcbeaaa9fbdd348bbdeb94873",
                                raw_md5="6bbc9ace898e44ae57da46a324031adb", max_shape=TRAIN_IMAGES, gz_size=9912422),
        "train_labels": IdxFile("train-labels", 1, gz_md5="d53e105ee54ea40749a09fcbcd1e9432",
                                raw_md5="a25bea736e30d166cdddb491f175f624", max_shape=TRAIN_IMAGES[:1], gz_size=28881),
        "test_images": IdxFile("t10k-images", 3, gz_md5="9fb629c4189551a2d022fa330f9573f3",
                               raw_md5="2646ac647ad5339dbf082846283269ea", max_shape=TEST_IMAGES, gz_size=1648877),
        "test_labels": IdxFile("t10k-labels", 1, gz_md5="ec29112dd5afa0611ce80d1b7f02629c",
                               raw_md5="27ae3e4e09519cfbb04c329615203637", max_shape=TEST_IMAGES[:1], gz_size=4542),
    },
    mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/"),
    classes=tuple(str(d) for d in range(10)),
    sample="mnist_sample.npz",
)

FASHION_MNIST = IdxDatasetSpec(
    name="fashion-mnist",
    files={
        "train_images": IdxFile("train-images", 3, "8d4fb7e6c68d591d4c3dfef9ec88bf0d", max_shape=TRAIN_IMAGES,
                                gz_size=26421880),
        "train_labels": IdxFile("train-labels", 1, "25c81989df183df01b3e8a0aad5dffbe", max_shape=TRAIN_IMAGES[:1],
                                gz_size=29515),
        "test_images": IdxFile("t10k-images", 3, "bef4ecab320f06d8554ea6380940ec79", max_shape=TEST_IMAGES,
                               gz_size=4422102),
        "test_labels": IdxFile("t10k-labels", 1, "bb300cfdad3c16e7a12a480ee83cd310", max_shape=TEST_IMAGES[:1],
                               gz_size=5148),
    },
    # The authors' repository, over https (their S3 website is http only); the MD5s are the ones its README publishes
    mirrors=("https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",),
    classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
)

# The datasets whose rows are pictures, and the (height, width) of each: the others' features are measurements
# (a CSV's columns, spirals' points) even when their number is a square (iris's 4).
IMAGE_SHAPES = {spec.name: (TRAIN_IMAGES[1], TRAIN_IMAGES[2]) for spec in (MNIST, FASHION_MNIST)}


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/mlp`` or ``~/.cache/mlp``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mlp"


def find_files(spec: IdxDatasetSpec, directory: Path) -> dict[str, Path] | None:
    """The four files in ``directory`` or ``directory/<name>``, or ``None`` if either lacks any."""
    for folder in (directory, directory / spec.name):
        found = {role: next((folder / n for n in f.names() if (folder / n).is_file()), None)
                 for role, f in spec.files.items()}
        if all(found.values()):
            return found  # type: ignore[return-value]
    return None


def missing_files(spec: IdxDatasetSpec, directory: Path) -> str:
    return ", ".join(f.names()[0] for f in spec.files.values()
                     if not any((directory / n).is_file() for n in f.names()))


class _VerifiedFiles:
    """Remembers which files passed the MD5 check (path, size, mtime) in ``<cache>/verified.json``."""

    def __init__(self, cache: Path) -> None:
        self.path = cache / "verified.json"
        try:
            known = read_json(self.path, "a record of verified files")
        except (OSError, ValueError):
            known = {}
        self.known: dict[str, list[int]] = known if isinstance(known, dict) else {}

    @staticmethod
    def _key(path: Path) -> tuple[str, list[int]]:
        stat = path.stat()
        return str(path.resolve()), [stat.st_size, stat.st_mtime_ns]

    def seen(self, path: Path) -> bool:
        key, stamp = self._key(path)
        return self.known.get(key) == stamp

    def add(self, path: Path) -> None:
        key, stamp = self._key(path)
        self.known[key] = stamp

    def save(self) -> None:
        # Atomic: processes loading MNIST at the same time (a sweep's trials) may all write it.
        with contextlib.suppress(OSError):  # a read-only or full cache only costs a re-check next time
            write_text(self.path, json.dumps(self.known, indent=1))


def _load_file(path: Path, spec_file: IdxFile, verified: _VerifiedFiles) -> np.ndarray:
    digest = hashlib.md5() if spec_file.raw_md5 is not None and not verified.seen(path) else None
    array = read_idx(path, max_shape=spec_file.max_shape, digest=digest)
    if digest is not None and digest.hexdigest() != spec_file.raw_md5:
        raise DataError(
            f"{path} does not hold the official {spec_file.stem} data (MD5 of its content "
            f"{digest.hexdigest()}, expected {spec_file.raw_md5}); replace or delete it"
        )
    verified.add(path)
    return array


def _load_files(spec: IdxDatasetSpec, files: dict[str, Path], verified: _VerifiedFiles) -> dict[str, np.ndarray]:
    arrays = {role: _load_file(path, spec.files[role], verified) for role, path in files.items()}
    verified.save()
    for part in ("train", "test"):
        images, labels = arrays[f"{part}_images"], arrays[f"{part}_labels"]
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise DataError(f"{files[f'{part}_images']} and {files[f'{part}_labels']} do not match: images "
                            f"{images.shape}, labels {labels.shape}")
    return arrays


def _bundled_sample(spec: IdxDatasetSpec) -> dict[str, np.ndarray]:
    with resources.as_file(resources.files("mlp.data") / spec.sample) as path, np.load(path) as npz:
        return {role: npz[role] for role in ROLES}


FAILED_DOWNLOAD = "download-failed.json"
RETRY_AFTER = 3600.0  # seconds after a failed download during which loading does not try again


def download_idx_dataset(spec: IdxDatasetSpec, dest: str | Path) -> list[str]:
    """Download into ``dest`` each of ``spec``'s files that ``dest`` lacks (under any of its names), from the
    mirrors in turn, MD5-verified and written atomically; return the names downloaded (``[]``: all there).
    Success removes the record of an earlier failure in ``dest``.

    Raises ``OfflineError`` if ``MLP_OFFLINE`` is set, ``DataError`` naming every failed attempt if a file cannot
    be had.
    """
    dest = Path(dest)
    missing = [f.remote for f in spec.files.values() if not any((dest / name).is_file() for name in f.names())]
    if missing:
        download(missing, spec.mirrors, dest, spec.name)
    (dest / FAILED_DOWNLOAD).unlink(missing_ok=True)
    return [f.name for f in missing]


def _remember_failure(folder: Path, error: str) -> None:
    """Record in ``folder`` that a download failed now, with ``error``: loading skips the download for a while."""
    with contextlib.suppress(OSError):  # a read-only cache only costs another attempt next time
        write_text(folder / FAILED_DOWNLOAD, json.dumps({"time": time.time(), "error": error}, indent=1))


def _recent_failure(folder: Path) -> str | None:
    """Why not to download into ``folder`` now: a download that failed less than ``RETRY_AFTER`` seconds ago,
    what it said and how to try again at once; ``None`` if there was none (or the record is unreadable)."""
    path = folder / FAILED_DOWNLOAD
    try:
        record = read_json(path, "a record of a failed download")
        failed, error = float(record["time"]), str(record["error"])
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if not 0 <= time.time() - failed < RETRY_AFTER:
        return None
    clock = partial(time.strftime, "%H:%M")
    return (f"a download failed at {clock(time.localtime(failed))} and is not tried again before "
            f"{clock(time.localtime(failed + RETRY_AFTER))}; to try now, delete {path} ({shorten(error, 300)})")


def load_idx_dataset(
    spec: IdxDatasetSpec,
    data_dir: str | Path | None = None,
    *,
    strict: bool = False,
    download_missing: bool = True,
    cache: str | Path | None = None,
    flatten: bool = True,
) -> Dataset:
    """Find, download or fall back to ``spec``'s files (see the module docstring) and load them.

    Images become float32 in ``[0, 1]``, flattened to ``(n, 784)`` unless ``flatten=False``; labels int64.
    """
    cache = Path(cache) if cache is not None else cache_dir()
    verified = _VerifiedFiles(cache)
    env = os.environ.get("MLP_DATA_DIR")
    arrays, source, failure = None, "", ""
    for directory, how in ((data_dir, "directory"), (env, "MLP_DATA_DIR")):
        if directory:
            directory = Path(directory)
            files = find_files(spec, directory)
            if files is None:
                raise DataError(f"{how} {directory} has no complete {spec.name} set (missing: "
                                f"{missing_files(spec, directory)}); point it at the folder with the four files")
            arrays, source = _load_files(spec, files, verified), f"{how} {directory}"
            break
    if arrays is None:
        target = cache / spec.name
        files = find_files(spec, target)
        if files is not None:
            arrays, source = _load_files(spec, files, verified), f"cache {target}"
        elif not download_missing:
            failure = "downloads are turned off"
        else:
            failure = _recent_failure(target) or ""
            if not failure:
                try:
                    download_idx_dataset(spec, target)
                    arrays = _load_files(spec, find_files(spec, target), verified)  # type: ignore[arg-type]
                    source = f"downloaded to {target}"
                except OfflineError as err:
                    failure = str(err)
                except DataError as err:
                    failure = str(err)
                    _remember_failure(target, failure)
    if arrays is None:
        how_to_get = (f"run `mlp data download {spec.name}` where there is internet, or set MLP_DATA_DIR "
                      f"(or --data-dir) to a folder with the four {spec.name} files")
        if strict or spec.sample is None:
            raise DataError(f"{spec.name} is not available: not in {cache / spec.name} and {failure}. {how_to_get}")
        arrays = _bundled_sample(spec)
        source = "bundled sample"
        warnings.warn(
            f"{spec.name.upper()} NOT FOUND, USING THE BUNDLED SAMPLE: {len(arrays['train_images']):,} training "
            f"and {len(arrays['test_images']):,} test images instead of the full set ({failure}). To get the "
            f"full set, {how_to_get}.",
            FallbackWarning,
            stacklevel=2,
        )
    return Dataset(
        name=spec.name,
        x_train=images_to_features(arrays["train_images"], flatten),
        y_train=arrays["train_labels"].astype(np.int64),
        x_test=images_to_features(arrays["test_images"], flatten),
        y_test=arrays["test_labels"].astype(np.int64),
        classes=list(spec.classes),
        source=source,
    )


def load_mnist(data_dir: str | Path | None = None, *, strict: bool = False, **kwargs: object) -> Dataset:
    """MNIST (LeCun, Cortes & Burges): 60,000 training and 10,000 test images of handwritten digits."""
    return load_idx_dataset(MNIST, data_dir, strict=strict, **kwargs)  # type: ignore[arg-type]


def load_fashion_mnist(data_dir: str | Path | None = None, **kwargs: object) -> Dataset:
    """Fashion-MNIST (Xiao, Rasul & Vollgraf 2017): MNIST's format, 10 classes of clothing; download only."""
    return load_idx_dataset(FASHION_MNIST, data_dir, **kwargs)  # type: ignore[arg-type]


def download_and_check(spec: IdxDatasetSpec, dest: str | Path | None = None) -> list[str]:
    """Download ``spec``'s missing files into ``dest`` (default: the cache), load them to prove the set is
    complete, and say so: the lines ``mlp data download`` prints."""
    dest = Path(dest) if dest is not None else cache_dir() / spec.name
    fetched = download_idx_dataset(spec, dest)
    dataset = load_idx_dataset(spec, dest, strict=True)
    # Fetched files passed the MD5 of the download; files found in place only the MD5 of their content, if published
    checked = len(fetched) == len(spec.files) or all(f.raw_md5 for f in spec.files.values())
    return [f"{spec.name}: downloaded {', '.join(fetched)}" if fetched else f"{spec.name}: already there, nothing "
            f"downloaded",
            f"{spec.name}: {len(dataset.x_train):,} training and {len(dataset.x_test):,} test images in {dest} "
            f"({'verified' if checked else 'not verified: no published MD5 of the files found in place'})"]


def locate(spec: IdxDatasetSpec) -> str:
    """Where ``load_idx_dataset(spec)`` would read from now, without downloading (no MD5 check)."""
    env = os.environ.get("MLP_DATA_DIR")
    if env:  # an incomplete MLP_DATA_DIR is an error, not a reason to look further
        if find_files(spec, Path(env)):
            return f"MLP_DATA_DIR {env} (complete)"
        return f"MLP_DATA_DIR {env}: incomplete, loading fails (missing: {missing_files(spec, Path(env))})"
    cache = cache_dir() / spec.name
    if find_files(spec, cache):
        return f"cache {cache} (complete)"
    fallback = " (or fall back to the bundled sample)" if spec.sample else ""
    if offline():
        return f"not found, and {OFFLINE_VARIABLE} is set: no download{fallback}"
    return f"not found: would download from {spec.mirrors[0]}{fallback}"


def idx_source(spec: IdxDatasetSpec) -> DatasetSource:
    """``spec`` as a dataset a config can name: its one setting is ``dir``, the folder of its files."""
    return DatasetSource(lambda options, seed: load_idx_dataset(spec, options["dir"]),
                         {"dir": Key(None, str, is_path=True)},
                         download=partial(download_and_check, spec), locate=partial(locate, spec))


DATASETS.add(MNIST.name, idx_source(MNIST))
DATASETS.add(FASHION_MNIST.name, idx_source(FASHION_MNIST))
