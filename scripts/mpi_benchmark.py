"""Data-parallel training on this machine, and a model of it on many: samples/s of one process with 2 BLAS threads
against 2 processes with 1 thread each (``mpiexec -n 2``), the bytes exchanged per step, and from those measured
figures the epoch time and efficiency of K = 1..64 machines at 10 and 100 Gb/s (``docs/scaling.md``).

    python scripts/mpi_benchmark.py            # needs the mpi extra (pip install -e ".[dev]"); about 2 minutes

Two networks, trained as ``mlp train`` trains them (SGD with Nesterov momentum 0.9, lr 0.05, batch 128, no
validation): the lecture's 784-512-10 ReLU (the default run) and the deep 784-256x5-10 ReLU (``deep_relu``). Data:
MNIST's first 48,000 training rows, from ``MLP_DATA_DIR`` or the cache (``mlp data download``), else random rows of
its shape. Each setting trains one warm-up epoch and ``--epochs`` timed ones; samples/s is 48,000 over the median
epoch's training seconds (``history["time"]``). The exchange of one step's gradients (``DataParallel._combine``:
Alltoall, tree sums, Allgather) is timed alone between 2 processes, 200 times.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from mlp import SGD, Dense, ReLU, Sequential, SoftmaxCrossEntropy, fit
from mlp.native import blas
from mlp.train.parallel import EVAL_ROWS, DataParallel, SingleProcess

ROWS = 48_000
BATCH = 128
CASES = {"lecture 784-512-10": (784, 512, 10), "deep 784-256x5-10": (784, 256, 256, 256, 256, 256, 10)}
# (processes, BLAS threads each, micro-batches; 0: fit without a communicator, as mlp train in one process)
SETTINGS = [(1, 2, 0), (1, 1, 0), (1, 1, 8), (2, 1, 8), (2, 1, 2)]  # data-parallel runs BLAS on one thread
BANDWIDTHS = {"10 Gb/s": 10e9 / 8, "100 Gb/s": 100e9 / 8}  # bytes/s
LATENCY = 30e-6  # seconds per message between machines (TCP over Ethernet); an assumption, not measured here
MACHINES = (1, 2, 4, 8, 16, 32, 64)


def load_rows() -> tuple[np.ndarray, np.ndarray, str]:
    try:
        from mlp.data import load_mnist

        data = load_mnist(strict=True)
        return data.x_train[:ROWS], data.y_train[:ROWS], "MNIST"
    except (OSError, ValueError):
        rng = np.random.default_rng(0)
        return rng.random((ROWS, 784), dtype=np.float32), rng.integers(0, 10, ROWS), "random rows of MNIST's shape"


def network(widths: tuple[int, ...]) -> Sequential:
    layers: list[Any] = []
    for i, (a, b) in enumerate(pairwise(widths)):
        layers += [Dense(a, b)] + ([ReLU()] if i < len(widths) - 2 else [])
    return Sequential(layers, seed=0)


def worker(case: str, threads: int, micro_batches: int, epochs: int, out: str) -> None:
    """One setting: train, and (process 0) write the epochs' training seconds to ``out``."""
    blas.set_threads(threads)
    communicator: Any = None
    if micro_batches:
        if int(os.environ.get("PMI_SIZE", "1")) > 1:
            from mpi4py import MPI

            communicator = MPI.COMM_WORLD
        else:
            communicator = SingleProcess()
    x, y, _ = load_rows()
    model = network(CASES[case])
    history = fit(model, SoftmaxCrossEntropy(), SGD(0.05, momentum=0.9, nesterov=True), x, y, epochs=1 + epochs,
                  batch_size=BATCH, seed=0, verbose=0, communicator=communicator, micro_batches=micro_batches or 8)
    if communicator is None or communicator.Get_rank() == 0:
        Path(out).write_text(json.dumps(history["time"][1:]))


def exchange(case: str, out: str, repeats: int = 200) -> None:
    """Time one step's exchange of the gradients of ``case`` between the processes (``mpiexec -n 2``)."""
    blas.set_threads(1)
    from mpi4py import MPI

    world = MPI.COMM_WORLD
    model = network(CASES[case])
    grads = {key: np.random.default_rng(0).random(g.shape, dtype=np.float32) for key, g in model.grads.items()}
    parallel = DataParallel(world, 8)
    parallel._local_buffer(grads)  # the exchange's buffers, made once, as in training
    partial = np.concatenate([g.reshape(-1) for g in grads.values()])
    times = []
    for _ in range(repeats):
        world.Barrier()
        started = time.perf_counter()
        parallel._combine(partial.copy(), grads)
        times.append(time.perf_counter() - started)
    if world.Get_rank() == 0:
        Path(out).write_text(json.dumps({"median": statistics.median(times), "min": min(times)}))


