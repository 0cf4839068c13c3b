"""The watcher of a data-parallel process: when a process of ``mpiexec -n K mlp train`` is lost mid-run, process 0's
watcher says which one, and how to continue the run.

MPICH's launcher answers the death of one process (``kill -9``, the out-of-memory killer, a crash) by sending
SIGKILL at once to every other one: no process gets a signal it could handle, so none can say anything (the
launcher's own report names a PID, not a rank, and no command). So every process of such a run starts a watcher
(``DataParallel.watched``): a small process in a session of its own, which the launcher's kills do not reach, that
holds the read end of a pipe from its process. The pipe ends (EOF) when the process ends, however it ends; a process
that ends by its own code writes first how (``FINISHED``, or ``REPORTED``: it has said what went wrong, or
``PEER_LOST``: an exchange failed because another process ended), and which of the other processes on its host
still run then. During training the process's native output (file descriptor 2) goes into the pipe too: when an
exchange fails, MPICH may end the process itself after printing its error stack, and a process that said anything is
not one that ended without a word.

A process that ends without a word cannot say which others still run: its watcher looks when it hears of the end.
The first process to end is the one lost: the launcher ends the others only after it, so it alone can have seen
every other one running (or failing of its loss: ``PEER_LOST``). A
watcher whose process did not finish writes a record, an empty file named with its rank, how it ended and the
ranks it saw running (``.process-R.lost.0-2``), in the run directory, which every process can reach (a resume reads
``last.npz`` there in every process). Process 0's watcher gathers the records (at most ``WAIT`` seconds), removes
them and prints one line: the process lost (or "a process", when none saw all the others running: they run on other
hosts, or its watcher woke late on a busy machine), that every process was ended, and the command that continues the
run: the first of the ``hints`` it was given whose file exists (``first_possible``; the run says what they are:
``mlp.runs.run.continue_hints``).

The line goes to the launcher's own standard error when the launcher runs on process 0's host (process 0 opens
it for its watcher): MPICH's launcher exits at once when a process aborts, without passing on what is written after.
Elsewhere it goes to process 0's standard error, which the launcher passes on. A watcher ends as soon as its process
has ended (process 0's within ``WAIT`` seconds more), and prints nothing when the run ends normally or is stopped by
a signal (the process said so). It imports nothing but the standard library while it waits.
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
PEER_LOST = b"peer-lost"  # an exchange failed because another process ended: this one is not the one lost
ENDINGS = {FINISHED: "finished", REPORTED: "reported", PEER_LOST: "peer"}  # what a process writes last: its ending
WAIT = 1.0  # seconds process 0's watcher waits for the other watchers' records: they come within milliseconds
RECORD = ".process-{rank}.{how}.{running}"  # a watcher's record in the run directory: an empty file, made at once
LAUNCHER = ("hydra_pmi_proxy", ("mpiexec", "mpirun"))  # MPICH's: the processes' parent, and that one's parent
# The watcher runs this very package, wherever this process found it (not another `mlp` in the working folder)
PACKAGE_ROOT = Path(__file__).resolve().parent.parent
START = "import sys; sys.path.insert(0, sys.argv.pop(1)); from mlp.train.watcher import main; main(sys.argv[1:])"


# What continues a run, in order of preference: each with the file it needs ("" for none) and what to say then
Hints = list[tuple[str, str]]


def first_possible(hints: Hints) -> str:
    """What to say of the first of ``hints`` whose file exists (or that needs none)."""
    return next(text for needs, text in hints if not needs or Path(needs).is_file())


# Where each process runs, by rank: its host's name and its process ID
Processes = list[tuple[str, int]]


def this_process() -> tuple[str, int]:
    """This process as ``Processes`` lists it."""
    return os.uname().nodename, os.getpid()


def process_state(pid: int) -> tuple[str, int, str]:
    """Process ``pid``'s state letter (``Z``: ended, not yet reaped), parent and command name, from Linux's /proc
    (``OSError`` where there is no such process, or no /proc)."""
    stat = (Path("/proc") / str(pid) / "stat").read_text()
    name, fields = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()  # names hold spaces
    return fields[0], int(fields[1]), name


def running(host: str, pid: int) -> bool:
    """Whether process ``pid`` on ``host`` runs (not ended, nor a zombie); ``False`` where that cannot be known
    here (another host, or no /proc)."""
    if host != os.uname().nodename:
        return False
    try:
        return process_state(pid)[0] not in "ZX"
    except OSError:
        return False


def others_running(rank: int, processes: Processes) -> set[int]:
    """The ranks of the processes other than ``rank`` that run now, as far as this host can tell (``running``)."""
    return {other for other, process in enumerate(processes) if other != rank and running(*process)}


def ranks_text(ranks: set[int]) -> str:
    """``{0, 2}`` as ``0-2``: how records and endings write a set of ranks (``ranks_in`` reads it back)."""
    return "-".join(map(str, sorted(ranks)))


def ranks_in(text: str) -> set[int] | None:
    """The ranks that ``ranks_text`` wrote as ``text`` (``None`` if it is not such a text)."""
    ranks = [rank for rank in text.split("-") if rank]
    return {int(rank) for rank in ranks} if all(rank.isascii() and rank.isdigit() for rank in ranks) else None


def launcher_stderr() -> int | None:
    """A new descriptor of the launcher's own standard error, if MPICH's launcher started this process on this host
    (this process's parent is its proxy, whose parent is the launcher); else ``None``."""
    proxy, launchers = LAUNCHER
    with suppress(OSError):
        _, launcher, name = process_state(os.getppid())
        if name == proxy and process_state(launcher)[2].startswith(launchers):
            return os.open(Path("/proc") / str(launcher) / "fd" / "2", os.O_WRONLY | os.O_APPEND)
    return None


class Watcher:
    """Starts the watcher of this process (process ``rank`` of the ``processes``), whose records go to ``records``
    (the run directory, as an absolute path); process 0's also gets the ``hints`` that say how to continue the run
    (``mpiexec -n K mlp train --resume RUN``, ...). ``pipe`` is the write end of the pipe it reads (native output may
    go there too); ``end`` says how the process ends."""

    def __init__(self, records: str, rank: int, processes: Processes, hints: Hints = ()) -> None:
        self.rank, self.processes = rank, processes
        read, self.pipe = os.pipe()  # not inherited by other children (PEP 446): only this process holds it
        # process 0's watcher speaks: on the launcher's standard error where it can, else on this process's
        speaks = launcher_stderr() if rank == 0 else None
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", START, str(PACKAGE_ROOT), str(read), records, str(rank), json.dumps(processes),
                 json.dumps(list(hints))],
                pass_fds=[read], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=speaks if rank == 0 else subprocess.DEVNULL,
                start_new_session=True,  # out of the process group that the launcher kills
            )
        finally:
            os.close(read)
            if speaks is not None:
                os.close(speaks)

    def end(self, how: bytes) -> None:
        """Tell the watcher how this process ends (``FINISHED``, ``REPORTED`` or ``PEER_LOST``) and which of the
        others run now, in one line (``ending`` reads it), and let it go. This process may outlive the call (it
        reports an error, then ends the others): only what it sees here tells which process ended first."""
        if self.pipe < 0:
            return
        seen = ranks_text(others_running(self.rank, self.processes))
        with suppress(OSError):  # the watcher is gone (someone ended it): there is no one to tell
            os.write(self.pipe, b"\n" + how + b" " + seen.encode())
        os.close(self.pipe)
        self.pipe = -1


