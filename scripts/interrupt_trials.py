"""Stop real ``mlp`` commands at random moments with SIGINT, SIGTERM or SIGKILL, run them again, and check that
nothing was lost: every resumed run or sweep ends bit-identical to an uninterrupted one, an export or a
prediction is either absent or complete, the files a command read are unchanged, no traceback is printed,
and nothing the command started is left running.

    python scripts/interrupt_trials.py                          # 20 trials of each signal, every command
    python scripts/interrupt_trials.py --trials 5 --signals SIGTERM --commands train sweep

The commands:

- ``train``: two spirals, 16,000 samples in batches of 8, 4 epochs (about 0.6 s of training); resumed with
  ``mlp train --resume`` and compared with an uninterrupted run (weights, optimizer state, history, every
  checkpoint; only timings may differ);
- ``mpiexec``: the same run under ``mpiexec -n 2`` (the mpi extra), resumed the same way, compared with an
  uninterrupted ``mpiexec -n 2`` run;
- ``sweep``: ``mlp sweep --jobs 2`` of four short trials, run again and compared with an uninterrupted sweep
  (results.csv and every trial's checkpoints);
- ``export`` and ``predict``: ``mlp export -o`` and ``mlp predict --out`` of a trained run; the output must be
  absent or equal to an uninterrupted command's, the run's files untouched.

Each trial sends its signal at a moment drawn uniformly over the uninterrupted command's lifetime, from process
start to exit. SIGINT goes to the command's whole process group, as Ctrl-C in a terminal does; SIGTERM and
SIGKILL to the command's process alone, as ``kill`` does: whatever it started must then end within 5 s by
itself. A run stopped before its first checkpoint has nothing to resume and is counted as such. Everything is
written in a temporary folder, removed at the end.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mlp.train.checkpoint import compare_checkpoints, load_checkpoint

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "spirals.yaml"
ARGS = ["--set", "data.samples=16000", "--set", "training.batch_size=8", "--epochs", "4", "--seed", "0", "--quiet"]
SWEEP = f"""base: {CONFIG}
space:
  optimizer.lr: [0.001, 0.003, 0.01, 0.03]
  data.samples: [16000]
  training.batch_size: [8]
  training.epochs: [2]
seed: 1
"""
ORPHAN_LIMIT = 5.0  # seconds what a stopped command started may take to end by itself
MPIEXEC = shutil.which("mpiexec", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))


def mlp(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "mlp", *map(str, args)]


def without_time(path: Path) -> list[dict]:
    return [{k: v for k, v in record.items() if k != "time"} for record in json.loads(path.read_text())]


def run_differences(run: Path, reference: Path) -> list[str]:
    found = [f"{run.name}/{name}: {d}" for name in ("last.npz", "model.npz")
             for d in compare_checkpoints(run / name, reference / name)]
    if without_time(run / "history.json") != without_time(reference / "history.json"):
        found.append(f"{run.name}/history.json differs")
    return found


def digest(folder: Path) -> dict[str, str]:
    """The MD5 of every file under ``folder``, by relative path."""
    return {str(p.relative_to(folder)): hashlib.md5(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def session_processes(sid: int) -> list[int]:
    """The live processes of the session ``sid`` (a command started with ``start_new_session``), zombies aside."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            if fields[0] != "Z" and int(fields[3]) == sid:
                found.append(int(entry.name))
    return found


@dataclass
class Stopped:
    """What a stopped command left: its exit code, what it printed on stderr, and whether what it started kept
    running longer than ``ORPHAN_LIMIT`` (those are then killed)."""

    code: int
    stderr: str
    orphans: int


