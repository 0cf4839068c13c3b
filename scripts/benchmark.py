"""Training speed of ``mlp`` against PyTorch on the same networks, the sgemm roofline, and peak memory.

    python scripts/benchmark.py            # every case, about 7 minutes on 2 quiet cores (longer with mlp-mkl)
    python scripts/benchmark.py --quick    # shorter epochs and no 20-epoch drift runs, under a minute

For each case the trainers run alternating epochs over the same data (``mlp`` then PyTorch, after a warm-up epoch
of each, with a pause before every epoch), each trainer in a process of its own, so that no library's threads share
a process with another's (MKL cannot even be loaded after PyTorch's OpenMP runtime: ``mlp.native.mkl``), and the script
prints the median seconds per epoch, samples/s and the ratio. ``mlp`` is timed with each BLAS it can use for its
products (``mlp.native.blas``): NumPy's OpenBLAS (the ``mlp`` rows, ``MLP_BLAS=openblas``) and, where the ``mkl``
extra is installed, Intel's MKL (``mlp-mkl``, ``MLP_BLAS=mkl``). PyTorch is used when it is importable (``pip
install torch==2.13.0`` on the project's machine installs a local CPU build; it is not a dependency of ``mlp``),
with ``torch.set_num_threads`` set to the cores ``mlp`` uses. Data: MNIST from the folder in ``MLP_DATA_DIR`` if it
is set, else random data of the same shape. The roofline is the epoch's matrix-product FLOPs at the sgemm speed
NumPy's BLAS reaches on large square matrices here, measured after each case. The script also times each case's
matrix products alone, with the real shapes, in NumPy and in PyTorch, each in its trainer's process: no trainer
calling that BLAS can be faster; with MKL installed, through ``mlp.native.blas.matmul`` on MKL as well. After the
cases, the products and weight updates of the largest network's step are timed with one library and with MKL's
products alternating with OpenBLAS's updates (two thread pools), and the size of the ``mkl`` extra on disk is
printed. Peak RSS is measured on a separate full ``mlp train`` run.

The drift cases train 20 epochs with momentum and with Adam, with ``fit``'s flush-to-zero flags (the
default, ``mlp.native.fpenv``) and without them (``mlp-noftz``), and compare the fastest of the last five epochs
with the fastest of epochs 2-6. Other work on a shared machine only ever adds time, so the minima show a
slowdown that every late epoch has (denormals) and not a busy minute: in one run here the medians of three
epochs gave 0.62-1.49 for the six drift trainers, 1.40 for PyTorch with momentum. The last section times
denormal against normal operands with the flags off and on (for MKL's sgemm too).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from mlp import SGD, Adam, Dense, ReLU, Sequential, SoftmaxCrossEntropy, fit
from mlp.native import blas, fpenv, mkl
from mlp.nn.optim import Optimizer

TRAIN_ROWS = 48_000  # the Keras example's training rows (60,000 minus the validation split)
QUICK_ROWS = 16_000  # --quick: epochs over a third of them
DRIFT_EPOCHS = 20
DRIFT_WINDOW = 5  # the drift cases compare the fastest of the last 5 epochs with the fastest of epochs 2-6
# Seconds of rest before each epoch. OpenBLAS's worker threads spin for a while after their last call (2^28
# cycles, about 0.1 s, by default) and would take the cores from the PyTorch epoch that follows an mlp epoch:
# without the pause, PyTorch's epochs over 16,000 rows measured 1.2-1.9x slower, which made mlp's ratio look
# better than it is. MKL's (Intel OpenMP's) spin 0.2 s by default (KMP_BLOCKTIME).
PAUSE = 0.3
MKL_DISTRIBUTIONS = ("mkl", "intel-openmp", "tbb", "intel-cmplr-lib-ur")  # what `pip install numpy-mlp[mkl]` adds


def mkl_available() -> bool:
    """Whether MKL can make ``mlp``'s products here (the ``mkl`` extra is installed and works)."""
    try:
        mkl.load()
    except mkl.MklError:
        return False
    return True


