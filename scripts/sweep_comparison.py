"""Is a smarter sweep worth it? A TPE sweep with median pruning against a random sweep of twice as many trials, on
a fixed 20,000-row subset of MNIST, over the learning rate, the width, the dropout and the weight decay.

    MLP_DATA_DIR=~/data/mnist python scripts/sweep_comparison.py --out sweep-comparison
    MLP_DATA_DIR=~/data/mnist python scripts/sweep_comparison.py --trials 8 --epochs 4 --jobs 2   # shorter

Both sweeps have the same seed, the same space and the same base (``mnist_fast``'s network with a dropout layer,
trained on the first 20,000 training rows, 2,000 of them held out for validation); the random one runs
``2 * --trials`` trials, the TPE one ``--trials``, ``--parallel`` at a time. The claim under test: the TPE sweep
reaches the best validation accuracy of the random sweep with at most half of its total training epochs. The
script prints both sweeps' tables (best first), their best validation accuracy, total epochs and wall time, and
writes their pictures (``mlp plot``) in their folders under ``--out``. Each sweep is one run, as it comes: the
numbers are those of these seeds, not an average.

Optuna's TPE draws its first 10 trials at random, and a trial's sampler is seeded from the sweep's seed and the
trial's number: those 10 are the random sweep's first 10. With ``--trials 12`` TPE proper proposes no trial at all
(trials are proposed ``--parallel`` at a time, and 8 had finished when the last wave was proposed): what such a
run measures is the pruning alone. ``--trials 24`` gives TPE 14 trials of its own.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

SPACE = {
    "optimizer.lr": {"log_uniform": [0.01, 1.0]},
    "model.layers.0.dense": {"int_uniform": [32, 512]},
    "model.layers.1.dropout": {"uniform": [0.0, 0.5]},
    "optimizer.weight_decay": {"log_uniform": [1.0e-6, 1.0e-3]},
}
METRIC = "val_accuracy"
SHOWN = 10  # rows of each table printed


def base(epochs: int) -> dict:
    """mnist_fast's recipe with a dropout layer, on the first 20,000 training rows, a tenth held out."""
    return {
        "name": "sweep-comparison",
        "data": {"dataset": "mnist", "limit": 20000, "validation_split": 0.1},
        "model": {"layers": [{"dense": 384, "activation": "relu"}, {"dropout": 0.2}, {"dense": 10}]},
        "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": True},
        "schedule": {"name": "cosine", "epochs": epochs},
        "training": {"epochs": epochs, "batch_size": 256},
    }


def sweep_file(method: str, trials: int, parallel: int, epochs: int, seed: int) -> dict:
    pruner = {"median": {"n_startup_trials": parallel, "n_warmup_steps": 1}} if method == "tpe" else "none"
    return {"base": base(epochs), "space": SPACE, "method": method, "trials": trials, "parallel": parallel,
            "pruner": pruner, "seed": seed, "metric": METRIC}


def run(command: list[str]) -> float:
    """Run ``command`` (an ``mlp`` command), its output shown; the seconds it took."""
    began = time.monotonic()
    subprocess.run(command, check=True)
    return time.monotonic() - began


def summary(folder: Path) -> tuple[float, int, list[dict[str, str]]]:
    """A sweep's best validation accuracy, its total epochs trained, and its results.csv rows (best first)."""
    with open(folder / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    scored = [float(row[METRIC]) for row in rows if row["status"] in ("completed", "stopped") and row[METRIC]]
    return max(scored), sum(int(row["epochs"]) for row in rows), rows


def table(rows: list[dict[str, str]]) -> str:
    columns = ["trial", *SPACE, METRIC, "test_accuracy", "epochs", "status"]
    shown = [[_short(row.get(c, "")) for c in columns] for row in rows[:SHOWN]]
    widths = [max(len(c), *(len(r[i]) for r in shown)) for i, c in enumerate(columns)]
    lines = ["  ".join(f"{c:<{w}}" for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(f"{v:<{w}}" for v, w in zip(r, widths, strict=True)) for r in shown]
    return "\n".join(line.rstrip() for line in lines)


def _short(text: str) -> str:
    try:
        value = float(text)
    except ValueError:
        return text or "-"
    return str(int(value)) if value.is_integer() and "." not in text else f"{value:.4g}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("sweep-comparison"), help="folder of the two sweeps")
    parser.add_argument("--trials", type=int, default=12, help="TPE trials; the random sweep runs twice as many")
    parser.add_argument("--epochs", type=int, default=6, help="epochs per trial")
    parser.add_argument("--parallel", type=int, default=4, help="trials proposed at a time")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="local worker processes")
    parser.add_argument("--seed", type=int, default=0)
    options = parser.parse_args()
    if not os.environ.get("MLP_DATA_DIR"):
        parser.error("set MLP_DATA_DIR to the folder of the full MNIST set (mlp data download mnist)")
    options.out.mkdir(parents=True, exist_ok=True)
    mlp = [sys.executable, "-m", "mlp"]
    measured = {}
    for method, trials in (("random", 2 * options.trials), ("tpe", options.trials)):
        path = options.out / f"{method}.yaml"
        path.write_text(yaml.safe_dump(sweep_file(method, trials, options.parallel, options.epochs, options.seed),
                                       sort_keys=False))
        folder = options.out / method
        seconds = run([*mlp, "sweep", str(path), "--jobs", str(options.jobs), "--out", str(folder)])
        run([*mlp, "plot", str(folder)])
        measured[method] = (seconds, *summary(folder))
    for method, (seconds, best, epochs, rows) in measured.items():
        print(f"\n{method}: {len(rows)} trials, best {METRIC} {best:.4f}, {epochs} epochs in all, {seconds:.0f} s")
        print(table(rows))
    _, random_best, random_epochs, _ = measured["random"]
    _, tpe_best, tpe_epochs, _ = measured["tpe"]
    reached = tpe_best >= random_best
    print(f"\nTPE with median pruning {'reached' if reached else 'did not reach'} the random sweep's best {METRIC} "
          f"({tpe_best:.4f} against {random_best:.4f}) with {tpe_epochs} epochs against {random_epochs} "
          f"({tpe_epochs / random_epochs:.0%})")
    return 0 if reached and 2 * tpe_epochs <= random_epochs else 1


if __name__ == "__main__":
    sys.exit(main())
