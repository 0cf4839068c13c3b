"""The three matrix products of one training step of 784-1024-1024-10's middle layer (``X @ W``, ``X.T @ Delta``,
``Delta @ W.T`` at batch 128) through the BLAS ``mlp`` would use, 200 steps, the fastest of five: each BLAS in a
process of its own, with and without PyTorch imported beside it (its OpenMP runtime then shares the process). The
BLAS is loaded first: MKL is refused after PyTorch's OpenMP runtime (``mlp.native.mkl``).

    python scripts/blas_products.py            # openblas and mkl (the mkl extra), without and with PyTorch
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import numpy as np


def measure(library: str, with_torch: bool) -> float:
    """The fastest of five runs of 200 steps' products, in this process."""
    from mlp.native import blas

    blas.use(library)
    blas.active()  # loaded before PyTorch, the order in which MKL works beside it
    if with_torch:
        import torch  # noqa: F401  (loaded for its OpenMP runtime)
    rng = np.random.default_rng(0)
    x, w, delta = (rng.random(shape, dtype=np.float32) for shape in ((128, 1024), (1024, 1024), (128, 1024)))
    for _ in range(20):
        blas.matmul(x, w)
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(200):
            blas.matmul(x, w)
            blas.matmul(x.T, delta)
            blas.matmul(delta, w.T)
        best = min(best, time.perf_counter() - start)
    if blas.active() != library:
        raise SystemExit(f"{library} is not available here: {blas.describe()}")
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("one", nargs="*", help=argparse.SUPPRESS)  # BLAS and "torch"/"none": one measurement
    args = parser.parse_args()
    if len(args.one) == 2:  # one measurement, in a process of its own
        print(measure(args.one[0], args.one[1] == "torch"))
        return
    print("| BLAS | PyTorch in the process | seconds (200 steps' products, fastest of 5) |\n|---|---|---:|")
    for library in ("openblas", "mkl"):
        for beside in ("none", "torch"):
            result = subprocess.run([sys.executable, __file__, library, beside], capture_output=True, text=True)
            failed = result.returncode != 0
            seconds = result.stderr.strip().splitlines()[-1] if failed else f"{float(result.stdout):.3f}"
            print(f"| {library} | {'yes' if beside == 'torch' else 'no'} | {seconds} |")


if __name__ == "__main__":
    main()
