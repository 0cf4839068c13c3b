"""Hyperparameter sweeps: many short runs of one config, over a search space drawn by Optuna, on local processes or
a Dask cluster.

A sweep file names a base config and the values to try, in the dotted paths of ``--set`` (``mlp.runs.space``)::

    base: mnist_fast                     # a recipe, a config file (relative to this file) or a mapping
    space:
      optimizer.lr: {log_uniform: [1.0e-3, 1.0e-1]}
      model.layers.0.dense: {int_uniform: [64, 1024]}
      training.batch_size: [64, 128]     # a list: the values to try (grid) or to choose from
    method: tpe                          # grid, random, tpe or cmaes: Optuna's samplers (mlp.runs.study)
    trials: 24                           # a grid: every combination, unless fewer are given
    pruner: median                       # none, median or hyperband: stop hopeless trials early
    parallel: 4                          # trials proposed at a time (a wave)
    seed: 0
    metric: val_loss                     # default: the base's output.monitor; lower is better for losses

Every parameter's values are checked against the base config before anything runs, so a bad key or value stops the
sweep at once. The study lives in Optuna's storage (``SWEEP_DIR/sweep.db``, or any database by URL); the sweep asks
it for ``parallel`` trials, runs them, tells it their results in trial order, and asks for the next wave, until
``trials`` have been proposed (or a time budget ran out). Trial ``i`` is an ordinary run directory,
``SWEEP_DIR/trials/trial-<i>/``, seeded from the sweep's seed and ``i``; its values come from a sampler seeded the
same way and from the trials of earlier waves, and its pruning is judged against those trials only: its result
does not depend on the backend, the number of workers or the order in which trials finish. The sweep folder holds
``sweep.yaml`` (the resolved sweep), ``results.csv`` (best first) and ``best.yaml`` (the best trial's config),
written from the study. Each trial also leaves ``trial.json``, its outcome: a finished, pruned or failed trial is
not run again, nor is one that failed by its own doing (it diverged, its values do not fit the data); one that
failed where it ran (the worker loaded other data than the client, a disk was full) runs again when the sweep is
run again, and an interrupted one resumes from its ``last.npz``. A pruned trial keeps its ``last.npz`` too: ``mlp
train --resume`` finishes it by hand.

One process runs a sweep folder at a time: ``start`` holds its lock (``mlp.files.lock.folder_lock``) for the whole
sweep, so a second ``mlp sweep`` on it stops at once, naming the first one's PID. Nothing outlives the sweep: a
stopping sweep writes ``SWEEP_DIR/.stop``, which every trial (local or on a Dask worker: the folder is shared) looks
for between batches, stopping there with a resumable ``last.npz``; a local worker whose sweep process died gets
SIGTERM, which stops its trial at the next batch too (``mlp.train.interrupts``), and exits within seconds. A trial whose
run directory another process holds (a killed sweep's worker that has not exited yet, an ``mlp train --resume`` of
it) is waited for a few seconds, then reported ``locked``: never ``failed``, since nothing is known about it, and
nothing is written in a folder another process holds; it runs when the sweep is run again. Worker processes ignore
Ctrl-C, which a terminal sends them too: the sweep stops them as above.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import hashlib
import io
import json
import math
import multiprocessing
import os
import signal
import socket
import struct
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from mlp.data.dataset import DataFingerprint, DataMismatchError
from mlp.files.atomic import atomic_write, write_text
from mlp.files.lock import FolderLockedError, folder_lock
from mlp.files.reading import read_json
from mlp.messages import quoted
from mlp.native import blas
from mlp.nn.losses import LOSSES
from mlp.runs.build import data_fingerprints
from mlp.runs.config import (
    MONITORS,
    ConfigError,
    find_config,
    load_file,
    monitors,
    read_yaml_file,
    recipes,
    resolve_spec,
    set_value,
)
from mlp.runs.folder import (
    BEST_FILE,
    CONFIG_FILE,
    HISTORY_JSON,
    LAST_FILE,
    RESULTS_FILE,
    STOP_FILE,
    SWEEP_FILE,
    TRIAL_FILE,
    TRIALS,
    read_metrics,
)
from mlp.runs.space import Parameter, SweepError, check_method, grid_size, parse_space
from mlp.runs.study import (
    METHODS,
    PruneCallback,
    Pruning,
    make_sampler,
    neutral_sampler,
    open_study,
    optuna,
    parse_pruner,
    quiet_optuna,
)
from mlp.train.callbacks.callback import Callback, TrainingState
from mlp.train.history import History

SWEEP_KEYS = ("base", "space", "method", "trials", "pruner", "parallel", "seed", "metric")
DONE = ("completed", "stopped", "pruned", "failed")  # a trial with one of these outcomes is not run again
RANKED = ("completed", "stopped")  # trained to the end (stopped: by early stopping)
MAX_TRIALS = 10_000  # each trial is a run directory: more is a mistake in the file, not a sweep
MAX_RESULTS_BYTES = 64 << 20  # results.csv of MAX_TRIALS trials is a few MB
DEFAULT_PARALLEL = 4  # trials proposed at a time by a sampler that learns, or with a pruner
DB_FILE = "sweep.db"  # the study's SQLite database in the sweep folder (Optuna's RDB storage)
NOT_RUN = {"status": "not run", "metric": None, "test": None, "epochs": 0, "message": ""}
STOP_CHECK_SECONDS = 0.2  # how often a trial looks for the stop file (a stat, on a shared filesystem)
LOCK_WAIT_SECONDS = 10.0  # a trial waits this long for its run directory: a killed sweep's worker frees it in 5
ORPHAN_GRACE_SECONDS = 2.5  # a local worker whose sweep died gives its trial this long to stop, then exits
STOP_WAIT_SECONDS = 30.0  # a stopping sweep waits this long for its running trials to say they stopped
PROBE_SECONDS = 3.0  # to connect to a Dask scheduler's address, and for it to greet (it speaks first)

@dataclass
class Sweep:
    """A resolved sweep: the base config (raw and resolved), the space, how trials are drawn and judged, and, once
    ``start`` opened it, the Optuna study and its storage."""

    folder: Path
    base: dict[str, Any]
    space: list[Parameter]
    method: str
    trials: int  # how many trials the sweep proposes
    seed: int
    metric: str
    pruner: tuple[str, dict[str, Any]] = ("none", {})
    parallel: int = 1
    base_config: dict[str, Any] = field(default_factory=dict)
    storage_url: str | None = None
    study: Any = None
    storage: Any = None
    mlflow_parent: str | None = None  # the MLflow run whose children the trials' are (output.loggers: [mlflow])
    timed_out: bool = False  # run_waves proposed no more trials: the time budget ran out

    @property
    def lower_is_better(self) -> bool:
        return "loss" in self.metric

    @property
    def study_name(self) -> str:
        """The study's name: from what the sweep is, not where it runs, so that the same sweep in two folders
        makes the same decisions (Hyperband assigns trials to brackets by the study's name and their number)."""
        digest = hashlib.sha256(yaml.safe_dump(self.describe(), sort_keys=True).encode()).hexdigest()
        return f"mlp-sweep-{digest[:16]}"

    def trial_dir(self, index: int) -> Path:
        return self.folder / TRIALS / f"trial-{index:03d}"

    def describe(self) -> dict[str, Any]:
        pruner, settings = self.pruner
        return {"base": self.base, "space": {p.path: p.describe() for p in self.space}, "method": self.method,
                "trials": self.trials, "pruner": {pruner: settings} if settings else pruner,
                "parallel": self.parallel, "seed": self.seed, "metric": self.metric}

    def values_of(self, trial: Any) -> dict[str, Any]:
        """A study trial's values by config path, as the sweep file gives them (a conditional parameter that
        the trial did not draw is left out)."""
        return {p.path: p.value_of(trial.params[p.path]) for p in self.space if p.path in trial.params}

    def epochs(self) -> int:
        """The most epochs a trial trains (the base's, or the largest ``training.epochs`` of the space)."""
        given = next((p for p in self.space if p.path == "training.epochs"), None)
        if given is None:
            return int(self.base_config["training"]["epochs"])
        return int(max(given.values))


def _base(given: Any, folder: Path) -> dict[str, Any]:
    """The base config: an inline mapping, a recipe name, or a file (relative to the sweep file's folder)."""
    if isinstance(given, dict):
        return copy.deepcopy(given)
    if not isinstance(given, str):
        raise SweepError(f"base must be a recipe name ({', '.join(recipes())}), a config file or a mapping, "
                         f"got {quoted(given)}")
    path = folder / given
    return load_file(path if path.exists() else find_config(given))


def _whole(raw: dict[str, Any], key: str, low: int, high: int, default: Any = None) -> Any:
    """The integer ``raw[key]`` (``default`` if absent), from ``low`` to ``high``."""
    value = raw.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SweepError(f"{key} must be an integer from {low:,} to {high:,}, got {quoted(value)}")
    return value


def load_sweep(path: Path, folder: Path) -> Sweep:
    """Read and check the sweep file ``path`` for the sweep folder ``folder``: every key, and every value of every
    parameter against the base config, so that nothing runs if a trial could not."""
    raw = read_yaml_file(path, "sweep")
    if not isinstance(raw, dict):
        raise SweepError(f"{path} must hold a mapping: {', '.join(SWEEP_KEYS)}")
    unknown = [key for key in raw if key not in SWEEP_KEYS]
    if unknown:
        raise SweepError(f"unknown key {quoted(unknown[0])} in {path}; valid keys: {', '.join(SWEEP_KEYS)}")
    if "base" not in raw or not isinstance(raw.get("space"), dict) or not raw["space"]:
        raise SweepError(f"{path} needs a base (a recipe, config file or mapping) and a space of at least one key, "
                         f"e.g. space: {{optimizer.lr: [0.01, 0.1]}}")
    method = raw.get("method", "grid")
    if not isinstance(method, str) or method not in METHODS:
        raise SweepError(f"method must be one of {', '.join(METHODS)}, got {quoted(method)}")
    space = parse_space(raw["space"])
    check_method(method, space)
    trials = _budget(method, space, raw.get("trials"))
    pruner = parse_pruner(raw.get("pruner", "none"))
    learns = method in ("tpe", "cmaes") or pruner[0] != "none"  # else nothing is gained by waiting for a wave
    parallel = _whole(raw, "parallel", 1, MAX_TRIALS, DEFAULT_PARALLEL if learns else trials)
    seed = _whole(raw, "seed", 0, 2**63 - 1, 0)
    base = _base(raw["base"], path.parent)
    base_config = resolve_spec(base).config  # the base itself must be valid
    metric = raw.get("metric", base_config["output"]["monitor"])
    sweep = Sweep(folder, base, space, method, trials, seed, metric, pruner, parallel, base_config)
    _check_metric(metric, _check_values(sweep))
    return sweep


def _budget(method: str, space: list[Parameter], trials: Any) -> int:
    """How many trials the sweep proposes: ``trials``, or for a grid every combination (or fewer, if given)."""
    if method == "grid":
        count = grid_size(space)
        if count > MAX_TRIALS:
            raise SweepError(f"the grid has {count:,} combinations, more than {MAX_TRIALS:,} trials; list fewer "
                             f"values, or use method: random or tpe with trials: N")
        if trials is not None and (isinstance(trials, bool) or not isinstance(trials, int)
                                   or not 1 <= trials <= count):
            raise SweepError(f"trials of a grid must be an integer from 1 to its {count} combinations, got "
                             f"{quoted(trials)}; remove it to run them all")
        return count if trials is None else trials
    if isinstance(trials, bool) or not isinstance(trials, int) or not 1 <= trials <= MAX_TRIALS:
        raise SweepError(f"method: {method} needs trials, an integer from 1 to {MAX_TRIALS:,}; got {quoted(trials)}")
    return trials


def _check_values(sweep: Sweep) -> list[dict[str, Any]]:
    """Resolve the base with each value of each parameter (each choice; a range's two ends), the other parameters
    at their first values (those a trial with these values draws): a bad key or value is named before anything
    runs. Returns the configs resolved, every one a trial could have."""
    first: dict[str, Any] = {}
    for p in sweep.space:
        if p.applies(first):
            first[p.path] = p.values[0]
    configs = []
    for p in sweep.space:
        for value in p.values:
            wanted = first | {path: allowed[0] for path, allowed in p.when.items()} | {p.path: value}
            given: dict[str, Any] = {}
            for q in sweep.space:  # what a trial with these values draws
                if q.path in wanted and q.applies(given):
                    given[q.path] = wanted[q.path]
            try:
                configs.append(_trial_config(sweep, 0, given))
            except SweepError as err:
                shown = " ".join(f"{k}={v}" for k, v in given.items())
                raise SweepError(f"space: {shown}: {str(err).partition('): ')[2]}") from None
    return configs


def _check_metric(metric: Any, configs: list[dict[str, Any]]) -> None:
    """The metric must be one every trial records: ``val_*`` needs a validation split, ``*accuracy`` classes, a
    metric such as ``val_f1_macro`` its name in ``training.metrics``."""
    if metric not in MONITORS and not (configs and all(metric in monitors(config) for config in configs)):
        valid = monitors(configs[0]) if configs else MONITORS
        raise SweepError(f"metric: unknown metric {quoted(metric)}; valid metrics: {', '.join(valid)}")
    for config in configs:
        if metric.startswith("val_") and not config["data"]["validation_split"]:
            raise SweepError(f"metric is {metric}, but {config['name']} has data.validation_split 0, so no validation "
                             f"set; set it in the base, or rank by {metric.removeprefix('val_')}")
        if metric.endswith("accuracy") and not LOSSES.get(config["loss"]).classification:
            raise SweepError(f"metric is {metric}, but {config['name']}'s loss {config['loss']} has no accuracy; rank "
                             f"by a loss")


def trial_seed(sweep_seed: int, index: int) -> int:
    """Trial ``index``'s seed (weights, shuffling, dropout), from the sweep's seed and the index alone."""
    return int(np.random.SeedSequence([sweep_seed, index]).generate_state(1)[0] % (2**31))


def _trial_config(sweep: Sweep, index: int, values: dict[str, Any]) -> dict[str, Any]:
    raw = copy.deepcopy(sweep.base)
    for path, value in values.items():
        set_value(raw, path.split("."), value, f"space.{path}")
    raw["seed"] = trial_seed(sweep.seed, index)
    raw["name"] = f"trial-{index:03d}"
    output = raw.get("output") if isinstance(raw.get("output"), dict) else {}
    raw["output"] = output | {"dir": str(sweep.folder / TRIALS)}
    mlflow = output.get("mlflow")
    if mlflow is None or (isinstance(mlflow, dict) and mlflow.get("experiment") is None):
        # one MLflow experiment for the sweep, named as its base config, not one per trial's name
        raw["output"]["mlflow"] = (mlflow or {}) | {"experiment": sweep.base.get("name") or sweep.folder.name}
    try:
        return resolve_spec(raw).config
    except ConfigError as err:
        shown = " ".join(f"{k}={v}" for k, v in values.items())
        raise SweepError(f"trial {index} ({shown}): {err}") from None


# -- one trial, in whatever process runs it --------------------------------------------------------------------
def run_trial(config: dict[str, Any], run_dir: str, metric: str, data: DataFingerprint | None = None,
              mlflow_parent: str | None = None, pruning: Pruning | None = None) -> dict[str, Any]:
    """Train one trial in ``run_dir`` (resuming it from its ``last.npz`` if it was interrupted), write its outcome
    to ``trial.json`` and return it: status, the metric, test scores, epochs, seconds, and the message of a trial
    that failed. Runs in a worker process (local or Dask), with BLAS on one thread: OpenBLAS rounds differently
    with other thread counts, and a trial's result must not depend on how many run side by side.

    ``data``: the fingerprint of the data the sweep's client loaded for this trial; a worker that loads other
    data (no MLP_DATA_DIR there: the bundled sample) fails the trial, saying so, instead of training on them.

    ``mlflow_parent``: the sweep's MLflow run (``Sweep.mlflow_parent``), whose child the trial's MLflow run is.

    ``pruning``: what the pruner judges the trial against (``mlp.runs.study.Pruning``), or ``None``: the trial
    reports its metric after each epoch and stops at the next batch when the pruner says so, ``pruned`` with its
    last value and a resumable ``last.npz``. The outcome then holds the values reported and the pruner's notes.

    A trial that starts after its sweep began to stop (``STOP_FILE``) does nothing and is ``not run``; one that
    is running stops at its next batch, ``interrupted``. A run directory another process holds is waited for
    (``LOCK_WAIT_SECONDS``), then the trial is ``locked``, with nothing written."""
    from mlp.runs import run  # here: a worker imports what it runs
    from mlp.train.loop import DivergenceError

    blas.set_threads(1)
    folder = Path(run_dir)
    stop = _SweepStop(folder.parent.parent / STOP_FILE)
    if stop.requested():
        return dict(NOT_RUN)
    done = _recorded(folder)
    if done is not None:  # finished before the sweep that ran it could tell the study
        return done
    last = folder / LAST_FILE
    outcome: dict[str, Any] = {"status": "failed", "metric": None, "test": None, "epochs": 0, "message": ""}
    pruner = PruneCallback(pruning, metric) if pruning is not None else None
    try:
        _wait_for(folder, LOCK_WAIT_SECONDS)
        metrics = read_metrics(folder)
        if metrics is not None and metrics["status"] in DONE:  # trained to the end; stopped before trial.json
            records = History.from_json(folder / HISTORY_JSON).records
            status, test = metrics["status"], metrics["test"]
            if pruner is not None:
                pruner.replay(records)
        else:  # what the run prints is in its train.log; the sweep prints one line per trial
            spec = resolve_spec(config)
            spec.callbacks += [stop] if pruner is None else [stop, pruner]
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                expect = None if data is None else partial(
                    data.check, here=f"worker host {socket.gethostname()}", there="the sweep's client",
                    others="the workers")
                result = run.train(spec, resume=last if last.is_file() else None, quiet=True, run_dir=folder,
                                   expect_data=expect, mlflow_parent=mlflow_parent)
            records, status, test = result.history.records, result.ending.status, result.metrics.get("test")
        outcome |= {"status": status, "epochs": len(records), "test": test,
                    "metric": _metric_of(records, metric, config)}
        if pruner is not None and pruner.pruned and status == "interrupted":
            reported = pruner.notes()
            outcome |= {"status": "pruned", "metric": list(reported["reported"].values())[-1],
                        "message": f"pruned after epoch {len(records)}; mlp train --resume finishes it"}
        if pruner is not None:
            outcome |= pruner.notes()
    except FolderLockedError as err:  # the folder is another process's: write nothing in it
        return outcome | {"status": "locked", "message": f"{err}; the sweep runs it when run again"}
    except DivergenceError as err:
        outcome["message"] = str(err).splitlines()[0]
    except (DataMismatchError, OSError) as err:  # the worker's doing, not the trial's: run it again next time
        outcome |= {"message": str(err), "retry": True}
    except ValueError as err:
        outcome["message"] = str(err)
    write_text(folder / TRIAL_FILE, json.dumps(outcome, indent=1))
    return outcome


def _recorded(folder: Path) -> dict[str, Any] | None:
    """The outcome ``trial.json`` holds, if the trial is done (``DONE``, and not to be tried again)."""
    path = folder / TRIAL_FILE
    outcome = read_json(path, "a trial's outcome") if path.is_file() else None
    if isinstance(outcome, dict) and outcome.get("status") in DONE and not outcome.get("retry"):
        return outcome
    return None


def _wait_for(folder: Path, seconds: float) -> None:
    """Return once no other process holds the run directory ``folder`` (or it does not exist yet); raise
    ``FolderLockedError`` if one still does after ``seconds``."""
    deadline = time.monotonic() + seconds
    while folder.is_dir():
        try:
            with folder_lock(folder, "mlp sweep, waiting for the trial's folder"):
                return
        except FolderLockedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


class _SweepStop(Callback):
    """Stops a trial at a batch boundary once its sweep stops (``STOP_FILE`` appears in the sweep folder): a trial
    on a Dask worker runs in a thread, which no signal reaches, so the sweep's stop comes through the folder."""

    order = -1  # before any other callback acts on the batch: the state is exactly the last batch's end

    def __init__(self, marker: Path) -> None:
        self.marker = marker
        self.checked = 0.0

    def requested(self) -> bool:
        """Whether the sweep is stopping."""
        return self.marker.exists()

    def on_batch_begin(self, state: TrainingState) -> None:
        now = time.monotonic()
        if now - self.checked >= STOP_CHECK_SECONDS:
            self.checked = now
            if self.requested():
                raise KeyboardInterrupt  # fit's stop from a callback: last.npz saves this batch boundary


def _metric_of(records: list[dict[str, Any]], metric: str, config: dict[str, Any]) -> float | None:
    """The trial's value of ``metric``: at the epoch its ``model.npz`` holds (the best by ``output.monitor`` with
    ``output.keep: best``, else the last)."""
    values = [r[metric] for r in records if r.get(metric) is not None]
    if not values:
        return None
    if config["output"]["keep"] == "best":
        return min(values) if "loss" in metric else max(values)
    return values[-1]


# -- the sweep ---------------------------------------------------------------------------------------------------
@dataclass
class Outcome:
    index: int
    values: dict[str, Any]
    result: dict[str, Any]


def _state(name: str) -> Any:
    return getattr(optuna().trial.TrialState, name)


def progress(sweep: Sweep) -> int:
    """How many of the sweep's trials are done: told to the study (finished, pruned or failed), or done in a wave
    that the sweep did not finish (their ``trial.json`` says so; they are told with the wave)."""
    return sum(trial.state.is_finished() or _recorded(sweep.trial_dir(trial.number)) is not None
               for trial in sweep.study.get_trials(deepcopy=False))


@contextmanager
def start(sweep_file: Path, folder: Path, storage: str | None = None) -> Iterator[Sweep]:
    """Resolve the sweep, take its folder for this process until the block ends, write ``sweep.yaml`` and open the
    study: in ``storage`` (an SQLAlchemy URL), by default ``SWEEP_DIR/sweep.db``.

    A sweep folder keeps the sweep it was started with (running another one in it is refused) and is run by one
    process at a time: a second gets a ``FolderLockedError`` naming the first one's PID. A stop file left by an
    earlier run that could not wait for all its trials is removed: this run's trials must run."""
    folder = folder.absolute()  # the workers (a Dask cluster's) may run elsewhere, on a shared filesystem
    sweep = load_sweep(sweep_file, folder)
    optuna()  # the extra is missing: said before anything is written
    described = yaml.safe_dump(sweep.describe() | {"study": sweep.study_name}, sort_keys=False)
    if storage is not None:  # a database of the user's: a URL it cannot use is said before anything is written
        sweep.storage_url = storage
        sweep.study, sweep.storage = open_study(storage, sweep.study_name, sweep.lower_is_better)
    folder.mkdir(parents=True, exist_ok=True)
    with folder_lock(folder, "mlp sweep"):
        stored = folder / SWEEP_FILE
        if stored.is_file() and stored.read_text() != described:
            raise SweepError(f"{folder} holds another sweep ({stored}); give another --out, or remove the folder")
        write_text(stored, described)
        (folder / STOP_FILE).unlink(missing_ok=True)
        if storage is None:
            sweep.storage_url = f"sqlite:///{folder / DB_FILE}"
            sweep.study, sweep.storage = open_study(sweep.storage_url, sweep.study_name, sweep.lower_is_better)
        parent = _mlflow_parent(sweep)
        try:
            yield sweep
        finally:
            if parent is not None:
                _safely("ending the sweep's MLflow run", lambda: parent[0].set_terminated(parent[1]))




def _safely(what: str, action: Callable[[], Any]) -> Any:
    """``action()``, or ``None`` and one warning line if it fails: the sweep's MLflow run never stops the sweep."""
    try:
        return action()
    except Exception as err:  # whatever MLflow raises: the trials' own files stay the record
        print(f"warning: the sweep's MLflow run: {what} failed: {' '.join(str(err).split())[:300]}", file=sys.stderr)
        return None


def _mlflow_parent(sweep: Sweep) -> tuple[Any, str] | None:
    """Where the trials log to MLflow (``output.loggers: [mlflow]``), the sweep's own MLflow run, their parent: the
    one an earlier run of the sweep in this folder started (tagged with the folder), or a new one. Sets
    ``sweep.mlflow_parent``; returns the client and the run's id."""
    config = _trial_config(sweep, 0, {})  # the base as the trials have it: in the sweep's MLflow experiment
    if "mlflow" not in config["output"]["loggers"]:
        return None
    from mlp.loggers import MLflowLogger
    from mlp.loggers.mlflow_logger import default_tracking_uri, mlflow_client
    from mlp.runs.run import require_loggers

    require_loggers(config)  # a missing extra is the usual one-line error, before any trial
    settings = config["output"]["mlflow"]
    uri = settings["tracking_uri"] or default_tracking_uri(sweep.folder / TRIALS)  # as each trial's, beside them

    def parent() -> tuple[Any, str]:
        from mlflow.entities import Param

        client = mlflow_client(uri, "mlp sweep")
        tag = f"tags.`mlp.sweep` = '{sweep.folder}'"
        experiment = client.get_experiment_by_name(settings["experiment"])
        found = client.search_runs([experiment.experiment_id], tag) if experiment is not None else []
        if found:
            run_id = found[0].info.run_id
            client.update_run(run_id, status="RUNNING")
        else:
            run_id = MLflowLogger.start_run(client, settings["experiment"], sweep.folder.name, None, uri)
            client.set_tag(run_id, "mlp.sweep", str(sweep.folder))
            client.log_batch(run_id, params=[Param(key, str(value)[:500]) for key, value in
                                             sweep.describe().items() if key != "base"])
        return client, run_id

    made = _safely("starting", parent)
    sweep.mlflow_parent = made[1] if made is not None else None
    return made


def run_waves(sweep: Sweep, submit: Callable[..., Any], stop: Stop, deadline: float = math.inf) -> Iterator[Outcome]:
    """Run the sweep a wave at a time: ask the study for ``sweep.parallel`` trials, give ``submit`` (a backend's:
    ``local_pool``, ``dask_pool``) ``run_trial``'s arguments for each, yield each outcome as it finishes, tell the
    study the wave's results in trial order; then the next wave, until the sweep's trials have been proposed. A
    wave that an earlier run of the sweep left unfinished runs first. Stops after a wave that did not finish (a stop
    was asked: ``stop.stopped``; a trial is locked, or is to run again), and before a new wave once ``time.monotonic()``
    passes ``deadline`` (``Sweep.timed_out``)."""
    while True:
        wave = _next_wave(sweep, stop, deadline)
        if not wave:
            return
        results: dict[int, dict[str, Any]] = {}
        configs: dict[int, dict[str, Any]] = {}
        for number, values in wave.items():
            try:
                configs[number] = _trial_config(sweep, number, values)
            except SweepError as err:  # values each fine alone (load_sweep), not together
                results[number] = NOT_RUN | {"status": "failed", "message": str(err).partition("): ")[2] or str(err)}
                yield Outcome(number, values, results[number])
        futures = {submit(*arguments): i for i, arguments in _trial_arguments(sweep, configs).items()}
        for outcome in _outcomes(sweep, futures, stop, wave):
            results[outcome.index] = outcome.result
            yield outcome
        _tell(sweep, results)
        if stop.stopped or any(results.get(n, NOT_RUN)["status"] not in DONE or results[n].get("retry")
                               for n in wave):
            return


def _next_wave(sweep: Sweep, stop: Stop, deadline: float) -> dict[int, dict[str, Any]]:
    """The next wave's trials (number -> values): the unfinished trials of the last wave (an earlier run of the
    sweep stopped in it) with any of its trials not asked yet, or ``sweep.parallel`` new ones; none once the sweep's
    trials are done, a stop was asked or the ``deadline`` passed."""
    trials = sweep.study.get_trials(deepcopy=False)
    running = [t for t in trials if t.state == _state("RUNNING")]
    if running:
        first = min(t.number for t in running)
        wave = {t.number: sweep.values_of(t) for t in running}
        end = min(first - first % sweep.parallel + sweep.parallel, sweep.trials)
    elif len(trials) >= sweep.trials:
        return {}
    else:
        wave, end = {}, min(len(trials) + sweep.parallel, sweep.trials)
        if stop.asked():
            stop.stopped = True
            return {}
        if time.monotonic() > deadline:
            sweep.timed_out = True
            return {}
    return wave | _ask(sweep, len(trials), end)


def _ask(sweep: Sweep, first: int, end: int) -> dict[int, dict[str, Any]]:
    """Ask the study for trials ``first`` to ``end - 1``, each drawn by a sampler seeded from the sweep's seed and
    its number (``make_sampler``); returns their values (number -> path -> value)."""
    wave = {}
    with quiet_optuna():
        for number in range(first, end):
            sweep.study.sampler = make_sampler(sweep.method, sweep.space, sweep.seed, number)
            trial = sweep.study.ask()
            if trial.number != number:
                raise SweepError(f"the study {sweep.study_name} in {sweep.storage_url} has a trial {trial.number} "
                                 f"where this sweep asked for trial {number}: another process adds trials to it; "
                                 f"let one mlp sweep run a study")
            values: dict[str, Any] = {}
            for p in sweep.space:
                if p.applies(values):
                    values[p.path] = p.suggest(trial)
            wave[number] = values
        sweep.study.sampler = neutral_sampler()
    return wave


def _tell(sweep: Sweep, results: dict[int, dict[str, Any]]) -> None:
    """Record each outcome in the study, in trial order: every outcome as the trial's user attribute ``outcome``;
    a trial that is done (``DONE``) also with the values it reported, its pruner's notes, and its state (complete,
    pruned or failed). The others stay running: they run again when the sweep is run again."""
    storage, study = sweep.storage, sweep.study
    study_id = storage.get_study_id_from_name(sweep.study_name)
    with quiet_optuna():
        for number in sorted(results):
            result = results[number]
            trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, number)
            if storage.get_trial(trial_id).state.is_finished():
                continue
            outcome = {key: result.get(key) for key in ("status", "metric", "test", "epochs", "message")}
            storage.set_trial_user_attr(trial_id, "outcome", outcome)
            if result["status"] not in DONE or result.get("retry"):
                continue
            for step, value in result.get("reported", {}).items():
                storage.set_trial_intermediate_value(trial_id, int(step), value)
            for key, value in result.get("system_attrs", {}).items():
                storage.set_trial_system_attr(trial_id, key, value)
            metric = result["metric"]
            if result["status"] in RANKED and metric is not None and math.isfinite(metric):
                study.tell(number, metric)
            else:
                study.tell(number, state=_state("PRUNED" if result["status"] == "pruned" else "FAIL"))


