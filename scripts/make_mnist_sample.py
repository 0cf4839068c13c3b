"""Regenerate mlp/data/mnist_sample.npz, the MNIST sample bundled with the package.

It holds the first 10,000 training and the first 2,000 test images of the official MNIST files, as
uint8, compressed. Usage:

    python scripts/make_mnist_sample.py [MNIST_DIR]     # default ../shared/datasets/mnist
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

from mlp.data.mnist import MNIST, _find, _load_files, _VerifiedFiles

TRAIN, TEST = 10_000, 2_000
OUT = Path(__file__).resolve().parents[1] / "mlp" / "data" / "mnist_sample.npz"


def main() -> None:
    source = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "shared/datasets/mnist")
    files = _find(MNIST, source)
    if files is None:
        sys.exit(f"no MNIST files in {source}")
    with tempfile.TemporaryDirectory() as empty_cache:  # nothing remembered: every file's MD5 is checked
        arrays = _load_files(MNIST, files, _VerifiedFiles(Path(empty_cache)))
    sample = {role: arrays[role][: TRAIN if role.startswith("train") else TEST] for role in arrays}
    np.savez_compressed(OUT, **sample)
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e6:.2f} MB):",
          ", ".join(f"{role} {a.shape}" for role, a in sample.items()))


if __name__ == "__main__":
    main()