def records(folder: Path) -> dict[int, tuple[str, set[int]]]:
    """The records in ``folder``: rank -> (how its process ended, the other ranks that ran then)."""
    found = {}
    for path in folder.glob(RECORD.format(rank="*", how="*", running="*")):
        _, process, how, *seen = path.name.split(".")  # (a hostile name with more dots has no ranks)
        rank, others = process.removeprefix("process-"), ranks_in(".".join(seen))
        if rank.isascii() and rank.isdigit() and others is not None:
            found[int(rank)] = (how, others)
    return found


def remove_records(folder: Path) -> None:
    """Remove the watchers' records from ``folder`` (those of an earlier run in it, or those just read)."""
    for path in folder.glob(RECORD.format(rank="*", how="*", running="*")):
        path.unlink(missing_ok=True)


def ending(said: bytes) -> tuple[str, set[int] | None]:
    """How a process ended, from the last bytes it wrote into its watcher's pipe: the ending it wrote last
    (``ENDINGS``: ``Watcher.end``'s line) with the other ranks it saw running then; else "lost" if it wrote nothing,
    or "spoke" (its MPI library printed an error and ended it, after another process was lost or on its own), and
    ``None``: it could not say which others ran."""
    word, _, seen = said.rpartition(b"\n")[2].partition(b" ")
    others = ranks_in(seen.decode("ascii", "replace"))
    if word in ENDINGS and others is not None:
        return ENDINGS[word], others
    return "spoke" if said else "lost", None


