"""mlp.sklearn's MLPClassifier against scikit-learn's, on the same parameters: fit time and test accuracy on
scikit-learn's digits, a make_classification set of 20,000 x 50 and MNIST, as a Markdown table.

    python scripts/sklearn_benchmark.py                  # needs: pip install -e ".[dev]" (scikit-learn)
    MLP_DATA_DIR=~/data/mnist python scripts/sklearn_benchmark.py --threads 2 --seeds 3

Both estimators get the same parameters: solver="adam", hidden_layer_sizes=(100,), batch_size=200,
learning_rate_init=1e-3, alpha=1e-4, random_state=seed, and max_iter epochs (100 for digits, 30 for the synthetic
set, 20 for MNIST) with tol=0 and n_iter_no_change=max_iter, so that both run every epoch (the table's "epochs"
column checks it; the ConvergenceWarning saying so is silenced). mlp gets its X as float32, as a user who wants its
speed passes it (with the default dtype=None it then computes in float32); scikit-learn gets float64, its loaders'
and most users' dtype (--sklearn-float32 adds scikit-learn on the same float32 X). The table names each row's input.

Digits and the synthetic set: a stratified quarter of the rows is the test set, the features are standardised
with the training rows' mean and std. MNIST: the 60,000 training and 10,000 test images from the folder in
MLP_DATA_DIR, pixels / 255 (without MLP_DATA_DIR the MNIST rows are skipped with a note). Each fit is repeated
with --seeds seeds: fit seconds are the median, test accuracy the mean ± standard deviation; speed-up is
scikit-learn's (float64) median fit time over the row's. Every fit runs with the same number of BLAS threads
(--threads, set with threadpoolctl), after an untimed warm-up fit of each estimator.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import sklearn
from sklearn.datasets import load_digits, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SklearnMLPClassifier
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_info, threadpool_limits

import mlp
from mlp.data import DataError, load_mnist
from mlp.native import blas as native_blas
from mlp.sklearn import MLPClassifier

# (x_train, y_train, x_test, y_test): features float64 (n, d), labels int (n,)
Split = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
PARAMETERS = {"solver": "adam", "hidden_layer_sizes": (100,), "batch_size": 200, "learning_rate_init": 1e-3,
              "alpha": 1e-4}


def standardised_split(x: np.ndarray, y: np.ndarray) -> Split:
    """A stratified quarter of the rows for testing; features standardised with the training rows' statistics."""
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, stratify=y, random_state=0)
    scaler = StandardScaler().fit(x_train)
    return scaler.transform(x_train), y_train, scaler.transform(x_test), y_test


def digits() -> Split:
    return standardised_split(*load_digits(return_X_y=True))


def synthetic() -> Split:
    return standardised_split(*make_classification(20_000, 50, n_informative=20, n_classes=4, random_state=0))


def mnist() -> Split:
    """MNIST's official split from the folder in MLP_DATA_DIR (every file MD5-checked), pixels / 255."""
    data = load_mnist(strict=True, download_missing=False)
    return (data.x_train.astype(np.float64), data.y_train, data.x_test.astype(np.float64), data.y_test)


@dataclass(frozen=True)
class Dataset:
    name: str
    load: Callable[[], Split]
    max_iter: int


DATASETS = {"digits": Dataset("digits", digits, 100),
            "synthetic": Dataset("make_classification 20,000 x 50", synthetic, 30),
            "mnist": Dataset("MNIST", mnist, 20)}


@dataclass(frozen=True)
class Contender:
    label: str  # as the table names it, with the dtype of its input
    make: Callable[..., Any]
    dtype: type


MLP = Contender("mlp (float32 X)", MLPClassifier, np.float32)
SKLEARN = Contender("scikit-learn (float64 X)", SklearnMLPClassifier, np.float64)
SKLEARN_FLOAT32 = Contender("scikit-learn (float32 X)", SklearnMLPClassifier, np.float32)


