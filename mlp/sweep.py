"""Hyperparameter sweeps: many short runs of one config, over a search space, on local processes or a Dask cluster.

A sweep file names a base config and the values to try, in the dotted paths of ``--set``::

    base: mnist_fast                     # a recipe, a config file (relative to this file) or a mapping
    space:
      optimizer.lr: {log_uniform: [1.0e-3, 1.0e-1]}
      model.layers.0.dense: [256, 512, 1024]     # a list is the values to try (grid) or to choose from (random)
      training.batch_size: {choice: [64, 128]}
    method: random                       # grid: every combination of the lists; random: `trials` draws
    trials: 12
    seed: 0
    metric: val_loss                     # default: the base's output.monitor; lower is better for losses

Every trial's config is resolved (``mlp.config``) before any trial runs, so a bad key or value stops the sweep at
once. Trial ``i`` is an ordinary run directory, ``SWEEP_DIR/trials/trial-<i>/``, with its own seed drawn from the
sweep's seed and ``i``: its result does not depend on the backend, the number of workers or the order in which
trials finish. The sweep folder holds ``sweep.yaml`` (the resolved sweep), ``results.csv`` (best first) and
``best.yaml`` (the best trial's config). Each trial also leaves ``trial.json``, its outcome: a finished or failed
trial is not run again, an interrupted one resumes from its ``last.npz``.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import io
import itertools
import json
import math
import multiprocessing
import signal
import socket
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from mlp.builders import data_fingerprints
from mlp.config import (
    MONITORS,
    ConfigError,
    find_config,
    load_file,
    read_yaml_file,
    recipes,
    resolve_spec,
    set_value,
)
from mlp.data.dataset import DataFingerprint
from mlp.data.tabular import is_number
from mlp.fileio import atomic_write, read_json, write_text
from mlp.history import History
from mlp.losses import LOSSES
from mlp.messages import quoted
from mlp.native import blas
from mlp.rundir import CONFIG_FILE, HISTORY_JSON, LAST_FILE, read_metrics

SWEEP_FILE, RESULTS_FILE, BEST_FILE = "sweep.yaml", "results.csv", "best.yaml"
TRIALS, TRIAL_FILE = "trials", "trial.json"
SWEEP_KEYS = ("base", "space", "method", "trials", "seed", "metric")
DISTRIBUTIONS = ("choice", "uniform", "log_uniform")
DONE = ("completed", "stopped", "failed")  # a trial with one of these outcomes is not run again
RANKED = ("completed", "stopped")  # trained to the end (stopped: by early stopping)
MAX_TRIALS = 10_000  # each trial is a run directory: more is a mistake in the file, not a sweep
MAX_RESULTS_BYTES = 64 << 20  # results.csv of MAX_TRIALS trials is a few MB


class SweepError(ValueError):
    """A sweep file that cannot be used: the message names the key and the fix."""


@dataclass
class Parameter:
    """One dimension of the space: a config path and its values (``choice``) or range (``uniform``,
    ``log_uniform``)."""

    path: str
    kind: str
    values: list[Any]

    def draw(self, rng: np.random.Generator) -> Any:
        if self.kind == "choice":
            return self.values[int(rng.integers(len(self.values)))]
        low, high = self.values
        if self.kind == "uniform":
            return float(rng.uniform(low, high))
        return float(math.exp(rng.uniform(math.log(low), math.log(high))))


@dataclass
class Sweep:
    """A resolved sweep: the base config (raw), the space, and every trial's values and config."""

    folder: Path
    base: dict[str, Any]
    space: list[Parameter]
    method: str
    seed: int
    metric: str
    trials: list[dict[str, Any]] = field(default_factory=list)  # the values of each trial, by path
    configs: list[dict[str, Any]] = field(default_factory=list)  # each trial's resolved config

    @property
    def lower_is_better(self) -> bool:
        return "loss" in self.metric

    def trial_dir(self, index: int) -> Path:
        return self.folder / TRIALS / f"trial-{index:03d}"

    def describe(self) -> dict[str, Any]:
        return {"base": self.base, "space": {p.path: {p.kind: p.values} for p in self.space}, "method": self.method,
                "trials": len(self.trials), "seed": self.seed, "metric": self.metric}


