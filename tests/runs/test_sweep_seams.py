"""``mlp sweep`` where it meets other processes, with the real things: a second sweep on a running sweep's folder stops
at once; a SIGKILLed sweep leaves no process behind and its rerun agrees with every trial's record; a trial that
another process holds is waited for, then reported ``locked``, never ``failed``; Ctrl-C stops the trials on real Dask
workers at their next batch, where they resume exactly; a Dask address that is wrong fails in seconds with one line;
Dask's warnings take one line each."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import stop_session
from test_sweep import BASE, results, sweep_command, write

from mlp.files.lock import folder_lock

# Trials of several seconds, each epoch a few hundred batches: a kill or a stop lands in the middle of one.
LONG = BASE % (20000, 256, 12) + """space:
  optimizer.lr: [0.001, 0.003, 0.01, 0.03]
"""
SHORT = BASE % (400, 8, 2) + """space:
  optimizer.lr: [0.01, 0.1]
"""
ERROR_SECONDS = 10  # a wrong Dask address is named within this, once the command has started
STARTUP_SECONDS = 20  # what starting Python and importing mlp and Dask may take on a loaded machine


def popen_sweep(path: Path, *args: str, cwd: Path) -> subprocess.Popen:
    """A sweep in a session of its own, its output to pipes."""
    return subprocess.Popen([sys.executable, "-m", "mlp", "sweep", str(path), *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def wait_until(condition, process: subprocess.Popen | None = None, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert process is None or process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def mid_trial(folder: Path) -> bool:
    """A trial has saved its first epoch and is still training."""
    return any(not (last.parent / "trial.json").exists() for last in folder.glob("trials/*/last.npz"))


def descendants(pid: int) -> set[int]:
    """The processes ``pid`` started, and theirs (Linux's /proc/PID/task/TID/children)."""
    found: set[int] = set()
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            for child in map(int, children.read_text().split()):
                found |= {child} | descendants(child)
    return found


def alive(pids: set[int]) -> set[int]:
    """Those of ``pids`` still running (a zombie has ended: only its parent's wait is missing)."""
    running = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            state = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                         if line.startswith("State:"))
            if "Z" not in state.split()[1]:
                running.add(pid)
    return running


def trial_records(folder: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in folder.glob("trials/*/trial.json")}