def watch(pipe: int, folder: Path, rank: int, processes: Processes, hints: Hints) -> None:
    """Wait for the end of the process at the other end of ``pipe``; then act as the module's docstring says."""
    said, keep = b"", 64 + 8 * len(processes)  # the longest ending line: a word and every other rank
    while chunk := os.read(pipe, 4096):  # EOF: the process ended
        said = (said + chunk)[-keep:]
    how, others = ending(said)
    if how == "finished":
        return
    if others is None:  # it said nothing of the others: they are as its watcher sees them now
        others = others_running(rank, processes)
    if rank != 0:  # (a folder gone or read-only: process 0's watcher decides without this record)
        record = RECORD.format(rank=rank, how=how, running=ranks_text(others))
        os.close(os.open(folder / record, os.O_CREAT | os.O_WRONLY, 0o644))
        return
    size = len(processes)
    deadline = time.monotonic() + WAIT
    found = records(folder)
    while len(found) < size - 1 and time.monotonic() < deadline:
        time.sleep(0.02)
        found = records(folder)
    remove_records(folder)
    if any(other_how == "reported" for other_how, _ in found.values()):
        return  # another process said what went wrong, and ended the others
    found[0] = (how, others)
    silent = {other for other, (other_how, _) in found.items() if other_how == "lost"}
    # Process 0 said what went wrong, unless a process on its host had ended without a word before: then process 0
    # failed of that loss, and the launcher may have killed it before its own line was out
    here = {other for other, (host, _) in enumerate(processes) if host == os.uname().nodename}
    if how == "reported" and not (silent & here) - others:
        return
    # The first to end saw every other process running, or failing of its loss; it is named if it said nothing
    failed = {other for other, (other_how, _) in found.items() if other_how == "peer"}
    first = [other for other, (_, seen) in found.items() if len(seen | (failed - {other})) == size - 1]
    which = f"process {first[0]}" if len(first) == 1 and first[0] in silent else "a process"
    os.write(2, (f"error: {which} of {size} was lost (it ended without a word: killed, or out of memory?) and "
                 f"every process was ended; {first_possible(hints)}\n").encode())


def main(argv: list[str]) -> None:
    """The watcher's command line, ``PIPE RECORDS RANK PROCESSES HINTS`` (JSON), as ``Watcher`` starts it."""
    pipe, folder, rank, processes, hints = argv
    with suppress(OSError, KeyboardInterrupt, StopIteration):  # a watcher never prints a traceback
        watch(int(pipe), Path(folder), int(rank), [(host, pid) for host, pid in json.loads(processes)],
              [tuple(hint) for hint in json.loads(hints)])
