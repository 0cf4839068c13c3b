"""mlp's MLPClassifier against scikit-learn's, the same network, optimizer and epochs: test accuracy (3 seeds) and fit
time on scikit-learn's bundled wine and iris sets and a make_classification set of 20,000 x 50; then the same
GridSearchCV over hidden_layer_sizes x learning rate, with n_jobs=2, for each.

    python scripts/sklearn_benchmark.py            # needs: pip install -e ".[dev]" (scikit-learn)

Both train 100 ReLU units initialised as scikit-learn does (Glorot-uniform weights) with Adam (lr 1e-3, batches
of min(200, rows), shuffled), no L2 penalty and no early stopping, on standardised features (StandardScaler
fitted on the training rows); scikit-learn's stopping rule is switched off (tol=0, n_iter_no_change=epochs) so
that both run every epoch. scikit-learn computes in float64, mlp in float32. The test rows are a stratified
quarter of each set.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.datasets import load_iris, load_wine, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neural_network import MLPClassifier as SklearnMLP
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mlp.sklearn import MLPClassifier

SEEDS = (0, 1, 2)
SETS: dict[str, tuple[Callable[[], tuple[np.ndarray, np.ndarray]], int]] = {  # loader, epochs
    "iris": (lambda: load_iris(return_X_y=True), 200),
    "wine": (lambda: load_wine(return_X_y=True), 200),
    "make_classification 20,000 x 50": (
        lambda: make_classification(20_000, 50, n_informative=20, n_classes=4, random_state=0), 30),
}
GRID = {"hidden_layer_sizes": [(50,), (100,), (200,)], "learning_rate": [1e-3, 1e-2]}


def ours(epochs: int, seed: int) -> MLPClassifier:
    return MLPClassifier(hidden_layer_sizes=(100,), optimizer="adam", learning_rate=1e-3, batch_size="auto",
                         epochs=epochs, random_state=seed)


def theirs(epochs: int, seed: int) -> SklearnMLP:
    return SklearnMLP(hidden_layer_sizes=(100,), solver="adam", learning_rate_init=1e-3, batch_size="auto",
                      max_iter=epochs, alpha=0.0, tol=0.0, n_iter_no_change=epochs, random_state=seed)


def timed_fit(model: Any, x: np.ndarray, y: np.ndarray) -> float:
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # scikit-learn's: it ran every epoch, as asked
        model.fit(x, y)
    return time.perf_counter() - started


def compare(name: str, load: Callable[[], tuple[np.ndarray, np.ndarray]], epochs: int) -> None:
    x, y = load()
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, stratify=y, random_state=0)
    scaler = StandardScaler().fit(x_train)
    x_train, x_test = scaler.transform(x_train), scaler.transform(x_test)
    for label, make in (("mlp", ours), ("scikit-learn", theirs)):
        accuracies, times = [], []
        for seed in SEEDS:
            model = make(epochs, seed)
            times.append(timed_fit(model, x_train, y_train))
            accuracies.append(model.score(x_test, y_test))
        print(f"| {name} | {epochs} | {label} | {100 * statistics.mean(accuracies):.2f} ± "
              f"{100 * statistics.stdev(accuracies):.2f} | {statistics.median(times):.3f} |", flush=True)


def grid_search(name: str, load: Callable[[], tuple[np.ndarray, np.ndarray]], epochs: int, round_: int) -> None:
    x, y = load()
    for label, model, grid in (
        ("mlp", ours(epochs, 0), GRID),
        ("scikit-learn", theirs(epochs, 0), {"hidden_layer_sizes": GRID["hidden_layer_sizes"],
                                             "learning_rate_init": GRID["learning_rate"]}),
    ):
        search = GridSearchCV(make_pipeline(StandardScaler(), model),
                              {f"{type(model).__name__.lower()}__{k}": v for k, v in grid.items()}, cv=3, n_jobs=2)
        seconds = timed_fit(search, x, y)
        best = {k.split("__")[1]: v for k, v in search.best_params_.items()}
        print(f"| {name} | {round_} | {label} | {len(search.cv_results_['params'])} x 3 folds | {best} | "
              f"{100 * search.best_score_:.2f} | {seconds:.2f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid-set", default="wine", choices=list(SETS), help="the set of the grid search")
    args = parser.parse_args()
    print("| data | epochs | estimator | test accuracy % (3 seeds) | fit s (median) |")
    print("|---|---|---|---|---|")
    for name, (load, epochs) in SETS.items():
        compare(name, load, epochs)
    # Round 1 starts joblib's two worker processes (and imports both libraries in them); round 2 reuses them.
    print("\n| data | round | estimator | candidates | best | best CV accuracy % | wall s |")
    print("|---|---|---|---|---|---|---|")
    load, epochs = SETS[args.grid_set]
    for round_ in (1, 2):
        grid_search(args.grid_set, load, epochs, round_)


if __name__ == "__main__":
    main()