def run(processes: int, args: list[str]) -> Any:
    """``args`` of this script in ``processes`` processes; what process 0 wrote."""
    with tempfile.TemporaryDirectory() as folder:
        out = str(Path(folder) / "out.json")
        command = [sys.executable, __file__, *args, "--out", out]
        if processes > 1:
            mpiexec = Path(sys.executable).parent / "mpiexec"
            command = [str(mpiexec) if mpiexec.exists() else "mpiexec", "-n", str(processes), *command]
        env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
        subprocess.run(command, check=True, env=env)
        return json.loads(Path(out).read_text())


def gradient_bytes(widths: tuple[int, ...]) -> int:
    return 4 * sum(a * b + b for a, b in pairwise(widths))


def exchanged_bytes(widths: tuple[int, ...], processes: int) -> int:
    """Bytes one process sends per step: its chunks of the Alltoall and the Allgather (``mlp.train.parallel``)."""
    chunk = math.ceil(gradient_bytes(widths) / 4 / processes) * 4
    return 2 * (processes - 1) * chunk


def model_table(name: str, seconds_per_sample: float, widths: tuple[int, ...]) -> None:
    """Epoch seconds and efficiency of K machines like this one (1 process x 2 threads each)."""
    grad = gradient_bytes(widths)

    def communication(k: int, bandwidth: float) -> float:
        return 0.0 if k == 1 else 2 * (k - 1) / k * grad / bandwidth + 2 * (k - 1) * LATENCY

    print(f"\n{name}: {grad / 1e6:.2f} MB of gradients, {seconds_per_sample * 1e6:.2f} us per sample on one machine")
    print("| K | " + " | ".join(f"epoch s @ {b} | efficiency @ {b} | batch where compute = exchange @ {b}"
                                   for b in BANDWIDTHS) + " |")
    print("|---|" + "---|---|---|" * len(BANDWIDTHS))
    steps = ROWS / BATCH
    one = steps * BATCH * seconds_per_sample
    for k in MACHINES:
        cells = []
        for bandwidth in BANDWIDTHS.values():
            comm = communication(k, bandwidth)
            epoch = steps * (BATCH / k * seconds_per_sample + comm)
            crossover = f"{k * comm / seconds_per_sample:,.0f}" if k > 1 else "-"
            cells += [f"{epoch:.2f}", f"{one / (k * epoch):.0%}", crossover]
        print(f"| {k} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per setting (after one warm-up)")
    parser.add_argument("--worker", nargs=3, metavar=("CASE", "THREADS", "MICRO_BATCHES"), help=argparse.SUPPRESS)
    parser.add_argument("--exchange", metavar="CASE", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        case, threads, micro = args.worker
        worker(case, int(threads), int(micro), args.epochs, args.out)
        return
    if args.exchange:
        exchange(args.exchange, args.out)
        return
    _, _, source = load_rows()
    print(f"data: {source}, {ROWS:,} rows, batch {BATCH}; {os.cpu_count()} cores; evaluation blocks {EVAL_ROWS}")
    print("\n| network | processes x BLAS threads | micro-batches | samples/s (median epoch) | vs 1 x 2, as today |")
    print("|---|---|---|---|---|")
    rates: dict[tuple[str, int, int, int], float] = {}
    for case in CASES:
        for processes, threads, micro in SETTINGS:
            times = run(processes, ["--worker", case, str(threads), str(micro), "--epochs", str(args.epochs)])
            rate = ROWS / statistics.median(times)
            rates[case, processes, threads, micro] = rate
            base = rates[case, 1, 2, 0]
            how = f"{micro} (M)" if micro else "none (fit as today)"
            print(f"| {case} | {processes} x {threads} | {how} | {rate:,.0f} | {rate / base:.2f}x |", flush=True)
    print("\n| network | gradient MB | bytes sent per process per step, K=2 | exchange between 2 processes here, "
          "median (min) ms |")
    print("|---|---|---|---|")
    for case, widths in CASES.items():
        timed = run(2, ["--exchange", case])
        print(f"| {case} | {gradient_bytes(widths) / 1e6:.2f} | {exchanged_bytes(widths, 2):,} | "
              f"{timed['median'] * 1e3:.2f} ({timed['min'] * 1e3:.2f}) |", flush=True)
    print(f"\nModel: K machines like this one, each 1 process x 2 threads at the rate measured above; a step is the "
          f"compute of {BATCH}/K samples plus 2 (K-1)/K x gradient bytes / bandwidth + 2 (K-1) x {LATENCY * 1e6:.0f} "
          f"us of latency; epoch = {ROWS:,} / {BATCH} steps.")
    for case, widths in CASES.items():
        model_table(case, 1 / rates[case, 1, 2, 0], widths)


if __name__ == "__main__":
    main()