def _pruning(sweep: Sweep, number: int) -> Pruning | None:
    """What trial ``number`` is judged against by the pruner: the trials of the waves before its own."""
    name, settings = sweep.pruner
    if name == "none":
        return None
    wave = number - number % sweep.parallel
    earlier = sorted((t for t in sweep.study.get_trials(deepcopy=False) if t.number < wave), key=lambda t: t.number)
    return Pruning(sweep.study_name, sweep.lower_is_better, name, settings, sweep.epochs(), number, earlier)


def _trial_arguments(sweep: Sweep, configs: dict[int, dict[str, Any]]) -> dict[int, tuple[Any, ...]]:
    """``run_trial``'s arguments for each trial (number -> resolved config), with the fingerprint of the data that
    this process, the sweep's client, loads for it (each distinct data section once): every worker must train on
    those."""
    data = data_fingerprints(list(configs.values()))
    return {i: (config, str(sweep.trial_dir(i)), sweep.metric, fingerprint, sweep.mlflow_parent, _pruning(sweep, i))
            for (i, config), fingerprint in zip(configs.items(), data, strict=True)}


@dataclass
class Stop:
    """How a running sweep is told to stop, and what stopping left.

    ``asked()`` says whether a stop was asked for (``mlp sweep``: a stop signal came). The sweep then writes
    ``STOP_FILE``: running trials stop at their next batch and report ``interrupted``, trials not started yet do
    not run. ``stopped``: the sweep stopped so; ``late``: the trials that had not reported when it stopped
    waiting for them (``STOP_WAIT_SECONDS``), which stop when they see the file."""

    asked: Callable[[], bool]
    stopped: bool = False
    late: list[int] = field(default_factory=list)