def stop_at(command: list[str], signum: signal.Signals, delay: float, cwd: Path) -> Stopped:
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    time.sleep(delay)
    if signum == signal.SIGINT:
        os.killpg(process.pid, signum)  # Ctrl-C reaches the terminal's whole foreground group
    else:
        process.send_signal(signum)
    try:
        _, err = process.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        _, err = process.communicate()
        return Stopped(-999, "did not end within 120 s of the signal: " + err, 0)
    deadline = time.monotonic() + ORPHAN_LIMIT
    while session_processes(process.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = session_processes(process.pid)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    return Stopped(process.returncode, err, len(left))


def problems(stopped: Stopped, signum: signal.Signals) -> list[str]:
    """What a stopped command did wrong whatever it was: a traceback, an exit code its signal does not explain,
    processes left running."""
    found = []
    if stopped.orphans:
        found.append(f"{stopped.orphans} processes still running {ORPHAN_LIMIT:.0f} s after the command ended")
    if signum != signal.SIGKILL:
        if "Traceback" in stopped.stderr:
            found.append(f"a traceback: {stopped.stderr.strip()[-300:]}")
        # -signum: the signal's default action ended the process, which happens only where no handler is set:
        # while Python starts or shuts down (after everything is written)
        if stopped.code not in (0, 128 + signum, -signum):
            found.append(f"exit code {stopped.code}: {stopped.stderr.strip()[-300:]}")
    return found


class Command:
    """One command the trials stop: how to run it in a trial's folder, and what to check afterwards. Every trial
    and the uninterrupted reference run in the same folder, one after the other (the paths a run records are
    then the same), the reference moved aside once it has ended."""

    name = ""

    def prepare(self, folder: Path) -> None:
        """Make the inputs in ``folder``."""

    def keep_reference(self, reference: Path) -> None:
        """Note what the uninterrupted command wrote, now moved to ``reference``."""

    def command(self, work: Path) -> list[str]:
        raise NotImplementedError

    def check(self, work: Path) -> str:
        """After the stop: finish what was stopped where that applies, compare with the reference; the outcome
        ("identical (...)", or "FAILED: ..." or a neutral word)."""
        raise NotImplementedError


class Train(Command):
    name = "train"

    def launch(self, *args: str | Path) -> list[str]:
        return mlp(*args)

    def keep_reference(self, reference: Path) -> None:
        (self.reference,) = [p for p in (reference / "runs").iterdir() if not p.is_symlink()]

    def command(self, work: Path) -> list[str]:
        return self.launch("train", CONFIG, *ARGS, "--out", work / "runs")

    def check(self, work: Path) -> str:
        runs = [p for p in (work / "runs").iterdir() if not p.is_symlink()] if (work / "runs").is_dir() else []
        if not runs:
            return "stopped before the run directory existed"
        (run,) = runs
        metrics = run / "metrics.json"
        finished = metrics.exists() and json.loads(metrics.read_text())["status"] == "completed"
        if finished:
            stopped_at = "after training ended"
        elif not (run / "last.npz").exists():
            return "stopped before the first checkpoint (nothing to resume)"
        else:
            position = load_checkpoint(run / "last.npz").position
            stopped_at = "mid-epoch" if position.batch else "at an epoch boundary"
        if not finished:
            resumed = subprocess.run(self.launch("train", "--resume", run, "--quiet"), capture_output=True,
                                     text=True, timeout=300)
            if resumed.returncode != 0:
                return f"FAILED: the resume exited {resumed.returncode}: {resumed.stderr.strip()[-300:]}"
        found = run_differences(run, self.reference)
        return f"FAILED: {'; '.join(found)}" if found else f"identical ({stopped_at})"


class MpiTrain(Train):
    name = "mpiexec"

    def launch(self, *args: str | Path) -> list[str]:
        assert MPIEXEC is not None
        return [MPIEXEC, "-n", "2", *mlp(*args)]


class Sweep(Command):
    name = "sweep"

    def prepare(self, folder: Path) -> None:
        self.file = folder / "sweep.yaml"
        self.file.write_text(SWEEP)

    def keep_reference(self, reference: Path) -> None:
        self.reference = reference / "sweep"

    def command(self, work: Path) -> list[str]:
        return mlp("sweep", self.file, "--jobs", "2", "--out", work / "sweep")

    @staticmethod
    def rows(folder: Path) -> list[dict[str, str]]:
        with open(folder / "results.csv", newline="") as f:
            return list(csv.DictReader(f))

    def check(self, work: Path) -> str:
        folder = work / "sweep"
        if not folder.is_dir():
            return "stopped before the sweep folder existed"
        done = len(list(folder.glob("trials/*/trial.json")))
        again = subprocess.run(self.command(work), capture_output=True, text=True, timeout=600)
        if again.returncode != 0:
            return f"FAILED: the rerun exited {again.returncode}: {again.stderr.strip()[-300:]}"
        found = [] if self.rows(folder) == self.rows(self.reference) else ["results.csv differs"]
        for trial in sorted((self.reference / "trials").iterdir()):
            found += run_differences(folder / "trials" / trial.name, trial)
        return f"FAILED: {'; '.join(found)}" if found else f"identical ({done} of 4 trials done when stopped)"


class WritesOneFile(Command):
    """``mlp export`` or ``mlp predict`` of a trained run: one output file, written atomically."""

    def prepare(self, folder: Path) -> None:
        subprocess.run(mlp("train", CONFIG, "--epochs", "2", "--quiet", "--out", folder / "trained"), check=True,
                       stdout=subprocess.DEVNULL)
        (self.run,) = [p for p in (folder / "trained").iterdir() if not p.is_symlink()]
        self.rows = folder / "rows.csv"
        self.rows.write_text("".join(f"{i / 100:.2f},{-i / 50:.2f}\n" for i in range(20000)))
        self.inputs = digest(self.run)

    def keep_reference(self, reference: Path) -> None:
        self.expected = (reference / self.output).read_bytes()

    def check(self, work: Path) -> str:
        if digest(self.run) != self.inputs:
            return "FAILED: the run it read changed"
        leftovers = [p.name for p in work.iterdir() if p.name != self.output]
        written = work / self.output
        if not written.exists():
            return "no output (stopped before it was written)" + (f"; left {leftovers}" if leftovers else "")
        return "identical (complete output)" if written.read_bytes() == self.expected else "FAILED: partial output"


class Export(WritesOneFile):
    name, output = "export", "model.onnx"

    def command(self, work: Path) -> list[str]:
        return mlp("export", self.run, "-o", work / self.output)


class Predict(WritesOneFile):
    name, output = "predict", "predictions.csv"

    def command(self, work: Path) -> list[str]:
        return mlp("predict", self.run, self.rows, "--out", work / self.output)


COMMANDS: dict[str, Callable[[], Command]] = {"train": Train, "mpiexec": MpiTrain, "sweep": Sweep, "export": Export,
                                              "predict": Predict}


def reference(command: Command, work: Path, folder: Path) -> float:
    """Run the command uninterrupted in ``work``, move what it wrote to ``folder/reference``; the seconds it took
    from start to exit."""
    work.mkdir()
    started = time.perf_counter()
    subprocess.run(command.command(work), check=True, stdout=subprocess.DEVNULL, cwd=work)
    seconds = time.perf_counter() - started
    work.rename(folder / "reference")
    command.keep_reference(folder / "reference")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20, help="trials per signal and command (default 20)")
    parser.add_argument("--signals", nargs="+", default=["SIGINT", "SIGTERM", "SIGKILL"])
    parser.add_argument("--commands", nargs="+", choices=list(COMMANDS), default=list(COMMANDS))
    parser.add_argument("--seed", type=int, default=0, help="seed of the random moments")
    options = parser.parse_args()
    if "mpiexec" in options.commands and MPIEXEC is None:
        print("mpiexec: skipped (no mpiexec: pip install mpi4py mpich)")
        options.commands.remove("mpiexec")
    root = Path(tempfile.mkdtemp(prefix="mlp-interrupt-trials-"))
    failed = False
    try:
        for name in options.commands:
            folder = root / name
            folder.mkdir()
            command = COMMANDS[name]()
            command.prepare(folder)
            work = folder / "work"
            seconds = reference(command, work, folder)
            print(f"== {name}: {seconds:.2f} s from start to exit uninterrupted; signals sent at uniform moments in it")
            draw = random.Random(options.seed)
            for signal_name in options.signals:
                signum = signal.Signals[signal_name]
                outcomes: Counter[str] = Counter()
                for _ in range(options.trials):
                    work.mkdir()
                    stopped = stop_at(command.command(work), signum, draw.uniform(0, seconds), work)
                    found = problems(stopped, signum)
                    outcomes["FAILED: " + "; ".join(found) if found else command.check(work)] += 1
                    shutil.rmtree(work)
                good = sum(n for outcome, n in outcomes.items() if outcome.startswith("identical"))
                compared = sum(n for outcome, n in outcomes.items() if outcome.startswith(("identical", "FAILED")))
                print(f"{signal_name}: {good} of {compared} compared outcomes identical ({options.trials} trials)")
                for outcome, n in sorted(outcomes.items()):
                    print(f"  {n:3d}  {outcome}")
                failed |= any(outcome.startswith("FAILED") for outcome in outcomes)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