@dataclass
class Case:
    name: str
    widths: tuple[int, ...]
    batch_size: int
    optimizer: str = "sgd"  # "sgd", "momentum" or "adam"
    drift: bool = False  # DRIFT_EPOCHS epochs, to compare the last epochs with the first (denormals)


CASES = [
    Case("784-512-10, SGD, batch 128", (784, 512, 10), 128),
    Case("784-1024-1024-10, SGD, batch 128", (784, 1024, 1024, 10), 128),
    Case("784-512-10, SGD, batch 32", (784, 512, 10), 32),
    Case("784-512-10, SGD, batch 512", (784, 512, 10), 512),
    Case("784-512-10, momentum 0.9, 20 epochs", (784, 512, 10), 128, "momentum", drift=True),
    Case("784-512-10, Adam, 20 epochs", (784, 512, 10), 128, "adam", drift=True),
]


def load_data() -> tuple[np.ndarray, np.ndarray, str]:
    """48,000 MNIST training rows (float32 in [0, 1], int64 labels), or random rows of the same shape."""
    folder = os.environ.get("MLP_DATA_DIR")
    if folder:
        from mlp.data import load_mnist

        data = load_mnist(folder, strict=True)
        return data.x_train[:TRAIN_ROWS], data.y_train[:TRAIN_ROWS], f"MNIST from {folder}"
    rng = np.random.default_rng(0)
    x = rng.random((TRAIN_ROWS, 784), dtype=np.float32)
    return x, rng.integers(0, 10, TRAIN_ROWS), "random data of MNIST's shape (MNIST not found)"