def _tell_trials_to_stop(marker: Path) -> None:
    """Write the sweep's ``STOP_FILE``: every running trial stops at its next batch (``_SweepStop``)."""
    write_text(marker, f"mlp sweep, pid {os.getpid()}: stop at the next batch\n")


def _outcomes(sweep: Sweep, futures: dict[Any, int], stop: Stop, wave: dict[int, dict[str, Any]]
              ) -> Iterator[Outcome]:
    """The outcome of each trial as it finishes, from the ``futures`` of either backend (``done()``, ``result()``);
    once a stop is asked, the outcomes of the running trials as they stop, for up to ``STOP_WAIT_SECONDS``. An
    error here or a second stop signal (``KeyboardInterrupt``: stop at once) still tells the trials to stop."""
    waiting, deadline = dict(futures), math.inf
    marker = sweep.folder / STOP_FILE
    try:
        while waiting and time.monotonic() < deadline:
            if not stop.stopped and stop.asked():
                _tell_trials_to_stop(marker)
                stop.stopped, deadline = True, time.monotonic() + STOP_WAIT_SECONDS
            finished = [future for future in waiting if future.done()]
            for future in finished:
                index = waiting.pop(future)
                result = future.result()
                if result["status"] != NOT_RUN["status"]:
                    yield Outcome(index, wave[index], result)
            if not finished:
                time.sleep(0.05)
    except BaseException:
        _tell_trials_to_stop(marker)
        raise
    stop.late = sorted(waiting.values())
    if not waiting:
        marker.unlink(missing_ok=True)


