"""What augmentation costs an epoch: 784-800-10 on MNIST (the full set where MLP_DATA_DIR points at it, else the
bundled sample), an epoch of training without augmentation, the augmentation of an epoch's batches alone, and an
epoch of training with it (prepared a batch ahead in a thread), each the best of a few runs in this process.

    python scripts/augment_benchmark.py [--epochs 3] [--batch-size 128]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from mlp import SGD, Dense, ReLU, Sequential, SoftmaxCrossEntropy, fit
from mlp.data import load_dataset
from mlp.data.augment import Augment

AUGMENTS = {
    "affine": Augment((28, 28), translate=2, rotate=10, scale=0.1, shear=5),
    "elastic": Augment((28, 28), elastic_alpha=34, elastic_sigma=4),
    "affine + elastic": Augment((28, 28), translate=2, rotate=10, scale=0.1, shear=5, elastic_alpha=34,
                                elastic_sigma=4),
}


def epoch_seconds(x: np.ndarray, y: np.ndarray, batch_size: int, augment: Augment | None, repeats: int) -> float:
    """The best time of one training epoch of 784-800-10, over ``repeats`` runs."""
    best = float("inf")
    for _ in range(repeats):
        model = Sequential([Dense(784, 800), ReLU(), Dense(800, 10)], seed=0)
        history = fit(model, SoftmaxCrossEntropy(), SGD(0.05, momentum=0.9), x, y, epochs=1, batch_size=batch_size,
                      seed=0, verbose=0, augment=augment)
        best = min(best, history["time"][0])
    return best


def augment_seconds(x: np.ndarray, batch_size: int, augment: Augment, repeats: int) -> float:
    """The best time of augmenting every batch of an epoch, alone, over ``repeats`` runs."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for b, first in enumerate(range(0, len(x), batch_size)):
            augment(x[first : first + batch_size], np.random.default_rng([0, b]))
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="runs of each measurement; the best counts")
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()
    data = load_dataset("mnist")
    x, y = data.x_train, data.y_train
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; {len(x):,} training rows "
          f"({data.source}), batch {args.batch_size}, 784-800-10\n")
    plain = epoch_seconds(x, y, args.batch_size, None, args.epochs)
    print("| augmentation | augmenting an epoch's batches alone (s) | epoch with it (s) | epoch without (s) | "
          "epoch with / without |")
    print("|---|---:|---:|---:|---:|")
    for name, augment in AUGMENTS.items():
        alone = augment_seconds(x, args.batch_size, augment, args.epochs)
        with_it = epoch_seconds(x, y, args.batch_size, augment, args.epochs)
        print(f"| {name} | {alone:.2f} | {with_it:.2f} | {plain:.2f} | {with_it / plain:.2f}x |")


if __name__ == "__main__":
    main()
