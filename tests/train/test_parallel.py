"""Data-parallel training (``mlp.train.parallel``): the arithmetic in one process, then the real thing with ``mpiexec``
(MPICH from the ``mpi`` extra): bit-identical weights, history and checkpoints for 1, 2 and 4 processes (4 on
this machine's 2 cores, oversubscribed, for exactness only), a run stopped with 4 processes resumed with 2, a
killed process ending the job, and the errors of a run that cannot start."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import make_files

from mlp import Adam, Dense, Dropout, ReLU, Sequential, SoftmaxCrossEntropy, fit
from mlp.data import two_spirals
from mlp.native import blas
from mlp.runs.config import ConfigError, resolve
from mlp.runs.run import continue_hints, how_to_continue
from mlp.train.parallel import DataParallel, SingleProcess, tree_sum
from mlp.train.watcher import ENDINGS, FINISHED, PEER_LOST, REPORTED, Watcher, ending, records

# -- the arithmetic, in one process ---------------------------------------------------------------------------


def test_the_tree_adds_in_micro_batch_order():
    rows = np.array([[1e8], [1.0], [-1e8], [1.0]], dtype=np.float32)
    # ((1e8 + 1) + (-1e8 + 1)) in float32: 1e8 + 1 rounds to 1e8, and so does -1e8 + 1
    assert tree_sum(rows.copy())[0] == np.float32(1e8) + np.float32(-1e8)
    assert tree_sum(np.arange(8.0)[:, None].copy())[0] == 28


class Halves:
    """Two processes of one: process ``rank`` of a pair, whose partner's sums are this process's own (both see
    the same data), so the collectives can be checked without MPI."""

    def __init__(self, rank: int) -> None:
        self.rank = rank

    def Get_rank(self) -> int:  # noqa: N802
        return self.rank

    def Get_size(self) -> int:  # noqa: N802
        return 2


@pytest.mark.parametrize(("micro_batches", "message"), [
    (6, "micro_batches must be a power of two (1, 2, 4, 8, ...), got 6"),
    (1, "2 processes cannot share a batch's 1 micro-batches equally; run 1 processes, or set "
        "training.micro_batches to 2"),
])
def test_micro_batches_must_be_a_power_of_two_that_the_processes_divide(micro_batches, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        DataParallel(Halves(0), micro_batches)


def test_a_config_names_a_bad_micro_batch_count():
    with pytest.raises(ConfigError, match=r"^training\.micro_batches must be a power of two \(1, 2, 4, 8, \.\.\.\), "
                                          r"got 12$"):
        resolve({"training": {"micro_batches": 12}})


def spirals_fit(communicator=None, dropout=0.0, **kwargs):
    x, y = two_spirals(600, noise=0.1, seed=0)
    layers = [Dense(2, 32), ReLU(), *([Dropout(dropout)] if dropout else []), Dense(32, 2)]
    model = Sequential(layers, seed=0)
    history = fit(model, SoftmaxCrossEntropy(), Adam(0.01), x, y, epochs=4, batch_size=50, validation_split=0.2,
                  seed=1, verbose=0, communicator=communicator, **kwargs)
    return model, history


def test_micro_batches_agree_with_one_batch_to_float_rounding():
    whole, history = spirals_fit()
    parts, parallel_history = spirals_fit(SingleProcess())
    for key, value in whole.params.items():
        np.testing.assert_allclose(parts.params[key], value, rtol=1e-4, atol=1e-5)
        assert not np.array_equal(parts.params[key], value) or key.endswith("b")  # another order of sums
    np.testing.assert_allclose(parallel_history["val_loss"], history["val_loss"], rtol=1e-5)


def test_weights_are_micro_batched_too():
    w = np.linspace(0.2, 2, 600)
    _, history = spirals_fit(SingleProcess(), sample_weight=w)
    _, plain_history = spirals_fit(sample_weight=w)
    np.testing.assert_allclose(history["loss"], plain_history["loss"], rtol=1e-5)
    np.testing.assert_allclose(history["val_accuracy"], plain_history["val_accuracy"], rtol=1e-6)


def test_metrics_are_counted_over_the_micro_batches():
    _, history = spirals_fit(SingleProcess(), metrics=["recall_weighted", "f1_macro"])
    _, plain = spirals_fit(metrics=["recall_weighted", "f1_macro"])
    # the weighted recall is the accuracy: the running confusion matrix counts what accuracy counts
    assert history["recall_weighted"] == pytest.approx(history["accuracy"], rel=1e-12)
    np.testing.assert_allclose(history["f1_macro"], plain["f1_macro"], rtol=1e-2)
    np.testing.assert_allclose(history["val_f1_macro"], plain["val_f1_macro"], rtol=1e-2)


# -- the watchers, without MPI: real processes and pipes ------------------------------------------------------

LOST_LINE = ("error: {which} of 2 was lost (it ended without a word: killed, or out of memory?) and every process "
             "was ended; continue with: mpiexec -n 2 mlp train --resume {run}\n")


MPICH_ABORT = b"Abort(342434959) on node 0 (rank 0 in comm 0): Fatal error in internal_Allgather_c: ...\n"
SILENT = b""  # a process's pipe closes without a word: it was killed
DIES = "dies"  # a step in which a process ends, before or after its watcher hears of it
SLEEPS, WAKES = "sleeps", "wakes"  # its watcher stops, as on a busy machine, and goes on


@pytest.mark.parametrize(("steps", "said"), [
    ([(1, DIES), (1, SILENT), (0, DIES), (0, SILENT)], LOST_LINE.format(which="process 1", run="{run}")),
    ([(0, DIES), (0, SILENT), (1, DIES), (1, SILENT)], LOST_LINE.format(which="process 0", run="{run}")),
    # process 1's exchange failed the moment process 0 died: its watcher may hear first; it is not the lost one
    ([(0, DIES), (1, PEER_LOST), (1, DIES), (0, SILENT)], LOST_LINE.format(which="process 0", run="{run}")),
    ([(1, DIES), (0, PEER_LOST), (0, DIES), (1, SILENT)], LOST_LINE.format(which="process 1", run="{run}")),
    # MPICH ended process 1 (its error stack went into the pipe) the moment process 0 died: not the lost one
    ([(0, DIES), (0, SILENT), (1, DIES), (1, MPICH_ABORT)], LOST_LINE.format(which="process 0", run="{run}")),
    ([(1, DIES), (1, SILENT), (0, DIES), (0, MPICH_ABORT)], LOST_LINE.format(which="process 1", run="{run}")),
    # ... but MPICH may end a process on its own, and the launcher then the others: unless the silent one's watcher
    # saw every other process running, which came first is not known
    ([(0, DIES), (1, DIES), (1, MPICH_ABORT), (0, SILENT)], LOST_LINE.format(which="a process", run="{run}")),
    ([(1, DIES), (1, MPICH_ABORT), (0, DIES), (0, SILENT)], LOST_LINE.format(which="a process", run="{run}")),
    # a process said what went wrong, then ended the others (the launcher killed them), then itself
    ([(1, REPORTED), (0, DIES), (0, SILENT), (1, DIES)], ""),
    ([(0, REPORTED), (1, DIES), (1, SILENT), (0, DIES)], ""),
    # ... even when process 0's watcher hears of it only after the launcher's kill: process 0 said what ran
    ([(0, SLEEPS), (0, REPORTED), (1, DIES), (1, SILENT), (0, DIES), (0, WAKES)], ""),
    # process 1 was lost, and process 0 failed of it (and may have been killed before its own line was out)
    ([(1, DIES), (1, SILENT), (0, REPORTED), (0, DIES)], LOST_LINE.format(which="process 1", run="{run}")),
    ([(1, FINISHED), (1, DIES), (0, FINISHED), (0, DIES)], ""),
    # on a busy machine the lost process's watcher may hear of it after the launcher's kills: nobody saw every
    # other process running, and the line says "a process" rather than guess
    ([(1, DIES), (0, DIES), (1, SILENT), (0, SILENT)], LOST_LINE.format(which="a process", run="{run}")),
    # the order is not known; process 0's watcher waits its second (WAIT) for a record the other never writes
    pytest.param([(1, FINISHED), (1, DIES), (0, DIES), (0, SILENT)], LOST_LINE.format(which="a process", run="{run}"),
                 marks=pytest.mark.slow),
])
def test_process_0s_watcher_names_the_first_process_that_ended_without_a_word(tmp_path, capfd, steps, said):
    """Each process is a stand-in (a sleeping child of this test) that ``DIES`` at its step; at another, its
    watcher hears how it ended: from ``Watcher.end``, or as what was left in its pipe (nothing, or MPICH's error
    stack). The watchers and ``end`` see which stand-ins still run, as they would see a run's processes."""
    (tmp_path / "last.npz").touch()
    hints = continue_hints(tmp_path, "mpiexec -n 2 mlp train")
    processes = [subprocess.Popen(["sleep", "60"]) for _ in range(2)]
    host = os.uname().nodename
    watchers = [Watcher(str(tmp_path), rank, [(host, process.pid) for process in processes], hints)
                for rank in range(2)]
    try:
        wait_until_watching(watchers)
        for rank, how in steps:
            watcher = watchers[rank]
            if how == DIES:
                processes[rank].kill()
                processes[rank].wait()
            elif how in (SLEEPS, WAKES):
                watcher.process.send_signal(signal.SIGSTOP if how == SLEEPS else signal.SIGCONT)
            elif how in ENDINGS:
                watcher.end(how)
            else:  # the process ended without calling end
                os.write(watcher.pipe, how)
                os.close(watcher.pipe)
                watcher.pipe = -1
            time.sleep(0.1)  # a watcher that hears of its process looks at the others before the next step
        for watcher in watchers:
            watcher.process.wait(timeout=30)
    finally:
        for watcher, process in zip(watchers, processes, strict=True):
            watcher.process.send_signal(signal.SIGCONT)  # (none once it has ended)
            process.kill()
            process.wait()
    assert capfd.readouterr().err == said.format(run=tmp_path)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["last.npz"]  # records removed (or never made)