@contextmanager
def _started_ignoring_ctrl_c() -> Iterator[None]:
    """The worker processes started within the block ignore Ctrl-C (SIGINT), from their first instruction: an
    ignored signal stays ignored in a child process. A terminal sends Ctrl-C to every process of its group, and
    it is the sweep's to act on: it stops the trials at a batch boundary (``_outcomes``), where a worker that
    died of it would leave them half done. A Ctrl-C to the sweep meanwhile is lost: press it again. (Python sets
    handlers in the main thread only: elsewhere, nothing changes.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


# -- local worker processes --------------------------------------------------------------------------------------
_sweep_pid: int | None = None  # in a local worker: the sweep process that started it
_running = threading.Event()  # in a local worker: set while it runs a trial
PR_SET_PDEATHSIG = 1  # Linux's prctl option: a signal for this process when its parent dies


def _start_local_worker(sweep_pid: int) -> None:
    """A local worker's start (it ignores Ctrl-C: ``_started_ignoring_ctrl_c``). The worker does not outlive the
    sweep process: it gets SIGTERM when the sweep dies, from the kernel on Linux, else from its watchdog thread
    (``_exit_when_orphaned``), which also ends it soon after. SIGTERM stops a trial at its next batch
    (``mlp.train.interrupts``) and ends an idle worker."""
    global _sweep_pid
    _sweep_pid = sweep_pid
    if sys.platform == "linux":
        import ctypes

        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    threading.Thread(target=_exit_when_orphaned, name="mlp-sweep-watchdog", daemon=True).start()


def _orphaned() -> bool:
    """Whether this is a local worker whose sweep process has died (it then has another parent)."""
    return _sweep_pid is not None and os.getppid() != _sweep_pid


def _exit_when_orphaned() -> None:
    """Once the sweep process is gone, give the running trial ``ORPHAN_GRACE_SECONDS`` to stop at its next batch
    and write its outcome, then end the worker: no one reads its results, and it holds the caller's pipes and the
    resource tracker's (which ends when its last holder does). Ending at any point is safe: every write is
    atomic, and the operating system releases the trial's lock."""
    while not _orphaned():
        time.sleep(0.2)
    if sys.platform != "linux":  # on Linux the kernel has sent it: a second signal would mean "stop now"
        os.kill(os.getpid(), signal.SIGTERM)
    deadline = time.monotonic() + ORPHAN_GRACE_SECONDS
    while _running.is_set() and time.monotonic() < deadline:
        time.sleep(0.05)
    os._exit(0)