def _parameter(path: str, spec: Any) -> Parameter:
    where = f"space.{path}"
    if isinstance(spec, list):
        spec = {"choice": spec}
    if not isinstance(spec, dict) or len(spec) != 1 or next(iter(spec)) not in DISTRIBUTIONS:
        raise SweepError(f"{where} must be a list of values or one of {{choice: [...]}}, {{uniform: [low, high]}}, "
                         f"{{log_uniform: [low, high]}}; got {quoted(spec)}")
    kind, values = next(iter(spec.items()))
    if not isinstance(values, list) or not values:
        raise SweepError(f"{where}.{kind} must be a non-empty list, got {quoted(values)}")
    if kind != "choice":
        numbers = [float(v) if isinstance(v, str) and is_number(v) else v for v in values]  # YAML reads 1e-3 so
        if len(numbers) != 2 or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in numbers):
            raise SweepError(f"{where}.{kind} must be [low, high], two numbers; got {quoted(values)}")
        low, high = numbers
        if not low < high or (kind == "log_uniform" and low <= 0):
            raise SweepError(f"{where}.{kind} needs {'0 < ' if kind == 'log_uniform' else ''}low < high, "
                             f"got {quoted(values)}")
        values = [low, high]
    return Parameter(path, kind, values)


def _base(given: Any, folder: Path) -> dict[str, Any]:
    """The base config: an inline mapping, a recipe name, or a file (relative to the sweep file's folder)."""
    if isinstance(given, dict):
        return copy.deepcopy(given)
    if not isinstance(given, str):
        raise SweepError(f"base must be a recipe name ({', '.join(recipes())}), a config file or a mapping, "
                         f"got {quoted(given)}")
    path = folder / given
    return load_file(path if path.exists() else find_config(given))


def load_sweep(path: Path, folder: Path) -> Sweep:
    """Read and resolve the sweep file ``path`` for the sweep folder ``folder``: every trial's config is resolved
    and checked, so that nothing runs if any trial cannot."""
    raw = read_yaml_file(path, "sweep")
    if not isinstance(raw, dict):
        raise SweepError(f"{path} must hold a mapping: base, space, method, trials, seed, metric")
    unknown = [key for key in raw if key not in SWEEP_KEYS]
    if unknown:
        raise SweepError(f"unknown key {quoted(unknown[0])} in {path}; valid keys: {', '.join(SWEEP_KEYS)}")
    if "base" not in raw or not isinstance(raw.get("space"), dict) or not raw["space"]:
        raise SweepError(f"{path} needs a base (a recipe, config file or mapping) and a space of at least one key, "
                         f"e.g. space: {{optimizer.lr: [0.01, 0.1]}}")
    base = _base(raw["base"], path.parent)
    space = [_parameter(str(key), spec) for key, spec in raw["space"].items()]
    method = raw.get("method", "grid")
    if method not in ("grid", "random"):
        raise SweepError(f"method must be grid or random, got {quoted(method)}")
    seed = raw.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise SweepError(f"seed must be an integer >= 0, got {quoted(seed)}")
    base_config = resolve_spec(base).config  # the base itself must be valid
    metric = raw.get("metric", base_config["output"]["monitor"])
    sweep = Sweep(folder, base, space, method, seed, metric)
    sweep.trials = _trials(sweep, raw.get("trials"))
    sweep.configs = [_trial_config(sweep, index, values) for index, values in enumerate(sweep.trials)]
    _check_metric(metric, sweep.configs)
    return sweep


def _check_metric(metric: Any, configs: list[dict[str, Any]]) -> None:
    """The metric must be one every trial records: ``val_*`` needs a validation split, ``*accuracy`` classes."""
    if metric not in MONITORS:
        raise SweepError(f"metric: unknown metric {quoted(metric)}; valid metrics: {', '.join(MONITORS)}")
    for config in configs:
        if metric.startswith("val_") and not config["data"]["validation_split"]:
            raise SweepError(f"metric is {metric}, but {config['name']} has data.validation_split 0, so no validation "
                             f"set; set it in the base, or rank by {metric.removeprefix('val_')}")
        if metric.endswith("accuracy") and not LOSSES.get(config["loss"]).classification:
            raise SweepError(f"metric is {metric}, but {config['name']}'s loss {config['loss']} has no accuracy; rank "
                             f"by a loss")