def test_process_0s_watcher_reads_only_the_records_a_watcher_writes(tmp_path):
    """Other files named like records in the run directory (a user's, a hostile one's) are not read as records,
    and never end the watcher with an error."""
    for name in [".process-1.lost.0", ".process-x.lost.0", ".process-2.lost.a.b", ".process-\u00b2.lost.0",
                 ".process-3.lost.0-\u00b2", ".process-4.lost.0.1"]:
        (tmp_path / name).touch()
    assert records(tmp_path) == {1: ("lost", {0})}
    assert ending(b"\nreported 1-\xb2") == ("spoke", None)  # a damaged ending line is not a process's own
    assert ending(b"\nreported 1-3") == ("reported", {1, 3})


def wait_until_watching(watchers: list[Watcher]) -> None:
    """Return once every watcher has started and waits on its pipe."""
    deadline = time.monotonic() + 30
    while not all(reading_a_pipe(watcher.process.pid) for watcher in watchers):
        assert time.monotonic() < deadline
        time.sleep(0.01)


def reading_a_pipe(pid: int) -> bool:
    """Whether process ``pid`` waits in a read from a pipe (Linux names where it sleeps in /proc)."""
    return "pipe" in (Path("/proc") / str(pid) / "wchan").read_text()


def test_how_to_continue_a_run_names_its_files_as_a_shell_reads_them(tmp_path):
    run = tmp_path / "my runs" / "spirals-1"
    run.mkdir(parents=True)
    assert how_to_continue(run, "mpiexec -n 2 mlp train") == "train again"
    (run / "config.yaml").touch()
    assert how_to_continue(run) == f"start it again with: mlp train '{run}/config.yaml'"
    (run / "last.npz").touch()
    assert how_to_continue(run, "mpiexec -n 2 mlp train") == f"continue with: mpiexec -n 2 mlp train --resume '{run}'"