def _local_trial(*args: Any) -> dict[str, Any]:
    """``run_trial`` in a local worker, marked as running for its watchdog."""
    _running.set()
    try:
        return run_trial(*args)
    finally:
        _running.clear()


@contextmanager
def local_pool(jobs: int) -> Iterator[Callable[..., Future]]:
    """A backend of ``jobs`` local worker processes: yields ``submit(*arguments)``, which runs ``run_trial`` in one
    and returns its future; the workers end with the sweep process, whichever way it ends."""
    # spawn: a fresh interpreter per worker; a fork would copy this process's BLAS threads in an unknown state
    pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"), initializer=_start_local_worker,
                               initargs=(os.getpid(),))

    def submit(*arguments: Any) -> Future:
        with _started_ignoring_ctrl_c():  # a worker starts at a submission
            return pool.submit(_local_trial, *arguments)

    try:
        yield submit
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


# -- a Dask cluster ----------------------------------------------------------------------------------------------
@contextmanager
def dask_pool(scheduler: str, stop: Stop, timeout: float = 60.0, say: Callable[[str], None] = print
              ) -> Iterator[Callable[..., Any] | None]:
    """A backend on a Dask cluster: ``tcp://HOST:PORT`` (a running scheduler, checked first: see
    ``_check_scheduler``) or ``local:N`` (a ``LocalCluster`` of N single-threaded worker processes, started and
    closed here). Yields ``submit(*arguments)``, which runs ``run_trial`` on a worker and returns its future, or
    ``None`` if a stop was asked while a scheduler without workers was waited for (up to ``timeout`` seconds).
    ``say`` gets the lines to show: the wait, and Dask's warnings, one line each."""
    from mlp.extras import require

    distributed = require("distributed", "dask", "mlp sweep --scheduler", "distributed")
    cluster = None
    with _quiet_dask(say) as flush:
        if scheduler.startswith("local:"):
            workers = scheduler.removeprefix("local:")
            if not workers.isdigit() or int(workers) < 1:
                raise SweepError(f"--scheduler local:N needs a number of workers >= 1, got {quoted(scheduler)}")
            with _started_ignoring_ctrl_c():
                cluster = distributed.LocalCluster(n_workers=int(workers), threads_per_worker=1, processes=True,
                                                   dashboard_address=None)
        try:
            address = cluster if cluster is not None else _check_scheduler(scheduler)
            with _client(distributed, address, scheduler) as client:
                flush()
                if not _workers_joined(client, scheduler, timeout, stop, say):
                    stop.stopped = True
                    yield None
                    return
                yield lambda *arguments: client.submit(run_trial, *arguments, pure=False,
                                                       key=f"mlp-{Path(arguments[1]).name}")
        finally:
            if cluster is not None:
                cluster.close()


