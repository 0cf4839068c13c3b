"""The watcher of a data-parallel process: when a process of ``mpiexec -n K mlp train`` is lost mid-run, process 0's
watcher says which one, and how to continue the run.

MPICH's launcher answers the death of one process (``kill -9``, the out-of-memory killer, a crash) by sending
SIGKILL at once to the process group of every other one: no process gets a signal it could handle, so none can
say anything (the launcher's own report names a PID, not a rank, and no command). So every process of such a run
starts a watcher (``DataParallel.watched``): a small process in a session of its own, which the launcher's kills
do not reach, that holds the read end of a pipe from its process. The pipe ends (EOF) when the process ends,
however it ends; a process that ends by its own code writes first how (``FINISHED``, or ``REPORTED``: it has said
what went wrong). A watcher whose process ended without a word writes a record, an empty file named with its
rank and the time (``.process-R.lost.NS``), in the run directory, which every process can reach (a resume reads
``last.npz`` there in every process); the first process to end is the lost one, the others were ended by the
launcher after it. Process 0's watcher gathers the records (at most ``WAIT`` seconds), removes them and prints
one line on process 0's standard error, which the launcher passes on: its process and the others were ended, and
the command that continues the run: the first of the ``hints`` it was given whose file exists (``first_possible``;
the run says what they are: ``mlp.runs.run.continue_hints``).

Process 0's watcher holds process 0's standard error, and the launcher waits for every copy of it to close
before it exits (the others hold nothing of the launcher's): so a watcher ends as soon as its process has ended
(process 0's within ``WAIT`` seconds more), and prints nothing when the run ends normally or is stopped by a
signal (the process said so). It imports nothing but the standard library while it waits.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path

FINISHED = b"finished"  # the process ended training normally, or stopped at a signal, and said so
REPORTED = b"reported"  # the process stops with an error it reports itself (and ends the others)
LOST = b""  # the process ends without a word: killed (by the launcher, or it is the one lost)
PEER_LOST = b"peer-lost"  # an exchange failed because another process ended: this one is not the one lost
WAIT = 1.0  # seconds process 0's watcher waits for the other watchers' records: they come within milliseconds
RECORD = ".process-{rank}.{how}.{ns}"  # a watcher's record in the run directory: an empty file, made at once
# The watcher runs this very package, wherever this process found it (not another `mlp` in the working folder)
PACKAGE_ROOT = Path(__file__).resolve().parent.parent
START = "import sys; sys.path.insert(0, sys.argv.pop(1)); from mlp.train.watcher import main; main(sys.argv[1:])"


# What continues a run, in order of preference: each with the file it needs ("" for none) and what to say then
Hints = list[tuple[str, str]]


def first_possible(hints: Hints) -> str:
    """What to say of the first of ``hints`` whose file exists (or that needs none)."""
    return next(text for needs, text in hints if not needs or Path(needs).is_file())


class Watcher:
    """Starts the watcher of this process (process ``rank`` of ``size``), whose records go to ``records`` (the run
    directory, as an absolute path); process 0's also gets the ``hints`` that say how to continue the run
    (``mpiexec -n K mlp train --resume RUN``, ...). ``end`` says how the process ends."""

    def __init__(self, records: str, rank: int, size: int, hints: Hints = ()) -> None:
        read, self._pipe = os.pipe()  # not inherited by other children (PEP 446): only this process holds it
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", START, str(PACKAGE_ROOT), str(read), records, str(rank), str(size),
                 json.dumps(list(hints))],
                pass_fds=[read], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=None if rank == 0 else subprocess.DEVNULL,  # process 0's watcher speaks, on its stderr
                start_new_session=True,  # out of the process group that the launcher kills
            )
        finally:
            os.close(read)

    def end(self, how: bytes) -> None:
        """Tell the watcher how this process ends (``FINISHED``, ``REPORTED`` or ``LOST``), and let it go."""
        if self._pipe < 0:
            return
        with suppress(OSError):  # the watcher is gone (someone ended it): there is no one to tell
            os.write(self._pipe, how)
        os.close(self._pipe)
        self._pipe = -1


def records(folder: Path) -> dict[int, tuple[str, int]]:
    """The records in ``folder``: rank -> (how its process ended, the time its watcher saw it, in ns)."""
    found = {}
    for path in folder.glob(RECORD.format(rank="*", how="*", ns="*")):
        _, process, how, ns = path.name.split(".")
        rank = process.removeprefix("process-")
        if rank.isdigit() and ns.isdigit():
            found[int(rank)] = (how, int(ns))
    return found


def remove_records(folder: Path) -> None:
    """Remove the watchers' records from ``folder`` (those of an earlier run in it, or those just read)."""
    for path in folder.glob(RECORD.format(rank="*", how="*", ns="*")):
        path.unlink(missing_ok=True)


def watch(pipe: int, folder: Path, rank: int, size: int, hints: Hints) -> None:
    """Wait for the end of the process at the other end of ``pipe``; then act as the module's docstring says."""
    said = b""
    while chunk := os.read(pipe, 64):  # EOF: the process ended
        said += chunk
    ended = time.time_ns()
    if said == FINISHED:
        return
    how = {REPORTED: "reported", PEER_LOST: "peer"}.get(said, "lost")
    if rank != 0:  # (a folder gone or read-only: process 0's watcher decides without this record)
        os.close(os.open(folder / RECORD.format(rank=rank, how=how, ns=ended), os.O_CREAT | os.O_WRONLY, 0o644))
        return
    deadline = time.monotonic() + WAIT
    found = records(folder)
    while len(found) < size - 1 and time.monotonic() < deadline:
        time.sleep(0.02)
        found = records(folder)
    remove_records(folder)
    silent = {other: ns for other, (other_how, ns) in found.items() if other_how == "lost"}
    if any(other_how == "reported" for other_how, _ in found.values()):
        return  # another process said what went wrong, and ended the others
    # Process 0 said what went wrong, unless another process had ended silently before: then process 0 failed of
    # that loss, and the launcher may have killed it before its own line was out
    if how == "reported" and not any(ns < ended for ns in silent.values()):
        return
    found[0] = (how, ended)
    # The lost process is one that ended without a word, not one whose exchange with it failed (those end within
    # microseconds of it, too close to tell apart by time); of several silent ends, the launcher's kills came after
    # the first. Without every record (a process that finished first, a run directory another host does not
    # share), the first one here need not be the first to end.
    if how == "lost":
        silent[0] = ended
    which = f"process {min(silent, key=silent.__getitem__)}" if len(found) == size and silent else "a process"
    os.write(2, (f"error: {which} of {size} was lost (it ended without a word: killed, or out of memory?) and "
                 f"every process was ended; {first_possible(hints)}\n").encode())


def main(argv: list[str]) -> None:
    """The watcher's command line, ``PIPE RECORDS RANK SIZE HINTS`` (JSON), as ``Watcher`` starts it."""
    pipe, folder, rank, size, hints = argv
    with suppress(OSError, KeyboardInterrupt, StopIteration):  # a watcher never prints a traceback
        watch(int(pipe), Path(folder), int(rank), int(size), [tuple(hint) for hint in json.loads(hints)])