@dataclass(frozen=True)
class Result:
    seconds: list[float]  # one fit time per seed
    accuracies: list[float]  # test accuracy per seed, in [0, 1]
    epochs: int  # n_iter_ of the last fit

    @property
    def median_seconds(self) -> float:
        return statistics.median(self.seconds)


def fit(contender: Contender, split: Split, max_iter: int, seed: int) -> tuple[Any, float]:
    """A fitted estimator of ``contender`` and the seconds its ``fit`` took."""
    x_train, y_train = split[0].astype(contender.dtype), split[1]
    model = contender.make(**PARAMETERS, max_iter=max_iter, tol=0.0, n_iter_no_change=max_iter, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter reached: every epoch ran, as asked
        started = time.perf_counter()
        model.fit(x_train, y_train)
        seconds = time.perf_counter() - started
    return model, seconds


def measure(contender: Contender, split: Split, max_iter: int, seeds: int) -> Result:
    fit(contender, (split[0][:1000], split[1][:1000], split[2], split[3]), 2, seed=0)  # warm-up, untimed
    seconds, accuracies, model = [], [], None
    for seed in range(seeds):
        model, took = fit(contender, split, max_iter, seed)
        seconds.append(took)
        accuracies.append(model.score(split[2].astype(contender.dtype), split[3]))
    return Result(seconds, accuracies, model.n_iter_)


def row(dataset: str, split: Split, contender: Contender, result: Result, reference: Result) -> str:
    spread = f" ± {100 * statistics.stdev(result.accuracies):.2f}" if len(result.accuracies) > 1 else ""
    return (f"| {dataset} | {len(split[0]):,} / {len(split[2]):,} | {contender.label} | {result.epochs} | "
            f"{result.median_seconds:.2f} | {100 * statistics.mean(result.accuracies):.2f}{spread} | "
            f"{reference.median_seconds / result.median_seconds:.2f}x |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", choices=list(DATASETS), default=list(DATASETS),
                        help="the sets to run (default: all; mnist needs MLP_DATA_DIR)")
    parser.add_argument("--seeds", type=int, default=3, help="fits per estimator and set, seeds 0.. (default: 3)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                        help="BLAS threads for every fit (default: the CPU count)")
    parser.add_argument("--sklearn-float32", action="store_true",
                        help="also time scikit-learn on the float32 X mlp gets")
    args = parser.parse_args()
    if args.seeds < 1 or args.threads < 1:
        parser.error("--seeds and --threads must be at least 1")
    contenders = [MLP, SKLEARN, *([SKLEARN_FLOAT32] if args.sklearn_float32 else [])]
    splits, notes = {}, []
    for key in args.datasets:
        if key == "mnist" and not os.environ.get("MLP_DATA_DIR"):
            notes.append("MNIST: skipped; set MLP_DATA_DIR to the folder of the four MNIST files to include it")
            continue
        try:
            splits[key] = DATASETS[key].load()
        except DataError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    with threadpool_limits(limits=args.threads, user_api="blas"):
        blas = ", ".join(sorted({f"{lib['internal_api']} {lib['num_threads']} threads"
                                 for lib in threadpool_info() if lib["user_api"] == "blas"}))
        print(f"mlp {mlp.__version__}, scikit-learn {sklearn.__version__}, NumPy {np.__version__}; BLAS: {blas}; "
              f"mlp's products: {native_blas.describe()}; {args.seeds} seeds; parameters of both: {PARAMETERS}\n")
        print("| dataset | rows (train / test) | library (input) | epochs | fit s (median) | test accuracy % | "
              "speed-up |")
        print("|---|---|---|---|---|---|---|", flush=True)
        for key, split in splits.items():
            dataset = DATASETS[key]
            results = {contender: measure(contender, split, dataset.max_iter, args.seeds) for contender in contenders}
            for contender, result in results.items():
                print(row(dataset.name, split, contender, result, results[SKLEARN]), flush=True)
    for note in notes:
        print(f"\n{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