@contextmanager
def _quiet_dask(say: Callable[[str], None]) -> Iterator[Callable[[], None]]:
    """Dask's log records and warnings run to many lines on stderr (a port in use, versions that differ): within
    the block, its loggers pass only errors, and its warnings are collected; the yielded ``flush()``, also called
    at the end, gives each distinct one to ``say`` as one line."""
    import logging

    loggers = [logging.getLogger(name) for name in ["distributed", *logging.root.manager.loggerDict]
               if name.split(".")[0] == "distributed"]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    said: set[str] = set()
    with warnings.catch_warnings(record=True) as caught:  # the filters stay: what is ignored stays ignored

        def flush() -> None:
            while caught:
                text = str(caught.pop(0).message).strip()
                line = text.splitlines()[0] if text else ""
                if line not in said:
                    said.add(line)
                    say(f"warning: Dask: {line}")

        try:
            yield flush
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)
            flush()


def _check_scheduler(scheduler: str) -> str:
    """The address of the Dask scheduler ``scheduler`` names (``tcp://HOST:PORT`` or ``HOST:PORT``), checked in
    at most ``2 * PROBE_SECONDS``: the name resolves, something accepts a connection, and it greets as a Dask
    scheduler does. Dask itself takes 30 s to say "Timed out" where nothing listens, runs out of memory where
    something else sends bytes, and waits for ever on a server that says nothing."""
    host, sep, port = scheduler.removeprefix("tcp://").rpartition(":")
    host = host.removeprefix("[").removesuffix("]")  # an IPv6 address: [::1]:8786
    if not sep or not host or not port.isdigit() or "/" in host:
        raise SweepError(f"--scheduler must be tcp://HOST:PORT (a running Dask scheduler) or local:N, got "
                         f"{quoted(scheduler)}")
    where = f"--scheduler {scheduler}"
    try:
        socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise SweepError(f"{where}: the host name {host} does not resolve; check the name, or give the "
                         f"scheduler's IP address") from None
    try:
        connection = socket.create_connection((host, int(port)), timeout=PROBE_SECONDS)
    except ConnectionRefusedError:
        raise SweepError(f"{where}: connection refused: nothing listens on port {port} of {host}; start the "
                         f"scheduler (dask scheduler --port {port}) or check the address") from None
    except TimeoutError:
        raise SweepError(f"{where}: {host} did not accept a connection on port {port} within {PROBE_SECONDS:g} s "
                         f"(a host that is down, or a firewall); check the address") from None
    except OSError as err:
        raise SweepError(f"{where}: cannot connect to port {port} of {host} ({err.strerror or err})") from None
    with connection:
        problem = _greeting_problem(connection)
    if problem is not None:
        raise SweepError(f"{where}: what listens there is not a Dask scheduler ({problem}); give the address "
                         f"`dask scheduler` prints")
    return f"tcp://{host}:{port}" if ":" not in host else f"tcp://[{host}]:{port}"