def assert_results_agree_with_the_trials(folder: Path, finished: bool = True) -> None:
    """results.csv says of every trial what its own trial.json says (of a sweep not ``finished``, of those that
    have one; the others were not run)."""
    records = trial_records(folder)
    with open(folder / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4
    for row in rows:
        record = records.get(Path(row["run_dir"]).name)
        if record is None and not finished:
            assert row["status"] == "not run"
            continue
        assert row["status"] == record["status"]
        if record["metric"] is None:  # stopped before its first epoch ended (a busy machine): no metric yet
            assert row["val_loss"] == ""
        else:
            assert float(row["val_loss"]) == pytest.approx(record["metric"], rel=1e-12)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The results of LONG trained without interruption, on 2 local processes."""
    folder = tmp_path_factory.mktemp("uninterrupted")
    result = sweep_command(str(write(folder, "long.yaml", LONG)), "--jobs", "2", "--out", "sweep", cwd=folder)
    assert result.returncode == 0, result.stderr
    return results(folder / "sweep")


@pytest.mark.slow
def test_a_second_sweep_on_a_running_sweeps_folder_stops_at_once_naming_the_first(tmp_path):
    path = write(tmp_path, "long.yaml", LONG)
    first = popen_sweep(path, "--jobs", "1", "--out", "sweep", cwd=tmp_path)
    try:
        wait_until(lambda: (tmp_path / "sweep" / "trials").is_dir(), first)
        started = time.monotonic()
        second = sweep_command(str(path), "--jobs", "1", "--out", "sweep", cwd=tmp_path)
        assert time.monotonic() - started < STARTUP_SECONDS
        assert second.returncode == 2, second.stdout
        assert second.stderr.splitlines() == [f"error: {tmp_path / 'sweep'} is in use by another process (pid "
                                              f"{first.pid}, mlp sweep); wait for it to finish or stop it"]
        assert second.stdout == ""
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=120)
    assert first.returncode == 130


@pytest.mark.slow
def test_a_killed_sweep_leaves_nothing_running_and_its_rerun_agrees_with_every_trial(tmp_path, uninterrupted):
    path = write(tmp_path, "long.yaml", LONG)
    process = popen_sweep(path, "--jobs", "2", "--out", "sweep", cwd=tmp_path)
    family: set[int] = set()
    try:
        wait_until(lambda: mid_trial(tmp_path / "sweep"), process)
        family = descendants(process.pid)
        assert len(family) >= 3, family  # two workers and multiprocessing's resource tracker
        os.kill(process.pid, signal.SIGKILL)
        killed = time.monotonic()
        process.wait()
        wait_until(lambda: not alive(family), seconds=5)
        process.communicate(timeout=max(5 - (time.monotonic() - killed), 0.1))  # the pipes reach their end
    finally:
        for pid in alive(family):  # only the processes this test's sweep started
            os.kill(pid, signal.SIGKILL)
    # a trial that had the time to stop at its batch says so; none failed for its sweep's death
    assert {record["status"] for record in trial_records(tmp_path / "sweep").values()} <= {"interrupted", "completed"}
    again = sweep_command(str(path), "--jobs", "2", "--out", "sweep", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "failed" not in again.stdout and "locked" not in again.stdout
    assert_results_agree_with_the_trials(tmp_path / "sweep")
    assert results(tmp_path / "sweep") == uninterrupted


@pytest.mark.slow
def test_a_trial_another_process_holds_is_waited_for_then_reported_locked_never_failed(tmp_path):
    path = write(tmp_path, "short.yaml", SHORT)
    trial = tmp_path / "sweep" / "trials" / "trial-001"
    trial.mkdir(parents=True)
    released = threading.Event()

    def hold(seconds: float) -> None:
        with folder_lock(trial, "a test holding it"):
            time.sleep(seconds)
        released.set()

    holder = threading.Thread(target=hold, args=(3,))
    holder.start()
    waited = sweep_command(str(path), "--jobs", "1", "--out", "waited", cwd=tmp_path)  # another folder: no wait
    assert waited.returncode == 0, waited.stderr
    holder.join()
    # held for a few seconds (a killed sweep's worker, ending): waited for, then trained
    holder = threading.Thread(target=hold, args=(3,))
    holder.start()
    time.sleep(0.5)
    result = sweep_command(str(path), "--jobs", "1", "--out", "sweep", cwd=tmp_path)
    holder.join()
    assert result.returncode == 0, result.stderr
    assert {row["trial"]: row["status"] for row in results(tmp_path / "sweep")} == {"0": "completed",
                                                                                   "1": "completed"}
    # held for longer than a trial waits: reported as locked, nothing written in the folder, run the next time
    other = write(tmp_path, "other.yaml", SHORT.replace("400", "300"))
    trial = tmp_path / "other" / "trials" / "trial-001"
    trial.mkdir(parents=True)
    with folder_lock(trial, "a test holding it"):
        result = sweep_command(str(other), "--jobs", "1", "--out", "other", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = {row["trial"]: row for row in results(tmp_path / "other")}
    assert rows["1"]["status"] == "locked"
    assert f"is in use by another process (pid {os.getpid()}, a test holding it)" in rows["1"]["message"]
    assert "failed" not in result.stdout and not (trial / "trial.json").exists()
    again = sweep_command(str(other), "--jobs", "1", "--out", "other", cwd=tmp_path)
    assert "1 done, 1 to run" in again.stdout
    assert [row["status"] for row in results(tmp_path / "other")] == ["completed", "completed"]


# -- a real Dask scheduler and workers on 127.0.0.1 -------------------------------------------------------------
def start_dask(tmp_path: Path, workers: int) -> tuple[str, list[subprocess.Popen]]:
    """`dask scheduler` on 127.0.0.1 and `dask worker` with ``workers`` single-threaded processes (if any), each in
    a session of its own; returns the scheduler's address and the processes."""
    pytest.importorskip("distributed")
    bin_dir = Path(sys.executable).parent
    file = tmp_path / "scheduler.json"
    processes = [subprocess.Popen([bin_dir / "dask", "scheduler", "--host", "127.0.0.1", "--port", "0",
                                   "--no-dashboard", "--scheduler-file", file], cwd=tmp_path,
                                  stderr=subprocess.DEVNULL, start_new_session=True)]
    wait_until(lambda: file.is_file() and file.stat().st_size > 0, processes[0], seconds=60)
    address = json.loads(file.read_text())["address"]
    if workers:
        processes.append(subprocess.Popen([bin_dir / "dask", "worker", address, "--nworkers", str(workers),
                                           "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1"],
                                          cwd=tmp_path, stderr=subprocess.DEVNULL, start_new_session=True))
    return address, processes


def stop_dask(processes: list[subprocess.Popen]) -> None:
    for process in reversed(processes):
        stop_session(process)


@pytest.mark.slow
def test_ctrl_c_stops_the_trials_on_dask_workers_at_their_next_batch_where_they_resume(tmp_path, uninterrupted):
    address, cluster = start_dask(tmp_path, workers=2)
    try:
        path = write(tmp_path, "long.yaml", LONG)
        process = popen_sweep(path, "--scheduler", address, "--out", "sweep", cwd=tmp_path)
        wait_until(lambda: mid_trial(tmp_path / "sweep"), process)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=90)
        assert process.returncode == 130, err
        assert all(line.startswith("waiting  for a Dask worker") for line in err.splitlines()), err  # workers start
        assert f"continue with: mlp sweep {path} --out sweep --scheduler {address}" in out
        # nothing runs on the workers any more: no trial holds its folder, and no file changes
        folder = tmp_path / "sweep"
        assert not list(folder.glob("trials/*/.lock"))
        files = {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}
        time.sleep(2)
        assert files == {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}
        assert not (folder / ".stop").exists()
        records = trial_records(folder)
        assert "interrupted" in {record["status"] for record in records.values()}
        for name, record in records.items():
            assert record["status"] in ("completed", "interrupted"), record
            if record["status"] == "interrupted":
                assert (folder / "trials" / name / "last.npz").is_file()
        assert "(interrupted, " in out  # the stopped trials are reported
        again = sweep_command(str(path), "--scheduler", address, "--out", "sweep", cwd=tmp_path)
        assert again.returncode == 0, again.stderr
        assert_results_agree_with_the_trials(folder)
        assert results(folder) == uninterrupted
    finally:
        stop_dask(cluster)


