"""Stop the real ``mlp train`` at random moments with SIGINT, SIGTERM or SIGKILL, resume it, and check that
every resumed run ends bit-identical to an uninterrupted one (weights, optimizer state, history, every
checkpoint; only timings may differ).

    python scripts/interrupt_trials.py                 # 20 trials of each signal
    python scripts/interrupt_trials.py --trials 5 --signals SIGTERM

Each trial starts the same run (two spirals, 16,000 samples in batches of 8, 4 epochs: about 0.6 s of
training) and sends its signal at a moment drawn uniformly over the reference run's lifetime, from process
start to exit: while the data loads, in the middle of an epoch, between epochs, while a checkpoint is
written, or while the results are. A run stopped before its first checkpoint has nothing to resume and is
counted as such. Everything is written in a temporary folder, removed at the end.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from mlp.checkpoint import compare_checkpoints, load_checkpoint

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "spirals.yaml"
ARGS = ["--set", "data.samples=16000", "--set", "training.batch_size=8", "--epochs", "4", "--seed", "0", "--quiet"]


def mlp(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "mlp", *map(str, args)]


def new_run(out: Path, before: set[Path]) -> Path | None:
    created = {path for path in out.iterdir() if not path.is_symlink()} - before  # out/latest links to the newest
    return created.pop() if created else None


def without_time(path: Path) -> list[dict]:
    return [{k: v for k, v in record.items() if k != "time"} for record in json.loads(path.read_text())]


def differences(run: Path, reference: Path) -> list[str]:
    found = [f"{name}: {d}" for name in ("last.npz", "model.npz") for d in compare_checkpoints(run / name,
                                                                                              reference / name)]
    if without_time(run / "history.json") != without_time(reference / "history.json"):
        found.append("history.json differs")
    return found


def trial(out: Path, reference: Path, signum: signal.Signals, delay: float) -> str:
    """One stop and resume; returns the outcome, e.g. "identical (mid-epoch)"."""
    before = set(out.iterdir())
    process = subprocess.Popen(mlp("train", CONFIG, *ARGS, "--out", out), stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    time.sleep(delay)
    process.send_signal(signum)
    _, err = process.communicate(timeout=120)
    run = new_run(out, before)
    if run is None:
        return "stopped before the run directory existed"
    # -signum: the signal's default action ended the process, which happens only where no handler is set: while
    # Python starts or shuts down (after everything is written). The files say whether it left work undone.
    if signum != signal.SIGKILL and process.returncode not in (0, 128 + signum, -signum):
        return f"FAILED: exit code {process.returncode}: {err.strip()[-300:]}"
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
        resumed = subprocess.run(mlp("train", "--resume", run, "--quiet"), capture_output=True, text=True,
                                 timeout=120)
        if resumed.returncode != 0:
            return f"FAILED: the resume exited {resumed.returncode}: {resumed.stderr.strip()[-300:]}"
    found = differences(run, reference)
    return f"FAILED: {'; '.join(found)}" if found else f"identical ({stopped_at})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20, help="trials per signal (default 20)")
    parser.add_argument("--signals", nargs="+", default=["SIGINT", "SIGTERM", "SIGKILL"])
    parser.add_argument("--seed", type=int, default=0, help="seed of the random moments")
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="mlp-interrupt-trials-"))
    try:
        out = folder / "runs"
        out.mkdir()
        started = time.perf_counter()
        subprocess.run(mlp("train", CONFIG, *ARGS, "--out", out), check=True, stdout=subprocess.DEVNULL)
        lifetime = time.perf_counter() - started
        reference = new_run(out, set())
        print(f"reference run: {lifetime:.2f} s from start to exit; signals sent at uniform moments in it")
        draw = random.Random(options.seed)
        failed = False
        for name in options.signals:
            signum = signal.Signals[name]
            outcomes = Counter(trial(out, reference, signum, draw.uniform(0, lifetime))
                               for _ in range(options.trials))
            resumed = sum(n for outcome, n in outcomes.items() if outcome.startswith("identical"))
            compared = sum(n for outcome, n in outcomes.items() if outcome.startswith(("identical", "FAILED")))
            print(f"{name}: {resumed} of {compared} resumed runs bit-identical ({options.trials} trials)")
            for outcome, n in sorted(outcomes.items()):
                print(f"  {n:3d}  {outcome}")
            failed |= any(outcome.startswith("FAILED") for outcome in outcomes)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
