"""Data-parallel training: every process holds the model, computes the gradients of a share of each batch, and
takes the same optimizer step; the result does not depend on how many processes there are, to the last bit.

MPI may sum a reduction in any order, and a different order rounds differently, so an ordinary allreduce makes
the weights depend on the number of processes ``K``. Here each batch (its rows in the epoch's shuffled order) is
cut into ``M`` fixed micro-batches (``numpy.array_split``: sizes differ by at most one), ``M`` a power of two.
Process ``r`` of ``K`` (``K`` divides ``M``) computes micro-batches ``r M/K`` to ``(r+1) M/K - 1``, each as a
batch of its own: ``loss.forward(..., total=batch weight)`` makes its output delta ``w_n dloss_n / sum_batch w``,
so its gradient is its share of the batch gradient. The ``M`` shares are added as a balanced binary tree in
micro-batch order::

    g = ((g0 + g1) + (g2 + g3)) + ((g4 + g5) + (g6 + g7))        # M = 8

A process's micro-batches are one subtree, which it adds locally; the ``K`` subtree sums are added by the same
tree across processes: ``Alltoall`` gives process ``c`` the ``c``-th chunk of every process's sum, it adds them
in tree order, and ``Allgather`` gives everyone every chunk (a reduce-scatter and an allgather: each process
sends and receives ``2 (K-1)/K`` of the gradient, what a ring allreduce moves). The sum is the same tree for
every ``K``, so weights, history and checkpoints are bit-identical for ``K = 1, 2, 4, ...``; against ``fit``
without a communicator (one batch, not ``M`` micro-batches), they agree to float rounding.

Dropout draws each micro-batch's masks from a generator seeded by the layer's own generator (one draw per
step, the same in every process) and the micro-batch's index, so the masks do not depend on ``K`` either.
Validation (and test) rows are evaluated in fixed blocks of ``EVAL_ROWS``, shared out between the processes,
and the blocks' sums are added in block order. A stop signal received by any process stops all of them at the
same batch boundary (the flags travel with each step's metrics).

BLAS runs on one thread in each process while it trains or evaluates data-parallel (``blas.one_thread``):
OpenBLAS's sgemm rounds differently with another number of threads, which would make the result depend on how
the cores are shared out. One process per core is the layout that uses a machine fully, and never
oversubscribes it.

``communicator`` is an mpi4py communicator (``MPI.COMM_WORLD``) or anything with its methods ``Get_rank``,
``Get_size``, ``Alltoall``, ``Allgather``, ``allgather`` and ``bcast``; ``SingleProcess`` is the communicator of one
process, which computes exactly what ``K`` processes compute. ``import mlp`` never imports mpi4py.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from mlp.data.dataset import DataFingerprint, DataMismatchError
from mlp.extras import require
from mlp.messages import shorten
from mlp.nn.losses import Loss
from mlp.nn.sample_weights import tally
from mlp.nn.sequential import Sequential
from mlp.settings import POWER_OF_TWO
from mlp.train.adversarial import Adversarial, batch_gradients
from mlp.train.metrics import confusion_matrix
from mlp.train.watcher import FINISHED, PEER_LOST, REPORTED, Hints, Watcher, remove_records, this_process

DEFAULT_MICRO_BATCHES = 8  # K = 1, 2, 4 and 8 processes divide it
EVAL_ROWS = 1024  # rows per evaluation block: fixed, so that the blocks do not depend on K


class Communicator(Protocol):
    """The part of an mpi4py communicator that data-parallel training uses."""

    def Get_rank(self) -> int: ...  # noqa: N802 -- mpi4py's names

    def Get_size(self) -> int: ...  # noqa: N802

    def Alltoall(self, sendbuf: np.ndarray, recvbuf: np.ndarray) -> None: ...  # noqa: N802

    def Allgather(self, sendbuf: np.ndarray, recvbuf: np.ndarray) -> None: ...  # noqa: N802

    def allgather(self, value: Any) -> list[Any]: ...

    def bcast(self, value: Any, root: int = 0) -> Any: ...


class SingleProcess:
    """The communicator of one process (one process exchanges nothing): data-parallel arithmetic with ``K = 1``."""

    def Get_rank(self) -> int:  # noqa: N802
        return 0

    def Get_size(self) -> int:  # noqa: N802
        return 1

    def allgather(self, value: Any) -> list[Any]:
        return [value]

    def bcast(self, value: Any, root: int = 0) -> Any:
        return value


def tree_sum(rows: np.ndarray) -> np.ndarray:
    """The sum of ``rows: (2^j, n)`` as a balanced binary tree, left to right: ``((r0 + r1) + (r2 + r3))``.
    Adds in place (``rows`` is overwritten) and returns ``rows[0]``."""
    step = 1
    while step < len(rows):
        rows[0::2 * step] += rows[step::2 * step]
        step *= 2
    return rows[0]


class DataParallel:
    """Training arithmetic shared out between the processes of ``communicator``, ``micro_batches`` per batch."""

    def __init__(self, communicator: Communicator, micro_batches: int = DEFAULT_MICRO_BATCHES) -> None:
        self.communicator = communicator
        self.rank, self.size = communicator.Get_rank(), communicator.Get_size()
        if not POWER_OF_TWO.test(micro_batches):
            raise ValueError(f"micro_batches must be a power of two (1, 2, 4, 8, ...), got {micro_batches}")
        if micro_batches % self.size:
            counts = ", ".join(str(2**i) for i in range(micro_batches.bit_length()))
            more = f", or set training.micro_batches to {self.size}" if POWER_OF_TWO.test(self.size) else ""
            raise ValueError(f"{self.size} processes cannot share a batch's {micro_batches} micro-batches equally; run "
                             f"{counts} processes{more}")
        self.micro_batches = micro_batches
        self.stop_requested = False  # by a signal in any process, as of the last exchange
        self.agreed = False
        self.started = False
        self._buffer: np.ndarray | None = None
        self._exchange: list[np.ndarray] = []

    def agree(self, config: dict[str, Any] | None, data: DataFingerprint | None,
              problem: BaseException | None = None) -> None:
        """The first of the two agreements (``agree_to_start``), once every process has loaded its data and before
        process 0 makes the run folder: every process must be ready, and have resolved the same ``config`` and
        loaded the same ``data`` as process 0 (other seeds would train silently to other weights; other layers
        would fail in the middle of an exchange)."""
        self.agreed = True
        agree_to_start(self.communicator, problem, (config, data))

    def start(self, problem: BaseException | None = None) -> None:
        """The last agreement (``agree_to_start``), once: from here on, a process that fails must end the others.
        Before ``agree``, this is ``agree``'s place in the sequence of exchanges, and with a ``problem`` it stops
        every process there."""
        if not self.agreed:
            self.agree(None, None, problem)
        self.started = True
        agree_to_start(self.communicator, problem)

    @contextmanager
    def watched(self, run_dir: Path | None = None, hints: Hints = ()) -> Iterator[None]:
        """Within the block (training, from ``start`` on), every process has a watcher (``mlp.train.watcher``): if a
        process is lost, the launcher ends the others before any can speak, and process 0's watcher says which
        process was lost and how to continue the run in ``run_dir``, by the first of ``hints`` that applies then
        (``mpiexec -n K mlp train --resume RUN``, ...). Every process enters the block at the same point (process 0
        sends the others the run directory, given there); leaving it says how the process ends: normally, or with an
        error it reports.
        """
        if self.size == 1:  # one process is never lost alone: its own end is the run's
            yield
            return
        if self.rank == 0 and run_dir is not None:
            remove_records(run_dir)  # an earlier run's, in the run directory we hold the lock of
        mine = (str(run_dir.resolve()) if run_dir is not None else None, this_process())
        everyone = self.communicator.allgather(mine)
        watcher = Watcher(everyone[0][0], self.rank, [process for _, process in everyone], hints)  # the real stderr
        how = REPORTED
        try:
            with _library_output_to(watcher.pipe):
                yield
            how = FINISHED
        except Exception as err:
            if type(err).__module__.startswith("mpi4py"):  # an exchange failed: another process was lost
                how = PEER_LOST
                raise ProcessLostError(f"lost the other processes (MPI: {err})") from err
            raise
        finally:
            watcher.end(how)

    # -- one training step -----------------------------------------------------------------------------
    def gradients(self, model: Sequential, loss: Loss, x: np.ndarray, y: np.ndarray, w: np.ndarray | None,
                  labels: np.ndarray | None, index: np.ndarray, stop: bool,
                  classes: tuple[np.ndarray, int] | None = None, adversarial: Adversarial | None = None
                  ) -> tuple[float, float, float, np.ndarray | None]:
        """Fill ``model.grads`` with the gradient of the batch ``index`` (rows of ``x, y`` and weights ``w``);
        the batch's loss and, if ``labels``, its correct and counted predictions (``mlp.nn.sample_weights.tally``);
        with ``classes`` (each row's class ``(n,)`` and the number of classes ``k``) also the batch's confusion
        matrix ``(k, k)`` (else ``None``), summed over the micro-batches in the same fixed order.
        ``stop``: whether this process received a stop signal; afterwards ``stop_requested`` says whether any did.
        """
        parts = np.array_split(index, self.micro_batches)
        mine = range(self.rank * self.share, (self.rank + 1) * self.share)
        total = float(len(index)) if w is None else float(w[index].sum())
        grads = model.grads
        local = self._local_buffer(grads)
        cells = classes[1] ** 2 if classes is not None else 0
        sums = np.zeros((self.share, 4 + cells))  # loss, correct, counted, stop, the confusion matrix: per micro-batch
        with _micro_batch_masks(model) as masks, _gradients_into(model, local) as into:
            for row, m in enumerate(mine):
                part = parts[m]
                if not len(part):  # a batch smaller than M: this micro-batch has no rows, and no gradient
                    local[row] = 0
                    continue
                masks(m)
                into(row)
                weights = w[part] if w is not None else None
                sums[row, 0], output = batch_gradients(model, loss, x[part], y[part], weights, total, adversarial)
                if labels is not None:
                    sums[row, 1:3] = tally(loss.predict_labels(output) == labels[part], weights)
                if classes is not None:
                    sums[row, 4:] = confusion_matrix(classes[0][part], loss.predicted_classes(output), classes[1],
                                                     weights).ravel()
        sums[:, 3] = stop
        self._combine(tree_sum(local), grads)
        gathered = np.concatenate(self.communicator.allgather(sums))
        self.stop_requested = bool(gathered[:, 3].any())
        loss_value, correct, counted = tree_sum(gathered[:, :3].copy())
        matrix = tree_sum(gathered[:, 4:].copy()).reshape(classes[1], classes[1]) if classes is not None else None
        return float(loss_value), float(correct), float(counted), matrix

    @property
    def share(self) -> int:
        """Micro-batches per process."""
        return self.micro_batches // self.size

    def _local_buffer(self, grads: dict[str, np.ndarray]) -> np.ndarray:
        """This process's micro-batch gradients, one row each: kept from step to step, as are the exchange's
        buffers (fresh pages cost more than the exchange itself: MPI then copies 1.6 MB in 3 ms instead of 0.3)."""
        size = sum(g.size for g in grads.values())
        dtype = next(iter(grads.values())).dtype
        if self._buffer is None or self._buffer.shape != (self.share, size) or self._buffer.dtype != dtype:
            chunk = -(-size // self.size)
            self._buffer = np.empty((self.share, size), dtype=dtype)
            self._exchange = [np.zeros((self.size, chunk), dtype=dtype) for _ in range(3)]
        return self._buffer

    def _combine(self, partial: np.ndarray, grads: dict[str, np.ndarray]) -> None:
        """Every process's subtree sum ``partial`` added by the tree across processes, into ``grads``: a
        reduce-scatter (``Alltoall``, then each process adds its chunk of every sum) and an ``Allgather``."""
        flat = partial  # one process: its sum is the total
        if self.size > 1:
            send, received, total = self._exchange
            send.reshape(-1)[: len(partial)] = partial
            self.communicator.Alltoall(send, received)  # row s: my chunk of process s's sum
            self.communicator.Allgather(tree_sum(received), total)
            flat = total.reshape(-1)
        start = 0
        for g in grads.values():
            g.reshape(-1)[...] = flat[start : start + g.size]
            start += g.size

    # -- evaluation ------------------------------------------------------------------------------------
    def evaluate(self, model: Sequential, loss: Loss, x: np.ndarray, y: np.ndarray,
                 w: np.ndarray | None) -> tuple[float, float, float]:
        """The loss of ``model`` on ``x, y`` (weights ``w``), and its correct and counted predictions for a
        classification loss: blocks of ``EVAL_ROWS`` rows shared out round-robin, their sums added in block
        order."""
        blocks = range(0, len(x), EVAL_ROWS)
        total = float(len(x)) if w is None else float(w.sum())
        sums = {}
        for number, start in enumerate(blocks):
            if number % self.size != self.rank:
                continue
            rows = slice(start, start + EVAL_ROWS)
            weights = w[rows] if w is not None else None
            output = model.forward(x[rows])
            value = loss.forward(output, y[rows], weights, total)
            hits = tally(loss.predict_labels(output) == loss.target_labels(y[rows]), weights) \
                if loss.classification else (0, 0)
            sums[number] = (value, *hits)
        every = {}
        for part in self.communicator.allgather(sums):
            every |= part
        loss_value = correct = counted = 0.0
        for number in range(len(blocks)):  # in block order
            value, hit, count = every[number]
            loss_value, correct, counted = loss_value + value, correct + hit, counted + count
        return loss_value, correct, counted


@contextmanager
def _library_output_to(pipe: int) -> Iterator[None]:
    """Within the block, what native code writes to file descriptor 2 goes to ``pipe`` (the watcher's), while
    Python's ``sys.stderr`` (every message of mlp's) still reaches the terminal. When a process is lost, MPICH may end
    another with a dozen-line error stack of its own ("Fatal error in internal_Allgather_c ...") even where errors are
    to be returned: its watcher learns so (that process was not the one lost), and process 0's says in one line what
    happened instead (``mlp.train.watcher``)."""
    sys.stderr.flush()
    kept = os.dup(2)
    stream = open(kept, "w", buffering=1, encoding=sys.stderr.encoding, errors="backslashreplace",  # noqa: SIM115
                  closefd=False)
    os.dup2(pipe, 2)
    previous, sys.stderr = sys.stderr, stream
    try:
        yield
    finally:
        stream.flush()
        sys.stderr = previous
        os.dup2(kept, 2)
        os.close(kept)


@contextmanager
def _gradients_into(model: Sequential, rows: np.ndarray) -> Iterator[Any]:
    """``into(r)`` makes the layers' ``backward`` write their gradients into ``rows[r]`` (all of them, flat, in
    ``model.grads`` order), so that no micro-batch's gradient is copied; the layers get their own arrays back
    afterwards."""
    slots = [(layer.grads, name) for layer in model for name in layer.grads]
    own = [grads[name] for grads, name in slots]
    ends = np.cumsum([g.size for g in own])

    def into(r: int) -> None:
        for (grads, name), g, end in zip(slots, own, ends, strict=True):
            grads[name] = rows[r, end - g.size : end].reshape(g.shape)

    try:
        yield into
    finally:
        for (grads, name), g in zip(slots, own, strict=True):
            grads[name] = g


@contextmanager
def _micro_batch_masks(model: Sequential) -> Iterator[Any]:
    """``masks(m)`` gives every random layer (dropout) the generator of micro-batch ``m`` of this step: seeded
    by one draw from the layer's own generator (the same draw in every process) and ``m``. The layers get their
    own generators back afterwards, each advanced by that one draw."""
    layers = [layer for layer in model if isinstance(getattr(layer, "rng", None), np.random.Generator)]
    own = [layer.rng for layer in layers]
    seeds = [int(rng.integers(2**63)) for rng in own]

    def masks(m: int) -> None:
        for layer, seed in zip(layers, seeds, strict=True):
            layer.rng = np.random.default_rng([seed, m])

    try:
        yield masks
    finally:
        for layer, rng in zip(layers, own, strict=True):
            layer.rng = rng


class ProcessLostError(RuntimeError):
    """An exchange failed during training: another process ended (killed, out of memory, crashed). This process
    ends without a word: process 0's watcher (``DataParallel.watched``) says which process was lost, once, and
    how to continue the run."""


class StartupError(ValueError):
    """A process of a data-parallel run could not start (a file it cannot read, a run folder it cannot lock):
    every process stops before training, and the message says which process and why."""


def agree_to_start(communicator: Communicator, problem: BaseException | None = None,
                   setup: tuple[dict[str, Any] | None, DataFingerprint | None] | None = None) -> None:
    """Every process says whether it is ready to train (``problem`` is ``None``) or why not, and, with ``setup``,
    its resolved config and the fingerprint of its data; then all go on, or all raise the same ``StartupError``:
    the first process that is not ready, else the first whose config or data differ from process 0's (every
    process gathers every answer, so all reach the same verdict; process 0 prints it). After the last agreement,
    a process that fails must end the others (``MPI_Abort``): they would wait for it forever."""
    answers = communicator.allgather((None if problem is None else str(problem), setup))
    rank = communicator.Get_rank()
    for other, (text, _) in enumerate(answers):
        if text is not None:
            raise StartupError(text if other == rank else f"process {other} of {len(answers)}: {text}")
    if setup is None:
        return
    config, data = answers[0][1]
    for other, (_, (their_config, their_data)) in enumerate(answers[1:], start=1):
        difference = first_difference(their_config, config)
        if difference is not None:
            key, theirs, ours = difference
            raise StartupError(f"process {other}'s config differs from process 0's at {key}: {shorten(theirs)} vs "
                               f"{shorten(ours)}; start every process with the same command")
        try:
            data.check(their_data, f"process {other}", "process 0", "every process")
        except DataMismatchError as err:
            raise StartupError(str(err)) from None


def first_difference(a: Any, b: Any, path: tuple[Any, ...] = ()) -> tuple[str, Any, Any] | None:
    """The first place (a dotted key, in ``a``'s order) where two configs differ, and the value there in each
    (``"(missing)"`` where one has no such key); ``None`` if they are equal."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in [*a, *(k for k in b if k not in a)]:
            if key not in a or key not in b:
                return ".".join(map(str, (*path, key))), a.get(key, "(missing)"), b.get(key, "(missing)")
            found = first_difference(a[key], b[key], (*path, key))
            if found is not None:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return next((found for i, (x, y) in enumerate(zip(a, b, strict=True))
                     if (found := first_difference(x, y, (*path, i))) is not None), None)
    return None if a == b else (".".join(map(str, path)) or "the config", a, b)


# The launchers' variables for the number of processes they started and this one's rank: MPICH's Hydra (and
# PMI-based srun), Open MPI
SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE")
RANK_VARIABLES = ("PMI_RANK", "OMPI_COMM_WORLD_RANK")


def launcher_rank() -> int:
    """This process's rank as the launcher set it (0 without one), known before MPI is imported."""
    return next((int(os.environ[name]) for name in RANK_VARIABLES if os.environ.get(name, "").isdigit()), 0)


def mpi_world() -> Any | None:
    """``MPI.COMM_WORLD`` when a launcher (``mpiexec -n K``, K > 1) started this process; ``None`` otherwise,
    without importing mpi4py."""
    sizes = [int(os.environ[name]) for name in SIZE_VARIABLES if os.environ.get(name, "").isdigit()]
    if not sizes or max(sizes) <= 1:
        return None
    return require("mpi4py.MPI", "mpi", f"mlp under mpiexec -n {max(sizes)}", "mpi4py").COMM_WORLD