# -- with mpiexec ----------------------------------------------------------------------------------------------

MPIEXEC = shutil.which("mpiexec", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))
needs_mpi = pytest.mark.skipif(MPIEXEC is None, reason="no mpiexec: pip install mpi4py mpich")
TIMEOUT = 120


def mpiexec(processes: int, *args: str, cwd: Path, timeout: float = TIMEOUT) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    return subprocess.run([MPIEXEC, "-n", str(processes), sys.executable, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


API_SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    from mpi4py import MPI
    from mlp import Adam, Dense, Dropout, ReLU, Sequential, SoftmaxCrossEntropy, fit
    from mlp.data import two_spirals
    from mlp.native import blas

    blas.set_threads(1)  # the reference in the test has 2: fit(communicator=) must make them agree
    world = MPI.COMM_WORLD
    rng = np.random.default_rng(0)
    x, y = rng.random((600, 784), dtype=np.float32), rng.integers(0, 3, 600)  # wide: BLAS threads would show
    model = Sequential([Dense(784, 512), ReLU(), Dropout(0.2), Dense(512, 3)], seed=0)
    history = fit(model, SoftmaxCrossEntropy(), Adam(0.01), x, y, epochs=4, batch_size=50, validation_split=0.2,
                  seed=1, verbose=0, communicator=world)
    if world.Get_rank() == 0:
        np.savez(sys.argv[1], loss=history["loss"], val_loss=history["val_loss"],
                 **{key: value for key, value in model.params.items()})
""")


@pytest.mark.slow
@needs_mpi
def test_fit_with_a_communicator_is_bit_identical_for_1_2_and_4_processes(tmp_path):
    """Also against one process that has two BLAS threads: data-parallel training runs BLAS on one thread."""
    script = tmp_path / "train.py"
    script.write_text(API_SCRIPT)
    for processes in (1, 2, 4):
        result = mpiexec(processes, str(script), str(tmp_path / f"k{processes}.npz"), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    rng = np.random.default_rng(0)
    x, y = rng.random((600, 784), dtype=np.float32), rng.integers(0, 3, 600)
    model = Sequential([Dense(784, 512), ReLU(), Dropout(0.2), Dense(512, 3)], seed=0)
    before = blas.threads()
    blas.set_threads(2)
    try:
        history = fit(model, SoftmaxCrossEntropy(), Adam(0.01), x, y, epochs=4, batch_size=50, validation_split=0.2,
                      seed=1, verbose=0, communicator=SingleProcess())  # in this process, with 2 BLAS threads
    finally:
        blas.set_threads(before or 1)
    for processes in (1, 2, 4):
        saved = np.load(tmp_path / f"k{processes}.npz")
        np.testing.assert_array_equal(saved["loss"], history["loss"])
        np.testing.assert_array_equal(saved["val_loss"], history["val_loss"])
        for key, value in model.params.items():
            np.testing.assert_array_equal(saved[key], value)


AUGMENTED_SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    from mpi4py import MPI
    from mlp import Adam, Dense, Dropout, ReLU, Sequential, SoftmaxCrossEntropy, fit
    from mlp.data.augment import Augment
    from mlp.train.adversarial import Adversarial

    world = MPI.COMM_WORLD
    rng = np.random.default_rng(0)
    x, y = rng.random((400, 784), dtype=np.float32), rng.integers(0, 3, 400)
    model = Sequential([Dropout(0.2), Dense(784, 64), ReLU(), Dropout(0.5), Dense(64, 3)], seed=0)
    extra = ({"augment": Augment((28, 28), translate=2, rotate=10, scale=0.1, shear=5, elastic_alpha=8,
                                 elastic_sigma=3)} if sys.argv[2] == "augment"
             else {"adversarial": Adversarial(epsilon=0.1, weight=0.4)})
    history = fit(model, SoftmaxCrossEntropy(), Adam(0.01), x, y, epochs=3, batch_size=50, validation_split=0.2,
                  seed=1, verbose=0, communicator=world, **extra)
    if world.Get_rank() == 0:
        np.savez(sys.argv[1], loss=history["loss"], **{key: value for key, value in model.params.items()})
""")


@pytest.mark.slow
@needs_mpi
@pytest.mark.parametrize("extra", ["augment", "adversarial"])
def test_augmented_and_adversarial_training_are_bit_identical_for_1_2_and_4_processes(tmp_path, extra):
    script = tmp_path / "train.py"
    script.write_text(AUGMENTED_SCRIPT)
    saved = []
    for processes in (1, 2, 4):
        result = mpiexec(processes, str(script), str(tmp_path / f"k{processes}.npz"), extra, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        saved.append(np.load(tmp_path / f"k{processes}.npz"))
    for other in saved[1:]:
        for key in saved[0].files:
            np.testing.assert_array_equal(other[key], saved[0][key])


SPIRALS = ["-m", "mlp", "train", "spirals", "--set", "data.samples=20000", "--epochs", "4"]


@pytest.mark.slow
@needs_mpi
def test_a_run_recording_metrics_is_bit_identical_with_2_and_4_processes(tmp_path):
    command = ["-m", "mlp", "train", "spirals", "--set", "data.samples=2000", "--epochs", "3", "--set",
               "training.metrics=[f1_macro]", "--set", "output.keep=best", "--set", "output.monitor=val_f1_macro"]
    for processes in (2, 4):
        result = mpiexec(processes, *command, "--out", f"k{processes}", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    assert_same_run(the_run(tmp_path / "k2"), the_run(tmp_path / "k4"))
    assert "val_f1_macro" in run_files(the_run(tmp_path / "k2"))["history"][0]


def run_files(run: Path) -> dict[str, object]:
    """What a run wrote, without its timings: the arrays of model.npz and last.npz, the history, the test scores."""
    arrays = {}
    for name in ("model.npz", "last.npz"):
        with np.load(run / name) as f:
            arrays |= {f"{name}:{key}": f[key] for key in f.files if key != "__meta__"}
    history = [{k: v for k, v in record.items() if k != "time"}
               for record in json.loads((run / "history.json").read_text())]
    return {"arrays": arrays, "history": history, "test": json.loads((run / "metrics.json").read_text())["test"]}


def assert_same_run(a: Path, b: Path) -> None:
    first, second = run_files(a), run_files(b)
    assert first["history"] == second["history"]
    assert first["test"] == second["test"]
    assert first["arrays"].keys() == second["arrays"].keys()
    for key, value in first["arrays"].items():
        np.testing.assert_array_equal(value, second["arrays"][key], err_msg=key)


def the_run(out: Path) -> Path:
    (run,) = [path for path in out.iterdir() if not path.is_symlink()]
    return run


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    """``mpiexec -n 2 mlp train``: its output and run directory."""
    folder = tmp_path_factory.mktemp("two")
    result = mpiexec(2, *SPIRALS, "--out", "runs", cwd=folder)
    assert result.returncode == 0, result.stderr
    assert_nothing_left(folder)
    return result, the_run(folder / "runs")


@pytest.mark.slow
@needs_mpi
def test_mlp_train_is_bit_identical_with_2_and_4_processes_and_process_0_alone_writes(tmp_path, two_processes):
    result, run = two_processes
    assert result.stdout.count("epoch 4/4") == 1 and result.stdout.count("test     loss") == 1
    assert "parallel 2 processes, 8 micro-batches a batch (4 per process)" in result.stdout
    assert result.stderr == ""
    four = mpiexec(4, *SPIRALS, "--out", "runs", cwd=tmp_path)
    assert four.returncode == 0, four.stderr
    assert len(list((tmp_path / "runs").iterdir())) == 2  # one run directory and `latest`
    assert_same_run(run, the_run(tmp_path / "runs"))


def processes_below(pid: int) -> list[int]:
    """Every process descended from ``pid`` (the launcher this test started), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def rank_of(pid: int) -> int | None:
    try:
        variables = (Path("/proc") / str(pid) / "environ").read_bytes().split(b"\0")
    except OSError:
        return None
    rank = next((v.split(b"=", 1)[1] for v in variables if v.startswith(b"PMI_RANK=")), None)
    return int(rank) if rank is not None else None


def start_long_run(folder: Path, processes: int, epochs: int = 40) -> tuple[subprocess.Popen, Path]:
    """A run long enough to stop on the way, its launcher in a session of its own; returns once the run's first
    epoch is checkpointed."""
    args = [MPIEXEC, "-n", str(processes), sys.executable, *SPIRALS[:-1], str(epochs), "--out", "runs", "--quiet"]
    launcher = subprocess.Popen(args, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
    deadline = time.monotonic() + TIMEOUT
    while not list(folder.glob("runs/spirals-*/last.npz")):
        assert launcher.poll() is None and time.monotonic() < deadline, launcher.communicate()
        time.sleep(0.05)
    return launcher, the_run(folder / "runs")


def processes_in(folder: Path) -> list[int]:
    """The processes working in ``folder`` (the launcher a test started there, its processes and their watchers,
    which are in sessions of their own), from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and Path(os.readlink(entry / "cwd")).is_relative_to(folder):
                found.append(int(entry.name))
        except OSError:  # gone, or not ours
            continue
    return found


def assert_nothing_left(folder: Path) -> None:
    """No process of a run in ``folder`` is left a moment after its launcher exits (the watchers end within a
    second), and no watcher's record is left in its run directories."""
    deadline = time.monotonic() + 5
    while processes_in(folder) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not processes_in(folder)
    assert not list(folder.glob("runs/*/.process-*"))


@pytest.fixture
def stopped_at_the_end(tmp_path):
    """Ends any process a test started in its folder, if the test left one."""
    yield
    for pid in processes_in(tmp_path):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.slow
@needs_mpi
def test_a_run_stopped_with_4_processes_resumes_with_2_as_if_it_had_not_stopped(tmp_path, two_processes,
                                                                                 stopped_at_the_end):
    launcher, run = start_long_run(tmp_path, 4)
    launcher.send_signal(signal.SIGTERM)  # mpiexec passes it to every process; they agree on where to stop
    out, err = launcher.communicate(timeout=TIMEOUT)
    assert launcher.returncode == 143, err
    # the resume command is said once, in the form that starts the processes again; no process was lost
    assert (out + err).count("--resume") == 1, out + err
    assert f"; resume with mpiexec -n 4 mlp train --resume {run.relative_to(tmp_path)}\n" in err
    assert_nothing_left(tmp_path)
    resumed = mpiexec(2, "-m", "mlp", "train", "--resume", str(run), "--epochs", "4", "--quiet", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert_same_run(two_processes[1], run)


def run_as_said(command: str, cwd: Path) -> subprocess.CompletedProcess:
    """A command as printed, run as it is (`mlp` and `mpiexec` beside this Python)."""
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env["PATH"]])
    return subprocess.run(shlex.split(command), cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT)


@pytest.mark.slow
@needs_mpi
def test_sigterm_to_mpiexec_says_once_how_to_resume_with_mpiexec(tmp_path, stopped_at_the_end):
    launcher, run = start_long_run(tmp_path, 2, epochs=12)
    launcher.send_signal(signal.SIGTERM)
    out, err = launcher.communicate(timeout=TIMEOUT)
    assert launcher.returncode == 143, err
    command = f"mpiexec -n 2 mlp train --resume {run.relative_to(tmp_path)}"
    assert (out + err).count("--resume") == 1 and f"; resume with {command}\n" in err, out + err
    assert "error:" not in err  # no watcher spoke
    assert_nothing_left(tmp_path)
    resumed = run_as_said(command, tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((run / "metrics.json").read_text())["epochs"] == 12


@pytest.mark.slow
@needs_mpi
@pytest.mark.parametrize("lost", [1, 0])
def test_a_lost_process_is_named_with_the_command_that_continues_the_run(tmp_path, stopped_at_the_end, lost):
    """MPICH's launcher SIGKILLs the other processes as soon as one dies, or MPICH ends one whose exchange failed:
    process 0's watcher speaks for the lost one. It names it, unless its watcher woke after the launcher's kills (a
    busy machine): then "a process" (the unit tests above check that choice), never another process."""
    launcher, run = start_long_run(tmp_path, 2, epochs=12)
    workers = [pid for pid in processes_below(launcher.pid) if rank_of(pid) == lost]
    assert workers, f"no process of rank {lost} found"
    killed = time.monotonic()
    os.kill(workers[0], signal.SIGKILL)
    _, err = launcher.communicate(timeout=30)
    assert time.monotonic() - killed < 10
    assert launcher.returncode != 0
    command = f"mpiexec -n 2 mlp train --resume {run.relative_to(tmp_path)}"
    assert err in [f"error: {which} of 2 was lost (it ended without a word: killed, or out of memory?) and every "
                   f"process was ended; continue with: {command}\n" for which in (f"process {lost}", "a process")], err
    assert_nothing_left(tmp_path)
    resumed = run_as_said(command, tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((run / "metrics.json").read_text())["epochs"] == 12


@pytest.mark.slow
@needs_mpi
def test_a_run_that_cannot_start_says_so_once_and_every_process_exits(tmp_path):
    result = mpiexec(3, "-m", "mlp", "train", "spirals", cwd=tmp_path, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == ("error: 3 processes cannot share a batch's 8 micro-batches equally; run 1, 2, 4, "
                                     "8 processes")
    assert not (tmp_path / "runs").exists()
    missing = mpiexec(2, "-m", "mlp", "train", "--resume", "nowhere", cwd=tmp_path, timeout=60)
    assert missing.returncode == 2 and missing.stderr.count("error:") == 1, missing.stderr


@pytest.mark.parametrize(("rank", "expected"), [
    ("0", "error: mlp under mpiexec -n 2 needs mpi4py, which is not installed; install it with: pip install "
          "'mpi4py>=4.0' 'mpich>=4.2'  (the mpi extra)\n"),
    ("1", ""),  # the other processes stay silent: process 0 says it
])
def test_mpiexec_without_mpi4py_says_how_to_install_it_once(tmp_path, rank, expected):
    code = "import sys; sys.modules['mpi4py'] = None; from mlp.cli import main; main(['train', 'spirals'])"
    env = os.environ | {"PMI_SIZE": "2", "PMI_RANK": rank}  # what mpiexec -n 2 sets, without starting MPI
    result = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True,
                            timeout=60)
    assert (result.returncode, result.stderr) == (2, expected)


ABORTING_PROCESS = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from mpi4py import MPI
    from mlp.runs.run import continue_hints
    from mlp.train.parallel import DataParallel

    run = Path(sys.argv[1]).resolve()
    (run / "last.npz").touch()
    parallel = DataParallel(MPI.COMM_WORLD)
    with parallel.watched(run if parallel.rank == 0 else None, continue_hints(run, "mpiexec -n 2 mlp train")):
        MPI.COMM_WORLD.Barrier()
        if parallel.rank == 1:
            MPI.COMM_WORLD.Abort(3)  # as MPICH ends a process itself: its error stack goes to the watcher
        time.sleep(60)  # the launcher ends this process at once
""")


@pytest.mark.slow
@needs_mpi
def test_process_0s_watcher_is_heard_after_mpich_ends_a_process_and_its_launcher_exits_at_once(tmp_path):
    """After an abort, MPICH's launcher exits without passing on what a process writes later: process 0's watcher
    writes to the launcher's own standard error. Process 1 ended with MPICH's words, not silently: no process is
    named."""
    script = tmp_path / "aborting.py"
    script.write_text(ABORTING_PROCESS)
    (tmp_path / "run").mkdir()
    result = mpiexec(2, str(script), "run", cwd=tmp_path, timeout=60)
    assert result.returncode == 3
    assert result.stderr == LOST_LINE.format(which="a process", run=tmp_path / "run"), result.stderr
    assert not list((tmp_path / "run").glob(".process-*"))


FAILING_PROCESS = textwrap.dedent("""
    import os, sys
    import mlp.train.loop
    from mlp.cli import main

    if os.environ.get("PMI_RANK") == "1":  # process 1 fails in its second epoch, after training started
        train_epoch = mlp.train.loop._train_epoch

        def failing(state, *args, **kwargs):
            if state.epoch == 1:
                raise OSError(28, "No space left on device (simulated)")
            return train_epoch(state, *args, **kwargs)

        mlp.train.loop._train_epoch = failing
    main(sys.argv[1:])
""")


@pytest.mark.slow
@needs_mpi
def test_a_process_that_fails_after_the_start_ends_every_process_with_one_message(tmp_path):
    script = tmp_path / "failing.py"
    script.write_text(FAILING_PROCESS)
    started = time.monotonic()
    result = mpiexec(2, str(script), "train", "spirals", "--epochs", "5", "--out", "runs", "--quiet", cwd=tmp_path)
    assert time.monotonic() - started < 60
    assert result.returncode != 0
    assert result.stderr.count("error: process 1 of 2: [Errno 28] No space left on device (simulated); ending every "
                               "process (files written before are intact)") == 1, result.stderr
    assert "Traceback" not in result.stderr


FULL_DISK = textwrap.dedent("""
    import errno, os, sys
    import mlp.train.checkpoint
    from mlp.cli import main

    if os.environ.get("PMI_RANK") == "0":  # process 0 writes the run; its third checkpoint finds the disk full
        savez, saves = mlp.train.checkpoint.np.savez, []

        def savez_until_the_disk_is_full(file, **arrays):
            saves.append(1)
            if len(saves) == 3:
                raise OSError(errno.ENOSPC, "No space left on device")
            savez(file, **arrays)

        mlp.train.checkpoint.np.savez = savez_until_the_disk_is_full
    main(sys.argv[1:])
""")


@pytest.mark.slow
@needs_mpi
def test_a_full_disk_says_how_to_resume_with_mpiexec(tmp_path, stopped_at_the_end):
    script = tmp_path / "full.py"
    script.write_text(FULL_DISK)
    result = mpiexec(2, str(script), "train", "spirals", "--epochs", "5", "--out", "runs", "--quiet", cwd=tmp_path)
    run = the_run(tmp_path / "runs").relative_to(tmp_path)
    assert result.returncode != 0
    assert result.stderr.count("error:") == 1, result.stderr
    assert (f"error: process 0 of 2: no space left on the device to write {run / 'last.npz'}; free some space, then "
            f"continue with: mpiexec -n 2 mlp train --resume {run}; ending every process (files written before are "
            f"intact)\n") in result.stderr
    assert "Traceback" not in result.stderr
    assert_nothing_left(tmp_path)


def mpmd(*sections: tuple[dict[str, str], list[str]], cwd: Path, env: dict[str, str] | None = None,
         timeout: float = 60) -> subprocess.CompletedProcess:
    """``mpiexec -n 1 [-env NAME VALUE ...] python ARGS : -n 1 ...``: one process per section, each started with
    its own variables and arguments."""
    command = [MPIEXEC]
    for number, (variables, args) in enumerate(sections):
        command += [":"] * bool(number) + ["-n", "1"]
        for name, value in variables.items():
            command += ["-env", name, value]
        command += [sys.executable, *args]
    env = env if env is not None else {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


SHORT = ["-m", "mlp", "train", "spirals", "--epochs", "2", "--out", "runs"]


@pytest.mark.slow
@needs_mpi
def test_processes_started_with_other_configs_stop_before_training_naming_the_first_difference(tmp_path):
    result = mpmd(({}, [*SHORT, "--seed", "1"]), ({}, [*SHORT, "--seed", "2"]), cwd=tmp_path)
    assert (result.returncode, result.stderr) == (2, "error: process 1's config differs from process 0's at seed: 2 "
                                                     "vs 1; start every process with the same command\n")
    assert not (tmp_path / "runs").exists()  # process 0 made no run folder
    wider = mpmd(({}, SHORT), ({}, [*SHORT, "--set", "model.layers.0.dense=17"]), cwd=tmp_path)
    assert (wider.returncode, wider.stderr) == (2, "error: process 1's config differs from process 0's at "
                                                   "model.layers.0.dense: 17 vs 64; start every process with the "
                                                   "same command\n")


@pytest.mark.slow
@needs_mpi
def test_a_process_that_loads_other_data_stops_every_process_before_training(tmp_path):
    """Process 0 has MNIST in MLP_DATA_DIR; process 1 has none (no network, an empty cache): the bundled sample."""
    folder = tmp_path / "digits"
    make_files(folder, n_train=40, n_test=10)
    # The cache remembers these files as verified (as it does after a first load), so they pass for MNIST
    cache = tmp_path / "cache"
    (cache / "mlp").mkdir(parents=True)
    (cache / "mlp" / "verified.json").write_text(json.dumps(
        {str(path.resolve()): [path.stat().st_size, path.stat().st_mtime_ns] for path in folder.iterdir()}))
    closed = "http://127.0.0.1:9"  # every download refused at once
    env = {k: v for k, v in os.environ.items() if k not in ("MLP_DATA_DIR", "OPENBLAS_NUM_THREADS")} | {
        "XDG_CACHE_HOME": str(cache), "MLP_OFFLINE": "1", "http_proxy": closed, "https_proxy": closed}
    args = ["-m", "mlp", "train", "mnist", "--epochs", "1", "--out", "runs"]
    result = mpmd(({"MLP_DATA_DIR": str(folder)}, args), ({}, args), cwd=tmp_path, env=env, timeout=120)
    assert (result.returncode, result.stderr) == (2, (
        "error: process 1: mnist from bundled sample (10,000 training, 2,000 test rows) loaded, but process 0 used "
        f"mnist from MLP_DATA_DIR {folder} (40 training, 10 test rows); set MLP_DATA_DIR on every process to a "
        "folder with the same files\n")), result.stderr
    assert not (tmp_path / "runs").exists()
