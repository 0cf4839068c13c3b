"""Regenerate mlp/data/mnist_sample.npz, the MNIST sample bundled with the package.

It holds the first 10,000 training and the first 2,000 test images of the official MNIST files, as
uint8, compressed. Usage:

    python scripts/make_mnist_sample.py [MNIST_DIR] [--out FILE]    # MNIST_DIR: default $MLP_DATA_DIR

The files are read with ``mlp.data.load_mnist``, every one checked against the published MD5s.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from mlp.data import DataError, load_mnist
from mlp.files.atomic import atomic_write

TRAIN, TEST = 10_000, 2_000
OUT = Path(__file__).resolve().parents[1] / "mlp" / "data" / "mnist_sample.npz"


def make_sample(source: Path, out: Path) -> dict[str, np.ndarray]:
    """Write the sample of the four MNIST files in ``source`` to ``out``; returns its arrays by role
    (``train_images`` ``(10000, 28, 28)`` uint8, ``train_labels`` ``(10000,)`` uint8, the same for ``test``)."""
    with tempfile.TemporaryDirectory() as empty_cache:  # nothing remembered: every file's MD5 is checked
        data = load_mnist(source, strict=True, cache=empty_cache, flatten=False)
    # load_mnist gives float32 pixels / 255: rounding the product gives back the file's bytes exactly
    sample = {"train_images": np.rint(data.x_train[:TRAIN] * 255).astype(np.uint8),
              "train_labels": data.y_train[:TRAIN].astype(np.uint8),
              "test_images": np.rint(data.x_test[:TEST] * 255).astype(np.uint8),
              "test_labels": data.y_test[:TEST].astype(np.uint8)}
    atomic_write(out, lambda f: np.savez_compressed(f, **sample))
    return sample


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mnist_dir", nargs="?", type=Path, default=os.environ.get("MLP_DATA_DIR"),
                        help="the folder of the four MNIST files (default: $MLP_DATA_DIR)")
    parser.add_argument("--out", type=Path, default=OUT, help=f"the file to write (default: {OUT.name} in mlp/data)")
    args = parser.parse_args()
    if args.mnist_dir is None:
        parser.error("give the folder of the four MNIST files, or set MLP_DATA_DIR to it")
    try:
        sample = make_sample(Path(args.mnist_dir), args.out)
    except (DataError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB):",
          ", ".join(f"{role} {a.shape}" for role, a in sample.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
