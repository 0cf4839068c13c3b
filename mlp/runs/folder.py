"""The run directory ``mlp train`` writes, ``OUT/<name>-<YYYYmmdd-HHMMSS>/``: its files, and what a directory holds.

- ``config.yaml``: the resolved config, with absolute data and output paths (``mlp train RUN/config.yaml`` repeats the
  run);
- ``train.log``: everything the run printed;
- ``last.npz``: the full training state after every epoch, and the exact batch an interruption stopped at;
- ``history.csv`` and ``history.json``: one record per epoch, rewritten after every epoch;
- ``gradient_norms.csv`` and ``.json``, with ``training.gradient_norms``: per-layer gradient norms and
  update ratios over training (``mlp.train.callbacks.gradient_norms.GradientNorms``);
- ``model.npz``: the model kept, the last epoch's or the best by ``output.monitor`` (``output.keep``); after a
  divergence, the last good one;
- ``metrics.json``: how the run ended, test metrics of ``model.npz``, which model it is, timing, data, versions;
- ``tensorboard/``, with ``output.loggers: [tensorboard]`` (and no ``output.tensorboard.dir``): TensorBoard's
  event files (``mlp.loggers``);
- ``.lock`` while a process trains in it.

With ``output.loggers: [mlflow]`` and no tracking URI, ``OUT/mlflow.db`` (and ``OUT/mlflow-artifacts/``) is the
MLflow store of the runs under ``OUT``.

``OUT/latest`` links to the run directory started last under ``OUT``.

The sweep folder ``mlp sweep --out`` writes (``mlp.runs.sweep``): ``sweep.yaml`` (the sweep file, as given),
``results.csv`` and ``best.yaml`` (the best trial's config), a run directory per trial under ``trials/`` (each
with its ``trial.json``), and ``.stop`` while the sweep stops (its trials stop at their next batch).

Every model file carries the resolved config, the class names and the standardizer in its metadata, so
``mlp evaluate`` and ``mlp predict`` need nothing but the file.
"""

from __future__ import annotations

import os
import secrets
from datetime import datetime
from pathlib import Path
from typing import Any

from mlp.files.lock import LOCK_FILE
from mlp.files.reading import read_json
from mlp.train.checkpoint import CheckpointError

CONFIG_FILE, LOG_FILE, LAST_FILE, MODEL_FILE = "config.yaml", "train.log", "last.npz", "model.npz"
HISTORY_CSV, HISTORY_JSON, METRICS_FILE = "history.csv", "history.json", "metrics.json"
NORMS_CSV, NORMS_JSON = "gradient_norms.csv", "gradient_norms.json"
TENSORBOARD_DIR = "tensorboard"
SWEEP_FILE, RESULTS_FILE, BEST_FILE = "sweep.yaml", "results.csv", "best.yaml"
TRIALS, TRIAL_FILE, STOP_FILE = "trials", "trial.json", ".stop"


def new_run_dir(out: str | Path, name: str) -> Path:
    """``out/<name>-<timestamp>``, with ``-2``, ``-3``... if a run started in the same second."""
    stem = Path(out) / f"{name}-{datetime.now():%Y%m%d-%H%M%S}"
    for n in range(1, 1000):
        path = stem if n == 1 else stem.with_name(f"{stem.name}-{n}")
        try:
            path.mkdir(parents=True)
            return path
        except FileExistsError:
            continue
    raise OSError(f"cannot create a run directory next to {stem}")


LATEST = "latest"  # OUT/latest: a link to the run directory started last under OUT


def point_latest(run_dir: Path) -> None:
    """Make ``OUT/latest`` a link to ``run_dir``, replaced atomically, so that ``mlp evaluate runs/latest`` and
    ``mlp plot runs/latest`` need no timestamp. Where links cannot be made (or ``latest`` is a real folder),
    there is simply none."""
    link = run_dir.parent / LATEST
    tmp = run_dir.parent / f".{LATEST}.{secrets.token_hex(4)}.tmp"
    try:
        os.symlink(run_dir.name, tmp, target_is_directory=True)  # relative: the folder may be moved
        os.replace(tmp, link)
    except OSError:
        tmp.unlink(missing_ok=True)