MAX_GREETING_BYTES = 1 << 16  # a scheduler's greeting is a few dozen bytes


def _greeting_problem(connection: socket.socket) -> str | None:
    """What is wrong with the first message from the other end of ``connection`` as a Dask scheduler's greeting,
    or ``None``. A scheduler speaks first: its comm handshake, an 8-byte length, then frames holding a mapping
    with its ``pickle-protocol``."""
    from distributed.protocol import loads
    from distributed.protocol.utils import unpack_frames

    deadline = time.monotonic() + PROBE_SECONDS
    try:
        (size,) = struct.unpack("Q", _receive(connection, 8, deadline))
        if not 0 < size <= MAX_GREETING_BYTES:
            return f"its first message says it is {size:,} bytes long"
        message = loads(unpack_frames(_receive(connection, size, deadline)))
    except TimeoutError:
        return f"it sent nothing Dask understands within {PROBE_SECONDS:g} s"
    except ConnectionError:
        return "it closed the connection"
    except Exception:  # any bytes at all can come: whatever the decoder makes of them, they are no greeting
        return "its first message is not Dask's"
    return None if isinstance(message, dict) and "pickle-protocol" in message else "its first message is not Dask's"


def _receive(connection: socket.socket, size: int, deadline: float) -> bytes:
    """``size`` bytes from ``connection`` by ``deadline`` (``time.monotonic()``), else ``TimeoutError``."""
    data = b""
    while len(data) < size:
        connection.settimeout(max(deadline - time.monotonic(), 0.001))
        chunk = connection.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def _client(distributed: Any, address: Any, scheduler: str) -> Any:
    """A Dask client of ``address`` (checked, or a ``LocalCluster``); what Dask raises becomes one line."""
    try:
        return distributed.Client(address, timeout=2 * PROBE_SECONDS)
    except (OSError, TimeoutError) as err:
        text = str(err).strip()
        raise SweepError(f"--scheduler {scheduler}: Dask could not connect ({text.splitlines()[0] if text else err!r})"
                         ) from None


