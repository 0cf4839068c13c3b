"""A sweep's Optuna study: its samplers (``method``), pruners (``pruner``), storage, and the pruning of a trial
where it runs.

The sweep (``mlp.runs.sweep``) proposes trials a wave at a time, in the process that runs it: it asks the study
for ``parallel`` trials, runs them on any backend, and tells the study their results in trial order before it asks
for the next wave. So that a trial's values do not depend on the process that asks for them nor on when the sweep
was resumed, each trial is drawn by a sampler seeded from the sweep's seed and the trial's number
(``make_sampler``): a sampler's state is then the study's trials alone, which the storage keeps.

A trial's pruning is decided where it trains (a local process, a Dask worker), which need not see the study's
database: ``Pruning`` carries what the pruner may look at, the trials of the earlier waves (all finished), and the
trial reports its metric at each epoch to a copy of the study made of those (``PruneCallback``). The decision is
thus the same on any backend and in any order of finishing; trials of the same wave are not compared with each
other. What the pruner notes on the trial (Hyperband's rungs) and the values reported go back to the sweep, which
writes them into the study when it tells the trial.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlp.extras import require
from mlp.messages import quoted
from mlp.runs.space import Parameter, SweepError
from mlp.train.callbacks.callback import Callback, TrainingState

METHODS = ("grid", "random", "tpe", "cmaes")
PRUNERS = {  # each pruner's settings: name -> (smallest value, default); None: the trials' epochs
    "none": {},
    "median": {"n_startup_trials": (0, 5), "n_warmup_steps": (0, 0), "interval_steps": (1, 1)},
    "hyperband": {"min_resource": (1, 1), "max_resource": (1, None), "reduction_factor": (2, 3)},
}
USER = "mlp sweep"


def optuna() -> Any:
    """The ``optuna`` module (the ``optuna`` extra), quiet: its log lines are the sweep's to print."""
    module = require("optuna", "optuna", USER)
    module.logging.set_verbosity(module.logging.WARNING)
    return module


