"""A training run from a resolved config: its folder, the training, and what is written there.

``OUT/<name>-<YYYYmmdd-HHMMSS>/`` holds

- ``config.yaml``: the resolved config (``mlp train --resume`` reads it back from the checkpoint);
- ``train.log``: everything the run printed;
- ``last.npz``: the full training state after every epoch (weights, optimizer, history, random state);
- ``model.npz``: the model kept, the last epoch's or the best by ``output.monitor`` (``output.keep``);
- ``history.csv`` and ``history.json``: one record per epoch;
- ``gradient_norms.csv`` and ``.json``, with ``training.gradient_norms``: per-layer gradient norms and
  update ratios over training (``mlp.diagnostics.GradientNorms``);
- ``metrics.json``: test metrics of ``model.npz``, which model it is, timing, data source, versions.

Every model file carries the resolved config, the class names and the standardizer in its metadata,
so ``mlp evaluate`` and ``mlp predict`` need nothing but the file.
"""

from __future__ import annotations

import json
import math
import os
import platform
import sys
import time
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from mlp import __version__
from mlp.builders import build_callbacks, build_loss, build_model, build_optimizer, build_schedule, load_data
from mlp.callbacks import Callback, EarlyStopping, ModelCheckpoint, ProgressLogger
from mlp.checkpoint import Checkpoint, CheckpointError, load_checkpoint, restore, save_model
from mlp.config import ConfigError, to_yaml
from mlp.data import Dataset
from mlp.diagnostics import GradientNorms
from mlp.fileio import atomic_write
from mlp.history import History
from mlp.losses import Loss
from mlp.optim import Optimizer
from mlp.sequential import Sequential
from mlp.training import DivergenceError, TrainingState, evaluate, fit, training_rows

CONFIG_FILE, LOG_FILE, LAST_FILE, MODEL_FILE = "config.yaml", "train.log", "last.npz", "model.npz"
HISTORY_CSV, HISTORY_JSON, METRICS_FILE = "history.csv", "history.json", "metrics.json"
NORMS_CSV, NORMS_JSON = "gradient_norms.csv", "gradient_norms.json"


class Console:
    """Prints to the terminal (unless ``quiet``) and to the run's log; ``write`` makes it a file for
    ``ProgressLogger``. ``stderr=True`` lines (warnings, errors) are shown even when quiet. Lines
    printed before the log is opened are kept for it."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.log: TextIO | None = None
        self._pending = ""
        self._early: list[str] = []

    def open_log(self, path: Path) -> None:
        self.log = open(path, "a")  # noqa: SIM115 -- closed by close(), the run outlives any with-block
        for line in self._early:
            self.to_log(line)

    def echo(self, message: str = "", stderr: bool = False) -> None:
        if stderr or not self.quiet:
            print(message, file=sys.stderr if stderr else sys.stdout, flush=True)
        self.to_log(message)

    def to_log(self, message: str) -> None:
        if self.log is None:
            self._early.append(message)
        else:
            self.log.write(message + "\n")
            self.log.flush()

    def write(self, text: str) -> None:
        *lines, self._pending = (self._pending + text).split("\n")
        for line in lines:
            self.echo(line)

    def flush(self) -> None: ...

    def close(self) -> None:
        if self.log is not None:
            self.log.close()
            self.log = None


class Outcome(Callback):
    """Remembers how training ended: interrupted (Ctrl-C) or stopped early, and why."""

    interrupted = False
    stop_reason: str | None = None

    def on_train_end(self, state: TrainingState) -> None:
        self.interrupted, self.stop_reason = state.interrupted, state.stop_reason


@dataclass
class RunResult:
    run_dir: Path
    history: History
    metrics: dict[str, Any]


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
    raise OSError(f"cannot create a run folder next to {stem}")


def find_model_file(path: str | Path, name: str = MODEL_FILE) -> Path:
    """A model file given directly, or the file ``name`` in a run directory."""
    path = Path(path)
    if path.is_dir():
        path = path / name
        if not path.is_file():
            raise CheckpointError(f"{path.parent} has no {name}; is it a run directory written by `mlp train`?")
    elif not path.exists():
        raise CheckpointError(f"{path}: no such run directory or model file")
    return path


def load_run_checkpoint(path: str | Path) -> Checkpoint:
    """A model file written by ``mlp train``: its ``extra`` holds the resolved ``config``, the ``classes``
    and the ``standardizer``."""
    checkpoint = load_checkpoint(path)
    if "config" not in checkpoint.extra:
        raise CheckpointError(f"{path} holds no run config (it was not written by `mlp train`); "
                              f"give a run directory or a model file from one")
    return checkpoint


def run_config(path: str | Path) -> dict[str, Any]:
    """The resolved config stored in a model file written by ``mlp train``."""
    return load_run_checkpoint(path).extra["config"]


def load_run_data(config: dict[str, Any], console: Console) -> Dataset:
    """Load the data; a fallback to the bundled sample is said loudly, on stderr and in the log."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dataset = load_data(config)
    for warning in caught:
        console.echo(f"warning: {warning.message}", stderr=True)
    return dataset