@pytest.mark.slow
@pytest.mark.parametrize("backend", [("--jobs", "2"), ("--scheduler", "local:2")], ids=["jobs", "local-dask"])
def test_a_terminals_ctrl_c_reaches_the_workers_too_and_the_sweep_still_stops_them_at_a_batch(tmp_path, uninterrupted,
                                                                                            backend):
    """A terminal sends Ctrl-C to every process of its group: the workers leave it to the sweep."""
    pytest.importorskip("distributed")
    path = write(tmp_path, "long.yaml", LONG)
    process = popen_sweep(path, *backend, "--out", "sweep", cwd=tmp_path)
    wait_until(lambda: mid_trial(tmp_path / "sweep"), process)
    os.killpg(process.pid, signal.SIGINT)  # the session this test started: the sweep and its workers
    out, err = process.communicate(timeout=90)
    assert process.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert "(interrupted, " in out and f"continue with: mlp sweep {path} --out sweep {' '.join(backend)}" in out
    assert_results_agree_with_the_trials(tmp_path / "sweep", finished=False)
    again = sweep_command(str(path), *backend, "--out", "sweep", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert results(tmp_path / "sweep") == uninterrupted


@contextlib.contextmanager
def server(answer) -> str:
    """A TCP server on 127.0.0.1 that gives each connection to ``answer``; yields its address."""
    listener = socket.create_server(("127.0.0.1", 0))
    connections = []

    def serve() -> None:
        with contextlib.suppress(OSError):
            while True:
                connection, _ = listener.accept()
                connections.append(connection)
                answer(connection)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"tcp://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()
        for connection in connections:
            connection.close()
        thread.join(5)


def closed_port() -> str:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        return f"tcp://127.0.0.1:{listener.getsockname()[1]}"


def garbage(connection: socket.socket) -> None:
    connection.sendall(b"SSH-2.0-OpenSSH_9.6 not a Dask scheduler\r\n" * 4)


def http_that_never_answers(connection: socket.socket) -> None:
    """An HTTP server waits for a request; given Dask's bytes, this one never answers."""


def assert_fast_one_line_error(tmp_path: Path, address: str, *parts: str, extra: tuple[str, ...] = (),
                               seconds: float = ERROR_SECONDS) -> subprocess.CompletedProcess:
    path = write(tmp_path, "short.yaml", SHORT)
    started = time.monotonic()
    result = sweep_command(str(path), "--scheduler", address, "--out", "sweep", *extra, cwd=tmp_path, timeout=120)
    assert time.monotonic() - started < seconds + STARTUP_SECONDS
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    error = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(error) == 1 and result.stderr.endswith(error[0] + "\n"), result.stderr
    for part in parts:
        assert part in error[0], (part, error[0])
    return result


@pytest.mark.slow
def test_a_name_that_does_not_resolve_is_named(tmp_path):
    pytest.importorskip("distributed")
    assert_fast_one_line_error(tmp_path, "tcp://nonexistent.invalid:8786",
                               "--scheduler tcp://nonexistent.invalid:8786: the host name nonexistent.invalid does "
                               "not resolve")


@pytest.mark.slow
def test_a_closed_port_is_named(tmp_path):
    pytest.importorskip("distributed")
    address = closed_port()
    assert_fast_one_line_error(tmp_path, address, f"--scheduler {address}: connection refused: nothing listens on port")


@pytest.mark.slow
def test_a_server_that_sends_garbage_is_not_a_dask_scheduler(tmp_path):
    pytest.importorskip("distributed")
    with server(garbage) as address:
        assert_fast_one_line_error(tmp_path, address, f"--scheduler {address}: what listens there is not a Dask "
                                                      f"scheduler (its first message says it is")


@pytest.mark.slow
def test_a_web_server_that_never_answers_is_not_a_dask_scheduler(tmp_path):
    pytest.importorskip("distributed")
    with server(http_that_never_answers) as address:
        assert_fast_one_line_error(tmp_path, address, f"--scheduler {address}: what listens there is not a Dask "
                                                      f"scheduler (it sent nothing Dask understands within 3 s)")


@pytest.mark.slow
def test_a_scheduler_without_workers_is_waited_for_until_the_timeout(tmp_path):
    address, cluster = start_dask(tmp_path, workers=0)
    try:
        result = assert_fast_one_line_error(tmp_path, address, f"no Dask worker joined the scheduler at {address} "
                                            f"within 3 s; start one", extra=("--worker-timeout", "3"),
                                            seconds=3)
    finally:
        stop_dask(cluster)
    assert f"waiting  for a Dask worker to join the scheduler at {address} (up to 3 s" in result.stderr


def test_a_worker_timeout_without_a_scheduler_is_refused(tmp_path):
    path = write(tmp_path, "short.yaml", SHORT)
    result = sweep_command(str(path), "--worker-timeout", "3", cwd=tmp_path)
    assert result.returncode == 2
    assert "--worker-timeout is how long --scheduler waits for a Dask worker" in result.stderr


@pytest.mark.slow
def test_dask_warnings_take_one_line_each(tmp_path):
    """With the dashboard's port taken, Dask warns in three lines that it uses another."""
    pytest.importorskip("distributed")
    path = write(tmp_path, "short.yaml", SHORT)
    try:
        taken = socket.create_server(("127.0.0.1", 8787))
    except OSError:
        taken = None  # taken already: by something else, which does as well
    try:
        result = sweep_command(str(path), "--scheduler", "local:1", "--out", "sweep", cwd=tmp_path)
    finally:
        if taken is not None:
            taken.close()
    assert result.returncode == 0, result.stderr
    assert "Perhaps you already have a cluster running?" not in result.stderr
    assert "warnings.warn(" not in result.stderr
    for line in result.stderr.splitlines():
        assert line.startswith("warning: Dask: "), result.stderr