def _trials(sweep: Sweep, trials: Any) -> list[dict[str, Any]]:
    if sweep.method == "grid":
        ranges = [p for p in sweep.space if p.kind != "choice"]
        if ranges:
            raise SweepError(f"space.{ranges[0].path} is a {ranges[0].kind} range, which a grid cannot list; give "
                             f"its values as a list, or use method: random")
        count = math.prod(len(p.values) for p in sweep.space)
        if count > MAX_TRIALS:
            raise SweepError(f"the grid has {count:,} combinations, more than {MAX_TRIALS:,} trials; list fewer "
                             f"values, or use method: random with trials: N")
        if trials is not None and trials != count:
            raise SweepError(f"a grid runs every combination ({count}); remove trials: {trials}")
        combinations = itertools.product(*(p.values for p in sweep.space))
        return [dict(zip((p.path for p in sweep.space), values, strict=True)) for values in combinations]
    if isinstance(trials, bool) or not isinstance(trials, int) or not 1 <= trials <= MAX_TRIALS:
        raise SweepError(f"method: random needs trials, an integer from 1 to {MAX_TRIALS:,}; got {quoted(trials)}")
    rng = np.random.default_rng(sweep.seed)  # drawn in trial order: the same trials on any backend
    return [{p.path: p.draw(rng) for p in sweep.space} for _ in range(trials)]


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
    try:
        return resolve_spec(raw).config
    except ConfigError as err:
        shown = " ".join(f"{k}={v}" for k, v in values.items())
        raise SweepError(f"trial {index} ({shown}): {err}") from None


# -- one trial, in whatever process runs it --------------------------------------------------------------------
def run_trial(config: dict[str, Any], run_dir: str, metric: str, data: DataFingerprint | None = None) -> dict[str, Any]:
    """Train one trial in ``run_dir`` (resuming it from its ``last.npz`` if it was interrupted), write its outcome
    to ``trial.json`` and return it: status, the metric, test scores, epochs, seconds, and the message of a trial
    that failed. Runs in a worker process (local or Dask), with BLAS on one thread: OpenBLAS rounds differently
    with other thread counts, and a trial's result must not depend on how many run side by side.

    ``data``: the fingerprint of the data the sweep's client loaded for this trial; a worker that loads other
    data (no MLP_DATA_DIR there: the bundled sample) fails the trial, saying so, instead of training on them."""
    from mlp import run  # here: a worker imports what it runs
    from mlp.training import DivergenceError

    blas.set_threads(1)
    folder = Path(run_dir)
    last = folder / LAST_FILE
    outcome: dict[str, Any] = {"status": "failed", "metric": None, "test": None, "epochs": 0, "message": ""}
    try:
        metrics = read_metrics(folder)
        if metrics is not None and metrics["status"] in DONE:  # trained to the end; stopped before trial.json
            records = History.from_json(folder / HISTORY_JSON).records
            status, test = metrics["status"], metrics["test"]
        else:  # what the run prints is in its train.log; the sweep prints one line per trial
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                expect = None if data is None else partial(
                    data.check, here=f"worker host {socket.gethostname()}", there="the sweep's client",
                    others="the workers")
                result = run.train(resolve_spec(config), resume=last if last.is_file() else None, quiet=True,
                                   run_dir=folder, expect_data=expect)
            records, status, test = result.history.records, result.ending.status, result.metrics.get("test")
        outcome |= {"status": status, "epochs": len(records), "test": test,
                    "metric": _metric_of(records, metric, config)}
    except DivergenceError as err:
        outcome["message"] = str(err).splitlines()[0]
    except (ValueError, OSError) as err:
        outcome["message"] = str(err)
    write_text(folder / TRIAL_FILE, json.dumps(outcome, indent=1))
    return outcome


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


def pending(sweep: Sweep) -> tuple[list[int], dict[int, dict[str, Any]]]:
    """The trials left to run (new, or interrupted: they resume), and the outcomes of those already done."""
    todo, done = [], {}
    for index in range(len(sweep.trials)):
        path = sweep.trial_dir(index) / TRIAL_FILE
        outcome = read_json(path, "a trial's outcome") if path.is_file() else None
        if isinstance(outcome, dict) and outcome.get("status") in DONE:
            done[index] = outcome
        else:
            todo.append(index)
    return todo, done