def _describe(config: dict[str, Any], dataset: Dataset, run_dir: Path, console: Console) -> None:
    train = training_rows(len(dataset.x_train), config["data"]["validation_split"])
    val = len(dataset.x_train) - train
    test = len(dataset.x_test) if dataset.x_test is not None else 0
    classes = f"{dataset.num_classes} classes" if dataset.classes is not None else "regression"
    optimizer = ", ".join(f"{k} {v}" for k, v in config["optimizer"].items() if k != "name" and v not in (None, False))
    training = config["training"]
    console.echo(f"run      {config['name']} -> {run_dir}  (mlp {__version__}, config: {run_dir / CONFIG_FILE})")
    console.echo(f"data     {dataset.name} from {dataset.source}: {train:,} train, {val:,} validation, {test:,} test "
                 f"rows; {dataset.num_features} features, {classes}")
    schedule = f", schedule {config['schedule']['name']}" if config["schedule"] else ""
    console.echo(f"training {config['loss']}, {config['optimizer']['name']} ({optimizer}){schedule}, "
                 f"{_plural(training['epochs'], 'epoch')}, batch {training['batch_size']}, seed {config['seed']}")


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'s' * (n != 1)}"


def _versions() -> dict[str, Any]:
    return {"mlp": __version__, "numpy": np.__version__, "python": platform.python_version(),
            "platform": platform.platform(), "cpus": os.cpu_count()}


def _kept_model(config: dict[str, Any], kept: Checkpoint, callbacks: list[Any], history: History,
                outcome: Outcome) -> str:
    """Say which weights ``model.npz`` (read back as ``kept``) holds."""
    if config["output"]["keep"] == "best":
        monitor, value = next(iter(kept.extra.get("best", {config["output"]["monitor"]: None}).items()))
        return f"best {monitor} ({value:.4f}) at epoch {kept.epoch}" if value is not None else "last epoch"
    stopper = next((c for c in callbacks if isinstance(c, EarlyStopping) and c.best_weights is not None), None)
    if stopper is not None:
        return f"epoch {stopper.best_epoch}, best {stopper.monitor.name} (restored by early stopping)"
    if outcome.interrupted:
        return f"the weights when interrupted, during epoch {len(history) + 1}"
    return f"epoch {len(history)} (last)"


def train(config: dict[str, Any], *, resume: Path | None = None, quiet: bool = False) -> RunResult:
    """Train ``config`` in a new run directory under ``config["output"]["dir"]``, or continue the run whose
    ``last.npz`` is ``resume``, and write everything listed in the module docstring.

    Ctrl-C stops training cleanly: the files are written and the resume command is printed.
    """
    started = time.perf_counter()
    console = Console(quiet)
    dataset = load_run_data(config, console)
    model, loss, optimizer = build_model(config, dataset), build_loss(config), build_optimizer(config)
    done = 0 if resume is None else load_checkpoint(resume).epoch or 0
    if done >= config["training"]["epochs"]:
        raise ConfigError(f"{resume} has completed {_plural(done, 'epoch')} of {config['training']['epochs']}; to "
                          f"train on, resume with more, e.g. --epochs {done + 10}")
    # The run gets its folder only once the data and the network are known to fit together.
    run_dir = resume.parent if resume is not None else new_run_dir(config["output"]["dir"], config["name"])
    console.open_log(run_dir / LOG_FILE)
    try:
        atomic_write(run_dir / CONFIG_FILE, lambda f: f.write(to_yaml(config).encode()))
        _describe(config, dataset, run_dir, console)
        if resume is not None:
            console.echo(f"resume   from {resume} after {_plural(done, 'epoch')}")
        model.summary(print_fn=console.echo)
        return _train(config, run_dir, resume, (dataset, model, loss, optimizer), console, started)
    finally:
        console.close()