def read_metrics(run_dir: Path) -> dict[str, Any] | None:
    """The run's ``metrics.json`` (written when a run ends), or ``None`` if there is none."""
    path = run_dir / METRICS_FILE
    if not path.is_file():
        return None
    metrics = read_json(path, "a run's metrics")
    if not isinstance(metrics, dict):
        raise ValueError(f"{path} is not a run's metrics (expected a JSON object)")
    return metrics


def why_no_model(run_dir: Path) -> str:
    """What a run directory without ``model.npz`` holds instead, and what to do: the run is going on, was
    stopped before it finished, diverged, or it is not a run directory at all."""
    metrics = read_metrics(run_dir)
    last = run_dir / LAST_FILE
    if metrics is not None and metrics.get("status") == "diverged":
        return (f"{run_dir} has no {MODEL_FILE}: training diverged before any epoch completed "
                f"(see {run_dir / LOG_FILE}); train again with a lower learning rate")
    if not (run_dir / CONFIG_FILE).is_file():
        return f"{run_dir} has no {MODEL_FILE}; is it a run directory written by `mlp train`?"
    running = " (a process may be training in it now)" if (run_dir / LOCK_FILE).is_file() else ""
    if last.is_file():
        return (f"{run_dir} has no {MODEL_FILE}: the run did not finish{running}; its {LAST_FILE} holds the "
                f"training state. Continue it with `mlp train --resume {run_dir}`, or evaluate that state "
                f"with `mlp evaluate {last}`")
    return (f"{run_dir} has no {MODEL_FILE}: the run stopped{running} before its first epoch ended, so nothing "
            f"was saved; start it again with `mlp train {run_dir / CONFIG_FILE}`")


def is_sweep(folder: Path) -> bool:
    """Whether ``folder`` is a sweep folder (``mlp sweep`` wrote its ``sweep.yaml``)."""
    return folder.is_dir() and (folder / SWEEP_FILE).is_file()


def find_history(run: Path) -> Path:
    """The ``history.json`` of a run directory, or ``run`` itself if it is a file; ``FileNotFoundError`` saying
    why there is none (no such path, no epoch finished yet, not a run directory)."""
    if not run.exists():
        raise FileNotFoundError(
            f"{run} does not exist; give a run directory written by `mlp train` or its {HISTORY_JSON}"
        )
    if run.is_file():
        return run
    if not (run / HISTORY_JSON).is_file():
        if (run / CONFIG_FILE).is_file():  # a run that has not finished an epoch (or was stopped before one)
            raise FileNotFoundError(f"{run} has no {HISTORY_JSON} yet: no epoch of the run has finished (it is "
                                    f"written after every epoch); see {run / LOG_FILE}")
        raise FileNotFoundError(f"{run} has no {HISTORY_JSON}; is it a run directory written by `mlp train`?")
    return run / HISTORY_JSON


def find_model_file(path: str | Path, name: str = MODEL_FILE) -> Path:
    """A model file given directly, or the file ``name`` in a run directory (an error saying what the directory
    holds instead, and what to do, if it has none)."""
    path = Path(path)
    if path.is_dir():
        if not (path / name).is_file():
            if not (path / CONFIG_FILE).is_file():
                raise CheckpointError(f"{path} has no {name}; is it a run directory written by `mlp train`?")
            if name == LAST_FILE:
                raise CheckpointError(f"{path} has no {LAST_FILE}: no epoch completed before the run stopped, so "
                                      f"there is nothing to resume; start it again with "
                                      f"`mlp train {path / CONFIG_FILE}`")
            raise CheckpointError(why_no_model(path))
        return path / name
    if not path.exists():
        raise CheckpointError(f"{path}: no such run directory or model file")
    return path