@contextlib.contextmanager
def quiet_optuna() -> Iterator[None]:
    """Optuna's warnings that a feature is experimental (its Hyperband pruner, the CMA-ES options) say nothing to
    the sweep's user: they are ignored within the block."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna().exceptions.ExperimentalWarning)
        yield


def parse_pruner(given: Any) -> tuple[str, dict[str, int]]:
    """A sweep file's ``pruner``: a name (``none``, ``median``, ``hyperband``) or ``{name: {setting: value}}``;
    returns the name and every setting (defaults filled in; Hyperband's ``max_resource`` ``None`` for the
    trials' epochs)."""
    name, settings = (next(iter(given.items())) if isinstance(given, dict) and len(given) == 1 else (given, {}))
    if not isinstance(name, str) or name not in PRUNERS:
        raise SweepError(f"pruner must be one of {', '.join(PRUNERS)} (or {{median: {{n_warmup_steps: 2}}}}), got "
                         f"{quoted(given)}")
    known = PRUNERS[name]
    if not isinstance(settings, dict | type(None)):
        raise SweepError(f"pruner.{name} must map settings to integers ({', '.join(known) or 'none'}), got "
                         f"{quoted(settings)}")
    filled: dict[str, Any] = {key: default for key, (_, default) in known.items()}
    for key, value in (settings or {}).items():
        if key not in known:
            raise SweepError(f"unknown setting {quoted(key)} of pruner {name}; valid settings: "
                             f"{', '.join(known) or 'none'}")
        smallest = known[key][0]
        if isinstance(value, bool) or not isinstance(value, int) or not smallest <= value <= 1_000_000:
            raise SweepError(f"pruner.{name}.{key} must be an integer from {smallest} to 1,000,000, got "
                             f"{quoted(value)}")
        filled[key] = value
    return name, filled


def make_pruner(name: str, settings: dict[str, Any], epochs: int) -> Any:
    """The Optuna pruner ``name`` with its ``settings``; ``epochs``: the most epochs a trial trains (Hyperband's
    ``max_resource`` unless given)."""
    pruners = optuna().pruners
    if name == "median":
        return pruners.MedianPruner(**settings)
    if name == "hyperband":
        with quiet_optuna():
            return pruners.HyperbandPruner(**(settings | {"max_resource": settings["max_resource"] or epochs}))
    return pruners.NopPruner()


def sampler_seed(seed: int, number: int) -> int:
    """The seed of the sampler that draws trial ``number``: from the sweep's seed and the number alone (apart from
    the trial's own seed, ``mlp.runs.sweep.trial_seed``)."""
    return int(np.random.SeedSequence([seed, number, 1]).generate_state(1)[0])


def make_sampler(method: str, space: list[Parameter], seed: int, number: int) -> Any:
    """The Optuna sampler of ``method`` that draws trial ``number`` of a sweep seeded ``seed``: seeded from both
    (``sampler_seed``), so that the trials of a wave differ, except the grid's."""
    samplers, rng_seed = optuna().samplers, sampler_seed(seed, number)
    if method == "grid":  # its seed orders the grid, whose n-th point trial n gets: one order for every trial
        return samplers.GridSampler({p.path: p.categories() for p in space}, seed=seed)
    if method == "tpe":  # constant liar: the trials of a wave, still running, are not proposed again
        return samplers.TPESampler(seed=rng_seed, constant_liar=True)
    if method == "cmaes":
        with quiet_optuna():
            return samplers.CmaEsSampler(seed=rng_seed)
    return samplers.RandomSampler(seed=rng_seed)


def neutral_sampler() -> Any:
    """The sampler the study holds while trials are told: Optuna calls its ``after_trial``, which the grid sampler
    would use to stop an ``optimize`` loop that a sweep does not run."""
    return optuna().samplers.RandomSampler(seed=0)


def direction(lower_is_better: bool) -> str:
    return "minimize" if lower_is_better else "maximize"


def open_study(url: str, name: str, lower_is_better: bool) -> tuple[Any, Any]:
    """The study ``name`` in the storage at ``url`` (created, or opened as an earlier run of the sweep left it),
    and the storage."""
    module = optuna()
    try:
        storage = module.storages.RDBStorage(url)
    except Exception as err:  # SQLAlchemy's and Optuna's errors for a URL they cannot use
        text = " ".join(str(err).split())[:300]
        raise SweepError(f"--storage {url}: Optuna cannot open it ({text}); give an SQLAlchemy URL such as "
                         f"sqlite:///sweep.db or postgresql://user@host/db") from None
    study = module.create_study(storage=storage, study_name=name, direction=direction(lower_is_better),
                                sampler=neutral_sampler(), load_if_exists=True)
    return study, storage


@dataclass
class Pruning:
    """What a trial needs to decide, where it runs, whether to stop early: the study's name and direction, the
    pruner, the trials of the earlier waves (Optuna ``FrozenTrial``s, the first ``len(trials)`` numbers), and the
    trial's own number."""

    study_name: str
    lower_is_better: bool
    pruner: str
    settings: dict[str, Any]
    epochs: int
    number: int
    trials: list[Any] = field(default_factory=list)


class PruneCallback(Callback):
    """Reports the trial's ``metric`` after each epoch to a copy of its study (``Pruning``) and stops it at the next
    batch boundary (``KeyboardInterrupt``: ``last.npz`` is saved there and the run can resume) once the pruner says
    so. A resumed trial reports its earlier epochs again, which gives the same decisions (no) and notes."""

    order = -1  # as the sweep's stop: before any other callback acts on the batch

    def __init__(self, pruning: Pruning, metric: str) -> None:
        self.pruning = pruning
        self.metric = metric
        self.pruned = False
        self.study: Any = None
        self.trial: Any = None

    def on_train_begin(self, state: TrainingState) -> None:
        self.replay(state.history.records)

    def replay(self, records: list[dict[str, Any]]) -> None:
        """Make the copy of the study and report the epochs ``records`` of a trial trained so far (a resumed one,
        or one that finished before its sweep recorded it)."""
        module, p = optuna(), self.pruning
        with quiet_optuna():
            self.study = module.create_study(study_name=p.study_name, direction=direction(p.lower_is_better),
                                             sampler=neutral_sampler(), pruner=make_pruner(p.pruner, p.settings,
                                                                                           p.epochs))
            self.study.add_trials(p.trials)
            # the wave's other trials before this one: numbered as in the study, they are not compared with it
            failed = module.trial.TrialState.FAIL
            self.study.add_trials([module.trial.create_trial(state=failed)
                                   for _ in range(p.number - len(p.trials))])
            self.trial = self.study.ask()
        for epoch, record in enumerate(records, start=1):
            self._report(epoch, record)

    def on_epoch_end(self, state: TrainingState, logs: dict[str, Any]) -> None:
        self._report(len(state.history.records), logs)

    def _report(self, epoch: int, record: dict[str, Any]) -> None:
        value = record.get(self.metric)
        if isinstance(value, int | float) and math.isfinite(value) and not self.pruned:
            self.trial.report(float(value), epoch)
            with quiet_optuna():
                self.pruned = self.trial.should_prune()

    def on_batch_begin(self, state: TrainingState) -> None:
        if self.pruned:
            raise KeyboardInterrupt  # fit's stop from a callback: last.npz keeps this batch boundary

    def notes(self) -> dict[str, Any]:
        """What the study is to record of the trial: the values reported (epoch -> value) and what the pruner
        noted on it."""
        if self.trial is None:
            return {"reported": {}, "system_attrs": {}}
        frozen = self.study.trials[self.trial.number]
        return {"reported": {str(k): v for k, v in frozen.intermediate_values.items()},
                "system_attrs": dict(frozen.system_attrs)}