def _workers_joined(client: Any, scheduler: str, timeout: float, stop: Stop, say: Callable[[str], None]) -> bool:
    """Wait until the scheduler has a worker: ``True`` when it has, ``False`` if a stop was asked first; a
    ``SweepError`` after ``timeout`` seconds."""
    if client.scheduler_info()["workers"]:
        return True
    say(f"waiting  for a Dask worker to join the scheduler at {scheduler} (up to {timeout:g} s: --worker-timeout)")
    deadline = time.monotonic() + timeout
    while not client.scheduler_info()["workers"]:
        if stop.asked():
            return False
        if time.monotonic() > deadline:
            raise SweepError(f"no Dask worker joined the scheduler at {scheduler} within {timeout:g} s; start one "
                             f"(dask worker {scheduler}), or give a longer --worker-timeout")
        time.sleep(0.2)
    return True


def results_table(sweep: Sweep, trials: list[Any]) -> list[dict[str, Any]]:
    """One row per trial of the study (``trials``: Optuna's ``FrozenTrial``s), from the outcome each holds: the
    finished ones best first by the metric, then the others (pruned, failed, interrupted, not run) in trial
    order: a pruned or interrupted trial's metric is that of an unfinished run."""
    rows = []
    for trial in sorted(trials, key=lambda t: t.number):
        result = trial.user_attrs.get("outcome") or NOT_RUN
        test = result.get("test") or {}
        rows.append({"trial": trial.number, **{p.path: None for p in sweep.space}, **sweep.values_of(trial),
                     "status": result["status"], sweep.metric: result["metric"],
                     **{f"test_{k}": v for k, v in test.items()}, "epochs": result["epochs"],
                     "run_dir": str(sweep.trial_dir(trial.number).relative_to(sweep.folder)),
                     "message": result["message"]})
    sign = 1 if sweep.lower_is_better else -1
    ranked = [r for r in rows if r["status"] in RANKED and r[sweep.metric] is not None]
    return sorted(ranked, key=lambda r: (sign * r[sweep.metric], r["trial"])) + [r for r in rows if r not in ranked]


def write_results(sweep: Sweep, rows: list[dict[str, Any]]) -> None:
    """``results.csv`` (the rows, best first) and ``best.yaml`` (the best trial's resolved config)."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(sweep.folder / RESULTS_FILE, lambda f: f.write(buffer.getvalue().encode()))
    best = next((row for row in rows if row["status"] in RANKED and row[sweep.metric] is not None), None)
    if best is not None:
        write_text(sweep.folder / BEST_FILE, (sweep.trial_dir(best["trial"]) / CONFIG_FILE).read_text())


def read_results(folder: Path) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """A sweep folder's ``sweep.yaml`` and ``results.csv`` rows (for ``mlp plot``)."""
    if not (folder / SWEEP_FILE).is_file() or not (folder / RESULTS_FILE).is_file():
        raise SweepError(f"{folder} is not a finished sweep folder (no {SWEEP_FILE} and {RESULTS_FILE}); run "
                         f"`mlp sweep SWEEP.yaml --out {folder}`")
    described = read_yaml_file(folder / SWEEP_FILE, "sweep")
    if not isinstance(described, dict) or not isinstance(described.get("space"), dict) or "metric" not in described:
        raise SweepError(f"{folder / SWEEP_FILE} is not a sweep written by `mlp sweep`")
    results = folder / RESULTS_FILE
    if results.stat().st_size > MAX_RESULTS_BYTES:
        raise SweepError(f"{results} is {results.stat().st_size:,} bytes, more than a sweep's results can be")
    with open(results, newline="") as f:
        return described, list(csv.DictReader(f))


def trial_history(folder: Path, run_dir: str) -> list[dict[str, Any]]:
    """A trial's history records (none if it has no history yet)."""
    path = folder / run_dir / HISTORY_JSON
    return History.from_json(path).records if path.is_file() else []


def param_importances(described: dict[str, Any], rows: list[dict[str, str]]) -> dict[str, float]:
    """How much each parameter mattered to the metric, by Optuna's default evaluator (PED-ANOVA), over the trials
    that trained to the end (``rows``: ``results.csv``'s), for a sweep as ``sweep.yaml`` describes it; parameters
    first by importance, summing to 1 (a conditional parameter judged over the trials that drew it). Empty when
    fewer than two trials finished or nothing varied."""
    module = optuna()
    space = parse_space({path: spec for path, spec in described["space"].items()})
    metric = described["metric"]
    varied = [p for p in space if p.kind != "choice" or len(p.values) > 1]
    trials = []
    for row in (r for r in rows if r["status"] in RANKED and r.get(metric) not in (None, "")):
        params = {p.path: _parsed(p, row[p.path]) for p in varied if row.get(p.path) not in (None, "")}
        trials.append(module.trial.create_trial(params=params, distributions={p.path: p.distribution() for p in varied
                                                                              if p.path in params},
                                                value=float(row[metric])))
    if len(trials) < 2 or not varied:
        return {}
    with quiet_optuna(), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "may be inaccurate" of a few trials: the picture shows them
        study = module.create_study(direction="minimize" if "loss" in metric else "maximize")
        study.add_trials(trials)
        try:
            return dict(module.importance.get_param_importances(study))
        except (ValueError, RuntimeError):  # Optuna's "no trial has all the parameters" and the like
            return {}


def _parsed(parameter: Parameter, text: str) -> Any:
    """A value of ``parameter`` as results.csv holds it (text), as Optuna's distribution takes it."""
    if parameter.kind == "int_uniform":
        return int(float(text))
    if parameter.kind != "choice":
        return float(text)
    shown = [str(value) for value in parameter.values]
    return parameter.categories()[shown.index(text)] if text in shown else text