def start(sweep_file: Path, folder: Path) -> Sweep:
    """Resolve the sweep and write ``sweep.yaml`` (a sweep folder keeps the sweep it was started with: running
    another one in it is refused)."""
    folder = folder.absolute()  # the workers (a Dask cluster's) may run elsewhere, on a shared filesystem
    sweep = load_sweep(sweep_file, folder)
    described = yaml.safe_dump(sweep.describe(), sort_keys=False)
    stored = folder / SWEEP_FILE
    if stored.is_file() and stored.read_text() != described:
        raise SweepError(f"{folder} holds another sweep ({stored}); give another --out, or remove the folder")
    folder.mkdir(parents=True, exist_ok=True)
    write_text(stored, described)
    return sweep


def _trial_arguments(sweep: Sweep, todo: list[int]) -> dict[int, tuple[Any, ...]]:
    """``run_trial``'s arguments for each trial of ``todo``, with the fingerprint of the data that this process,
    the sweep's client, loads for it (each distinct data section once): every worker must train on those."""
    data = data_fingerprints([sweep.configs[i] for i in todo])
    return {i: (sweep.configs[i], str(sweep.trial_dir(i)), sweep.metric, fingerprint)
            for i, fingerprint in zip(todo, data, strict=True)}


def _ignore_interrupts() -> None:
    """A local worker leaves Ctrl-C to the sweep, which stops it with SIGTERM (``run_local``)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_local(sweep: Sweep, todo: list[int], jobs: int) -> Iterator[Outcome]:
    """Run trials ``todo`` in ``jobs`` local worker processes, yielding each outcome as it finishes. On Ctrl-C (or
    any error here) the trials not started are dropped and the workers get SIGTERM: a running trial stops at its
    next batch, saving where it was (``mlp.interrupts``), and resumes when the sweep is run again."""
    # spawn: a fresh interpreter per worker; a fork would copy this process's BLAS threads in an unknown state
    trials = _trial_arguments(sweep, todo)
    pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"), initializer=_ignore_interrupts)
    futures = {pool.submit(run_trial, *arguments): i for i, arguments in trials.items()}
    try:
        for future in as_completed(futures):
            index = futures[future]
            yield Outcome(index, sweep.trials[index], future.result())
    except BaseException:
        for future in futures:
            future.cancel()
        for worker in multiprocessing.active_children():  # this sweep's workers: it starts no other process
            worker.terminate()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def run_dask(sweep: Sweep, todo: list[int], scheduler: str) -> Iterator[Outcome]:
    """Run trials ``todo`` on a Dask cluster: ``tcp://HOST:PORT`` (a running scheduler) or ``local:N`` (a
    ``LocalCluster`` of N single-threaded worker processes, started and closed here)."""
    from mlp.extras import require

    distributed = require("distributed", "dask", "mlp sweep --scheduler", "distributed")
    cluster = None
    if scheduler.startswith("local:"):
        workers = scheduler.removeprefix("local:")
        if not workers.isdigit() or int(workers) < 1:
            raise SweepError(f"--scheduler local:N needs a number of workers >= 1, got {quoted(scheduler)}")
        cluster = distributed.LocalCluster(n_workers=int(workers), threads_per_worker=1, processes=True,
                                           dashboard_address=None)
        address: Any = cluster
    else:
        address = scheduler
    try:
        with distributed.Client(address) as client:
            futures = {client.submit(run_trial, *arguments, pure=False, key=f"mlp-trial-{i}"): i
                       for i, arguments in _trial_arguments(sweep, todo).items()}
            for future in distributed.as_completed(futures):
                index = futures[future]
                yield Outcome(index, sweep.trials[index], future.result())
    finally:
        if cluster is not None:
            cluster.close()


def results_table(sweep: Sweep, outcomes: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per trial: the finished ones best first by the metric, then the others (failed, interrupted, not
    run) in trial order: an interrupted trial's metric is that of an unfinished run."""
    rows = []
    for index, values in enumerate(sweep.trials):
        result = outcomes.get(index, {"status": "not run", "metric": None, "test": None, "epochs": 0, "message": ""})
        test = result.get("test") or {}
        rows.append({"trial": index, **values, "status": result["status"], sweep.metric: result["metric"],
                     **{f"test_{k}": v for k, v in test.items()}, "epochs": result["epochs"],
                     "run_dir": str(sweep.trial_dir(index).relative_to(sweep.folder)), "message": result["message"]})
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


def is_sweep(folder: Path) -> bool:
    """Whether ``folder`` is a sweep folder (``mlp sweep`` wrote its ``sweep.yaml``)."""
    return folder.is_dir() and (folder / SWEEP_FILE).is_file()


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