def cpu_name() -> str:
    """The CPU's model name (Linux), else the machine type."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            return next(line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.machine()


def sgemm_gflops(n: int = 2048, repeats: int = 7) -> float:
    """Median GFLOP/s of an ``n x n`` float32 matrix product: the speed BLAS reaches on a large, easy shape."""
    a, b = np.ones((n, n), np.float32), np.ones((n, n), np.float32)
    out = a @ b
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        np.matmul(a, b, out=out)
        times.append(time.perf_counter() - start)
    return 2 * n**3 / float(np.median(times)) / 1e9


def epoch_gflop(widths: tuple[int, ...], rows: int) -> float:
    """Matrix-product GFLOP of one epoch: forward ``X @ W`` and ``dW = X.T @ Delta`` for every layer, and
    ``Delta @ W.T`` for every layer but the first (nobody needs the gradient with respect to the data)."""
    pairs = list(pairwise(widths))
    products = 2 * sum(i * o for i, o in pairs) + sum(i * o for i, o in pairs[1:])
    return 2 * rows * products / 1e9


def step_operands(case: Case, convert: Callable[[np.ndarray], Any] = lambda a: a) -> list[tuple[Any, Any]]:
    """The pairs multiplied in one training step (those ``epoch_gflop`` counts), random, with the real shapes,
    made by ``convert`` from float32 NumPy arrays (``torch.from_numpy`` for PyTorch's)."""
    rng = np.random.default_rng(0)
    operands = []
    for i, (fan_in, fan_out) in enumerate(pairwise(case.widths)):
        x, w, delta = (convert(rng.standard_normal(shape, dtype=np.float32))
                       for shape in ((case.batch_size, fan_in), (fan_in, fan_out), (case.batch_size, fan_out)))
        operands += [(x, w), (x.T, delta)] + ([(delta, w.T)] if i else [])  # X @ W, X.T @ Delta, Delta @ W.T
    return operands


def median_epoch(step: Callable[[], object], steps: int, repeats: int = 3) -> float:
    """Median seconds of ``steps`` calls of ``step``, after a pause that lets other threads go to sleep."""
    times = []
    time.sleep(PAUSE)
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def products_seconds(case: Case, rows: int, convert: Callable[[np.ndarray], Any] = lambda a: a,
                     multiply: Callable[[Any, Any], Any] = lambda a, b: a @ b) -> float:
    """Median seconds of one epoch's matrix products alone, batch by batch, computed by ``multiply``: NumPy's BLAS
    (``a @ b``), PyTorch's (``convert=torch.from_numpy``) or MKL's (``mlp.native.blas.matmul`` with MKL chosen).
    Nothing else runs, so no trainer that calls this BLAS can take less time per epoch."""
    operands = step_operands(case, convert)

    def step() -> None:
        for a, b in operands:
            multiply(a, b)
    return median_epoch(step, rows // case.batch_size)


def thread_pools(case: Case, rows: int) -> None:
    """One epoch of a step's products and SGD updates ``W <- W - lr dW`` (``axpy``) with one library, and with MKL's
    products alternating with OpenBLAS's updates: two thread pools, each spinning while the other works."""
    operands = step_operands(case)
    weights = [(np.zeros((i, o), np.float32), np.ones((i, o), np.float32)) for i, o in pairwise(case.widths)]
    openblas_axpy = blas._ROUTINES[np.dtype(np.float32)]  # NumPy's OpenBLAS, whatever mlp's setting

    def step(mixed: bool) -> Callable[[], None]:
        def run() -> None:
            for a, b in operands:
                blas.matmul(a, b)
            for w, g in weights:
                if mixed:
                    openblas_axpy(w.size, -0.01, g.ctypes.data, 1, w.ctypes.data, 1)
                else:
                    blas.axpy(-0.01, g, w)
        return run

    line = f"\none thread pool at a time ({case.name}: products and SGD updates):"
    for label, name, mixed in (("OpenBLAS alone", "openblas", False), ("MKL alone", "mkl", False),
                               ("MKL's products, OpenBLAS's updates", "mkl", True)):
        blas.use(name)
        line += f"\n  {label:<36} {median_epoch(step(mixed), rows // case.batch_size):6.3f} s/epoch"
    print(line)


def mkl_install_size() -> str:
    """Disk size of what the ``mkl`` extra installs (its wheels' files), or why it is not known."""
    from importlib import metadata

    total = 0
    for name in MKL_DISTRIBUTIONS:
        try:
            files = metadata.distribution(name).files or []
        except metadata.PackageNotFoundError:
            continue
        total += sum(Path(str(file.locate())).stat().st_size for file in files if Path(str(file.locate())).is_file())
    return f"{total / 2**20:,.0f} MiB ({', '.join(MKL_DISTRIBUTIONS)})" if total else "not installed"


class MlpTrainer:
    """One epoch of ``mlp.fit`` per call, returning its training seconds (as ``fit`` measures them)."""

    def __init__(self, case: Case, x: np.ndarray, y: np.ndarray, flush_denormals: bool = True,
                 library: str = "openblas") -> None:
        layers = []
        for i, (fan_in, fan_out) in enumerate(pairwise(case.widths)):
            layers += [Dense(fan_in, fan_out)] + ([ReLU()] if i < len(case.widths) - 2 else [])
        self.model = Sequential(layers, seed=0)
        self.optimizer: Optimizer = {"sgd": SGD(lr=0.01), "momentum": SGD(lr=0.01, momentum=0.9),
                                     "adam": Adam(lr=1e-3)}[case.optimizer]
        self.case, self.x, self.y, self.flush, self.epochs = case, x, y, flush_denormals, 0
        self.library = library  # the BLAS of its products and updates (mlp.native.blas)

    def __call__(self) -> float:
        self.epochs += 1
        blas.use(self.library)
        history = fit(self.model, SoftmaxCrossEntropy(), self.optimizer, self.x, self.y, epochs=1,
                      batch_size=self.case.batch_size, seed=self.epochs, verbose=0, flush_denormals=self.flush)
        return float(history["time"][0])

    def denormal_fraction(self) -> float:
        """Fraction of the optimizer's state entries (velocities, moments) that are denormal floats."""
        arrays = [a for slot in self.optimizer.state.values() for a in slot.values()]
        tiny = np.finfo(np.float32).tiny
        denormal = sum(int(np.count_nonzero((a != 0) & (np.abs(a) < tiny))) for a in arrays)
        return denormal / max(1, sum(a.size for a in arrays))


def torch_trainer(case: Case, x: np.ndarray, y: np.ndarray, threads: int) -> Callable[[], float] | None:
    """The same network as a plain ``nn.Sequential`` + ``optim`` loop, or ``None`` without PyTorch."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    modules: list[torch.nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(pairwise(case.widths)):
        modules += [torch.nn.Linear(fan_in, fan_out)] + ([torch.nn.ReLU()] if i < len(case.widths) - 2 else [])
    net = torch.nn.Sequential(*modules)
    optimizer = {"sgd": lambda p: torch.optim.SGD(p, lr=0.01),
                 "momentum": lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9),
                 "adam": lambda p: torch.optim.Adam(p, lr=1e-3)}[case.optimizer](net.parameters())
    loss = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def epoch() -> float:
        order = torch.randperm(len(xt))
        start = time.perf_counter()
        for first in range(0, len(xt), case.batch_size):
            index = order[first : first + case.batch_size]
            optimizer.zero_grad()
            loss(net(xt[index]), yt[index]).backward()
            optimizer.step()
        return time.perf_counter() - start

    return epoch


class Worker:
    """A trainer in a process of its own (``python scripts/benchmark.py --worker NAME CASE ROWS``), driven a line at a
    time: ``epoch`` trains one epoch and answers its seconds, ``products`` the seconds of an epoch's matrix products
    alone through the trainer's own BLAS, ``denormal`` the fraction of its optimizer state that is denormal. One
    library per process: MKL's threads and PyTorch's OpenMP ones, or MKL's and OpenBLAS's, live in one process only
    when a measurement asks for it (``thread_pools``), so no trainer is timed beside another library's spinning
    threads. A worker waiting for its next line has no BLAS call running: its threads sleep after ``PAUSE``."""

    def __init__(self, name: str, case: int, rows: int) -> None:
        self.process = subprocess.Popen([sys.executable, __file__, "--worker", name, str(case), str(rows)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask(self, request: str) -> float:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(request + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        if not answer:
            raise RuntimeError(f"a benchmark worker stopped (exit code {self.process.wait()}); its error is above")
        return float(answer)

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait()


def serve(name: str, case: Case, rows: int, threads: int) -> None:
    """The worker's side of ``Worker``: build trainer ``name`` for ``case`` on the first ``rows`` rows, then answer
    each line of stdin on stdout until it closes."""
    x, y, _ = load_data()
    x, y = x[:rows], y[:rows]
    if name == "torch":
        trainer = torch_trainer(case, x, y, threads)
        import torch

        answers = {"epoch": trainer, "products": lambda: products_seconds(case, rows, torch.from_numpy)}
    else:  # blas.matmul is NumPy's matmul on OpenBLAS, MKL's gemm on MKL
        library = "mkl" if name == "mlp-mkl" else "openblas"
        blas.use(library)
        mlp_trainer = MlpTrainer(case, x, y, flush_denormals=name != "mlp-noftz", library=library)
        answers = {"epoch": mlp_trainer, "denormal": mlp_trainer.denormal_fraction,
                   "products": lambda: products_seconds(case, rows, multiply=blas.matmul)}
    for line in sys.stdin:
        print(answers[line.strip()](), flush=True)


def trainer_names(case: Case) -> list[str]:
    """The trainers of ``case``: mlp, its drift twin without flush-to-zero flags, mlp on MKL and PyTorch, where
    installed."""
    return (["mlp"] + (["mlp-noftz"] if case.drift else []) + (["mlp-mkl"] if mkl_available() else [])
            + (["torch"] if torch_available() else []))


def torch_available() -> bool:
    from importlib.util import find_spec

    return find_spec("torch") is not None


def run_case(index: int, rows: int, epochs: int) -> None:
    """Alternate epochs of each trainer, each in its own process; print medians (drift cases: also the last epochs
    against the first), then each library's matrix products alone, in that trainer's process."""
    case = CASES[index]
    workers = {name: Worker(name, index, rows) for name in trainer_names(case)}
    try:
        count = DRIFT_EPOCHS if case.drift else epochs + 1  # the first epoch of each is the warm-up
        times: dict[str, list[float]] = {name: [] for name in workers}
        for _ in range(count):
            for name, worker in workers.items():
                time.sleep(PAUSE)
                times[name].append(worker.ask("epoch"))
        # Measured after the case, so that the roofline reflects the machine's speed of the moment (it is shared).
        gflops, gflop = sgemm_gflops(), epoch_gflop(case.widths, rows)
        roofline = gflop / gflops
        print(f"\n{case.name}  ({gflop:.1f} GFLOP of matrix products per epoch; "
              f"sgemm 2048^3 {gflops:.0f} GFLOP/s now, roofline {roofline:.2f} s)")
        medians = {name: float(np.median(t[1:])) for name, t in times.items()}
        for name, t in times.items():
            line = (f"  {name:<9} {medians[name]:6.3f} s/epoch  {rows / medians[name]:9,.0f} samples/s  "
                    f"{medians[name] / roofline:4.2f}x roofline")
            if name.startswith("mlp") and "torch" in medians:
                line += f"  {medians[name] / medians['torch']:4.2f}x PyTorch's time"
            if name == "mlp-mkl":
                line += f"  {medians[name] / medians['mlp']:4.2f}x mlp's"
            if case.drift:
                line += f"  last/first {min(t[-DRIFT_WINDOW:]) / min(t[1 : 1 + DRIFT_WINDOW]):4.2f}"
                if name != "torch":
                    line += f"  denormal state {workers[name].ask('denormal'):.2%}"
            print(line)
        if case.drift:
            return
        labels = {"mlp": "NumPy", "mlp-mkl": "MKL", "torch": "PyTorch"}
        products = {name: workers[name].ask("products") for name in labels if name in workers}
        line = "  matrix products alone: " + ", ".join(f"{labels[name]} {s:.3f}" for name, s in products.items())
        if "torch" in medians:
            line += "; " + ", ".join(f"{labels[name]}'s alone are {s / medians['torch']:.2f}x PyTorch's epoch"
                                     for name, s in products.items() if name != "torch")
        print(line + " (s/epoch)")
    finally:
        for worker in workers.values():
            worker.close()


def denormal_cost(n: int = 1 << 20, repeats: int = 31) -> None:
    """Time of a momentum update and of an sgemm on denormal operands relative to normal ones,
    with the flush-to-zero flags off and on: how much denormals cost on this CPU, and what the flags remove."""
    def ratio(make: Callable[[float], Callable[[], object]]) -> float:
        """Median time of the operation on denormals over its median time on normal floats, the two alternating
        (each takes about a millisecond: one disturbance of the machine would otherwise make a ratio)."""
        operations = make(tiny / 10), make(1e-3)
        times: list[list[float]] = [[], []]
        for operation in operations:  # first calls: page faults, threads starting
            operation()
        time.sleep(PAUSE)  # OpenBLAS's threads spin for a while after its products, and would slow MKL's
        for _ in range(repeats):
            for operation, measured in zip(operations, times, strict=True):
                start = time.perf_counter()
                operation()
                measured.append(time.perf_counter() - start)
        return float(np.median(times[0]) / np.median(times[1]))

    def momentum_update(value: float) -> Callable[[], object]:
        v, g = np.empty(n, np.float32), np.full(n, value, np.float32)

        def update() -> None:
            v.fill(value)  # refilled each time: under the flags the first update turns denormals into zeros
            np.multiply(v, np.float32(0.9), out=v)  # v <- 0.9 v - 0.01 g, in place
            np.subtract(v, np.float32(0.01) * g, out=v)
        return update

    def product(value: float) -> Callable[[], object]:
        a, b = np.full((512, 512), value, np.float32), np.ones((512, 512), np.float32)
        return lambda: a @ b

    def mkl_product(value: float) -> Callable[[], object]:
        a, b = np.full((512, 512), value, np.float32), np.ones((512, 512), np.float32)
        return lambda: blas.matmul(a, b)  # with MKL chosen

    makers = [momentum_update, product]
    columns = ["momentum update", "sgemm 512^3"]
    if mkl_available():
        blas.use("mkl")
        makers.append(mkl_product)
        columns.append("MKL's sgemm 512^3")

    tiny = float(np.finfo(np.float32).tiny)  # denormal operands: tiny / 10; normal ones: 1e-3
    print("\ncost of denormal operands (time with denormals / time with normal floats):")
    for flush in (False, True):
        with fpenv.flush_denormals(flush):
            ratios = [ratio(make) for make in makers]
        print(f"  flush-to-zero {'on ' if flush else 'off'}  " +
              "  ".join(f"{column} {ratio:4.2f}x" for column, ratio in zip(columns, ratios, strict=True)))
    if not fpenv.supported():
        print("  (the flags cannot be set on this platform: flush-to-zero 'on' is the same as 'off')")


PEAK_RSS = """
import sys
from mlp.cli import main
try:
    main(sys.argv[1:], standalone_mode=False)
finally:  # VmHWM: this process's peak resident memory, counted from its own start (exec)
    print(next(line for line in open("/proc/self/status") if line.startswith("VmHWM")), file=sys.stderr)
"""


def peak_rss_of_training(epochs: int) -> str:
    """Peak resident memory of ``mlp train`` on full MNIST in a child process (MiB), or why it was skipped."""
    folder = os.environ.get("MLP_DATA_DIR")
    if not folder or not Path("/proc/self/status").exists():
        return "skipped (needs MNIST in MLP_DATA_DIR and Linux's /proc)"
    with tempfile.TemporaryDirectory() as out:  # the run is measured, not kept
        command = ["train", "--epochs", str(epochs), "--data-dir", folder, "--out", out, "-q"]
        result = subprocess.run([sys.executable, "-c", PEAK_RSS, *command], check=True, capture_output=True, text=True)
    kib = int(result.stderr.strip().splitlines()[-1].split()[1])
    return f"{kib / 1024:.0f} MiB (mlp train, {epochs} epoch{'s' * (epochs > 1)}, full MNIST)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"epochs over {QUICK_ROWS:,} rows, 3 timed per case, no {DRIFT_EPOCHS}-epoch drift runs")
    parser.add_argument("--epochs", type=int, default=9, help="timed epochs per case (after one warm-up)")
    parser.add_argument("--worker", nargs=3, metavar=("TRAINER", "CASE", "ROWS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    epochs = 3 if args.quick else args.epochs
    threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if args.worker:
        name, case, rows = args.worker
        serve(name, CASES[int(case)], int(rows), threads)
        return
    x, y, source = load_data()
    if args.quick:
        x, y = x[:QUICK_ROWS], y[:QUICK_ROWS]
    try:  # its version from its metadata: importing it here would put its threads in this process
        from importlib import metadata

        torch_version = f"PyTorch {metadata.version('torch')}"
    except metadata.PackageNotFoundError:
        torch_version = "PyTorch not installed (pip install torch==2.13.0 for the comparison)"
    blas.use("openblas")
    openblas = blas.describe().split(" (")[0]
    blas.use("mkl")
    with_mkl = blas.describe().split(" (")[0] if mkl_available() else "MKL not installed (pip install numpy-mlp[mkl])"
    print(f"{cpu_name()}, {threads} threads; Python {platform.python_version()}, "
          f"NumPy {np.__version__} ({openblas}), {with_mkl}, {torch_version}")
    print(f"data: {source}, {len(x):,} rows")
    for index, case in enumerate(CASES):
        if args.quick and case.drift:
            continue
        run_case(index, len(x), epochs)
    if mkl_available():
        thread_pools(CASES[1], len(x))
    denormal_cost()
    print(f"\nsize of the mkl extra: {mkl_install_size()}")
    print(f"\npeak RSS: {peak_rss_of_training(1 if args.quick else 3)}")


if __name__ == "__main__":
    main()