def _train(config: dict[str, Any], run_dir: Path, resume: Path | None,
           objects: tuple[Dataset, Sequential, Loss, Optimizer], console: Console, started: float) -> RunResult:
    dataset, model, loss, optimizer = objects
    extra = {"config": config, "classes": dataset.classes,
             "standardizer": dataset.standardizer.get_state() if dataset.standardizer is not None else None}
    output = config["output"]
    checkpoint = ModelCheckpoint(
        run_dir / LAST_FILE, best_path=run_dir / MODEL_FILE if output["keep"] == "best" else None,
        monitor=output["monitor"], extra=extra, resume_hint=f"mlp train --resume {run_dir}",
    )
    outcome = Outcome()
    # Quiet runs still log one line per epoch (verbose=2: no bar); the console keeps them off the screen.
    progress = ProgressLogger(2 if console.quiet else 1, file=console)  # type: ignore[arg-type]
    callbacks = [*build_callbacks(config), checkpoint, progress, outcome]
    training = config["training"]
    try:
        history = fit(
            model, loss, optimizer, dataset.x_train, dataset.y_train, epochs=training["epochs"],
            batch_size=training["batch_size"], validation_split=config["data"]["validation_split"],
            shuffle=training["shuffle"], seed=config["seed"], callbacks=callbacks, schedule=build_schedule(config),
            verbose=0, drop_last=training["drop_last"], resume=resume,
        )
    except DivergenceError as err:
        _write_history(err.history, run_dir, callbacks, resume)
        console.to_log(f"error: {err}")  # the command line shows it
        raise
    if outcome.stop_reason:
        console.echo(outcome.stop_reason)
    _write_history(history, run_dir, callbacks, resume)
    model_path = run_dir / MODEL_FILE
    if output["keep"] == "last" or not model_path.exists():
        save_model(model_path, model, epoch=len(history), history=history, extra=extra)
    kept = restore(model_path, model)
    metrics: dict[str, Any] = {
        "name": config["name"],
        "model_file": MODEL_FILE,
        "model": _kept_model(config, kept, callbacks, history, outcome),
        "epochs": len(history),
        "interrupted": outcome.interrupted,
        "final_epoch": history.records[-1] if history.records else None,
        "test": evaluate(model, loss, dataset.x_test, dataset.y_test) if dataset.x_test is not None else None,
        "training_seconds": round(sum(history["time"]) if history.records else 0.0, 3),
        "wall_seconds": round(time.perf_counter() - started, 3),
        "data": {"dataset": dataset.name, "source": dataset.source, "train_rows": len(dataset.x_train),
                 "test_rows": 0 if dataset.x_test is None else len(dataset.x_test)},
        "versions": _versions(),
        "finished": datetime.now().isoformat(timespec="seconds"),
    }
    atomic_write(run_dir / METRICS_FILE, lambda f: f.write(json.dumps(metrics, indent=1).encode()))
    _report(metrics, run_dir, console)
    return RunResult(run_dir, history, metrics)


def _write_history(history: History, run_dir: Path, callbacks: list[Callback], resume: Path | None) -> None:
    """The epoch records, and the gradient-norm records if they were taken (a resumed run's continue the
    records of the epochs it kept)."""
    history.to_csv(run_dir / HISTORY_CSV)
    history.to_json(run_dir / HISTORY_JSON)
    norms = next((c.history for c in callbacks if isinstance(c, GradientNorms)), None)
    if norms is None:
        return
    if resume is not None and (run_dir / NORMS_JSON).exists():
        # Records of the epochs before the resume; those of an interrupted epoch are taken again.
        done = math.floor(norms.records[0]["epoch"]) if norms.records else math.inf
        kept = [r for r in History.from_json(run_dir / NORMS_JSON).records if r["epoch"] <= done]
        norms = History(kept + norms.records)
    norms.to_csv(run_dir / NORMS_CSV)
    norms.to_json(run_dir / NORMS_JSON)


def _report(metrics: dict[str, Any], run_dir: Path, console: Console) -> None:
    test = metrics["test"]
    if test is not None:
        scores = "  ".join(f"{k} {v:.4f}" for k, v in test.items())
        console.echo(f"test     {scores}  ({MODEL_FILE}: {metrics['model']})")
    epochs = _plural(metrics["epochs"], "epoch")
    console.echo(f"time     {metrics['training_seconds']:.1f} s training, {epochs}")
    if metrics["interrupted"]:
        console.echo(f"stopped  after {epochs}; continue with: mlp train --resume {run_dir}")
    console.echo(f"saved    {run_dir}")
    if console.quiet and test is not None:  # the one line a quiet run prints
        print(f"{run_dir}  test {scores}")
