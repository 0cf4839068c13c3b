"""A training run from a resolved config: its folder (``mlp.runs.folder``), the training, and what is written.

``train`` holds the run directory's lock for as long as it works in it, checks a resume completely (checkpoint,
architecture, data) before it changes any file, keeps the history files current after every epoch, and
ends every run, however it ends (finished, stopped early, interrupted, diverged), with a ``model.npz`` that
holds a good state where there is one and a ``metrics.json`` that says what happened.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shlex
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from mlp import __version__
from mlp.data import DataFingerprint, Dataset
from mlp.data.split import training_rows
from mlp.extras import require
from mlp.files.atomic import DiskFullError, remove_partial_writes, write_text
from mlp.files.lock import folder_lock
from mlp.files.yamlfile import to_yaml
from mlp.loggers import Logger, MLflowLogger, TensorBoardLogger
from mlp.loggers.mlflow_logger import default_tracking_uri
from mlp.messages import plural
from mlp.nn.losses import Loss
from mlp.nn.optim import Optimizer
from mlp.nn.sample_weights import class_weight_by_index
from mlp.nn.sequential import Sequential
from mlp.runs.build import build_model, load_data
from mlp.runs.config import (
    TRAINING_KEYS,
    ConfigError,
    RunSpec,
    adversarial_training,
    augmentation,
    with_absolute_outputs,
)
from mlp.runs.folder import (
    CONFIG_FILE,
    HISTORY_CSV,
    HISTORY_JSON,
    LAST_FILE,
    LOG_FILE,
    METRICS_FILE,
    MODEL_FILE,
    NORMS_CSV,
    NORMS_JSON,
    TENSORBOARD_DIR,
    new_run_dir,
    point_latest,
    read_metrics,
)
from mlp.runs.outputs import check_output_folder
from mlp.train.callbacks import EarlyStopping, ModelCheckpoint, ProgressLogger
from mlp.train.callbacks.callback import Callback, TrainingState
from mlp.train.callbacks.gradient_norms import GradientNorms
from mlp.train.checkpoint import Checkpoint, restore, save_model
from mlp.train.history import Ending, History
from mlp.train.interrupts import Stopped, stop_signals
from mlp.train.loop import DivergenceError, evaluate, fit
from mlp.train.parallel import Communicator, DataParallel, StartupError
from mlp.train.watcher import Hints, first_possible


class Console:
    """Prints to the terminal (unless ``quiet``) and to the run's log; ``write`` makes it a file for
    ``ProgressLogger``. ``stderr=True`` lines (warnings, errors) are shown even when quiet. Lines
    printed before the log is opened are kept for it."""

    def __init__(self, quiet: bool = False, result_line: bool = True) -> None:
        self.quiet = quiet
        self.result_line = result_line  # a quiet run's one line of results (not when they are printed as JSON)
        self.log: TextIO | None = None
        self.log_path: Path | None = None
        self._out = _Lines(self.echo)
        self._early: list[str] = []

    def open_log(self, path: Path) -> None:
        self.log = open(path, "a")  # noqa: SIM115 -- closed by close(), the run outlives any with-block
        self.log_path = path
        for line in self._early:
            self.to_log(line)

    def echo(self, message: str = "", stderr: bool = False) -> None:
        if stderr or not self.quiet:
            print(message, file=sys.stderr if stderr else sys.stdout, flush=True)
        self.to_log(message)

    def to_log(self, message: str) -> None:
        if self.log is None:
            self._early.append(message)
            return
        try:
            self.log.write(message + "\n")
            self.log.flush()
        except OSError as err:
            if isinstance(err, DiskFullError) or err.errno not in DiskFullError.ERRNOS:
                raise
            raise DiskFullError(self.log_path or Path(LOG_FILE)) from None

    def write(self, text: str) -> None:
        self._out.write(text)

    def flush(self) -> None: ...

    @property
    def errors(self) -> _Lines:
        """A file whose lines the console shows on stderr (even when quiet) and logs."""
        return _Lines(lambda line: self.echo(line, stderr=True))

    def close(self) -> None:
        if self.log is not None:
            log, self.log = self.log, None
            with contextlib.suppress(OSError):  # a full disk, already reported by the write that failed
                log.close()


class _Lines:
    """A text file that hands each complete line to ``echo`` (``print`` writes a line's text and its newline
    apart: each piece alone is not a line)."""

    def __init__(self, echo: Callable[[str], None]) -> None:
        self.echo = echo
        self._pending = ""

    def write(self, text: str) -> None:
        *lines, self._pending = (self._pending + text).split("\n")
        for line in lines:
            self.echo(line)

    def flush(self) -> None: ...


class RunFiles(Callback):
    """Keeps the run directory's history files current: after every epoch, and when training ends, so that a
    killed run still has its curves."""

    order = 1

    def __init__(self, run_dir: Path, norms: GradientNorms | None) -> None:
        self.run_dir, self.norms = run_dir, norms

    def write(self, history: History) -> None:
        history.to_csv(self.run_dir / HISTORY_CSV)
        history.to_json(self.run_dir / HISTORY_JSON)
        if self.norms is not None:
            self.norms.history.to_csv(self.run_dir / NORMS_CSV)
            self.norms.history.to_json(self.run_dir / NORMS_JSON)

    def on_epoch_end(self, state: TrainingState, logs: dict[str, Any]) -> None:
        self.write(state.history)

    def on_train_end(self, state: TrainingState) -> None:
        self.write(state.history)


@dataclass
class RunResult:
    """What a run did: its directory, history and metrics, and the stop signal it received, if any (during
    training, which it then ended, or after it, while the results were written)."""

    run_dir: Path | None  # None in the processes other than 0 of a data-parallel run: they write nothing
    history: History
    metrics: dict[str, Any]
    stop_signal: str | None = None

    @property
    def ending(self) -> Ending:
        return self.history.ending


def load_run_data(data: dict[str, Any], seed: int, console: Console | None) -> Dataset:
    """Load the data of a resolved ``data:`` section; a fallback to the bundled sample is said loudly, on
    stderr and in the log (``console=None``: a data-parallel process other than 0, which says nothing)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dataset = load_data(data, seed)
    for warning in caught if console is not None else ():
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
    settings = training["adversarial"]
    adversarial = f", adversarial (epsilon {settings['epsilon']:g}, weight {settings['weight']:g})" if settings else ""
    console.echo(f"training {config['loss']}, {config['optimizer']['name']} ({optimizer}){schedule}{adversarial}, "
                 f"{plural(training['epochs'], 'epoch')}, batch {training['batch_size']}, seed {config['seed']}")


def _versions() -> dict[str, Any]:
    return {"mlp": __version__, "numpy": np.__version__, "python": platform.python_version(),
            "platform": platform.platform(), "cpus": os.cpu_count()}


def _check_resume(resume: Path, config: dict[str, Any], model: Sequential, optimizer: Optimizer) -> str:
    """Everything a resume needs, checked before any file is touched: the checkpoint loads into the network
    the config builds for this data, and there is something left to do (a run whose results were not
    written yet is finished). Returns where training resumes, in words."""
    position = restore(resume, model, optimizer).position
    done, epochs = position.epoch, config["training"]["epochs"]
    if done >= epochs and read_metrics(resume.parent) is not None:
        raise ConfigError(f"{resume} has completed {plural(done, 'epoch')} of {epochs}; to "
                          f"train on, resume with more, e.g. --epochs {done + 10}")
    batches = f" and {plural(position.batch, 'batch', 'batches')} of epoch {done + 1}" if position.batch else ""
    return f"after {plural(done, 'epoch')}{batches}"


def train(spec: RunSpec, *, resume: Path | None = None, quiet: bool = False,
          communicator: Communicator | None = None, run_dir: Path | None = None,
          expect_data: Callable[[DataFingerprint], None] | None = None, result_line: bool = True,
          mlflow_parent: str | None = None) -> RunResult:
    """Train ``spec`` (``mlp.runs.config.resolve_spec``) in a new run directory under its ``output.dir``, or
    continue the run whose ``last.npz`` is ``resume``, and write everything ``mlp.runs.folder`` lists.

    Ctrl-C, SIGTERM and SIGHUP stop training at the next batch boundary: the exact point is saved, the
    files are written and the resume command is printed (``result.ending`` says which signal it was).

    ``communicator``: train data-parallel (``mlp.train.parallel``) with the processes of an MPI communicator, each
    calling ``train``; process 0 writes the run directory and prints, the others only compute. Until every
    process has agreed to start (``agree_to_start``), a problem in any of them stops all with a ``StartupError``.

    ``run_dir``: train in this folder (made if missing), not in a new timestamped one (``mlp sweep``'s trials).

    ``expect_data``: called with the fingerprint of the data loaded here, before anything in the run folder is
    touched; it raises to refuse other data than expected (``DataFingerprint.check``: a sweep's trial on a worker).
    In a data-parallel run, every process checks that its config and data are process 0's.

    ``result_line=False``: a quiet run prints nothing on standard output, not even its result line (``mlp train
    --json`` prints the results as JSON instead).

    ``mlflow_parent``: the MLflow run whose child this run's is (``output.loggers: [mlflow]``; a sweep's trial).
    """
    started = time.perf_counter()
    config = spec.config
    parallel = _data_parallel(communicator, config["training"]["micro_batches"]) if communicator is not None else None
    leader = parallel is None or parallel.rank == 0  # process 0 writes the run directory and prints
    console = Console(quiet, result_line) if leader else None
    try:
        dataset = load_run_data(config["data"], config["seed"], console)
        if expect_data is not None or parallel is not None:
            fingerprint = dataset.fingerprint()  # a hash of every array: computed once for both checks
            if expect_data is not None:
                expect_data(fingerprint)
            if parallel is not None:
                parallel.agree(config, fingerprint)
        model = build_model(spec, dataset)
        class_weight = class_weight_by_index(config["training"]["class_weight"], dataset.classes)
        objects = (dataset, model, class_weight)
        if console is not None:
            require_loggers(config)
            return _run(spec, resume, objects, console, started, parallel, run_dir, mlflow_parent)
        return _follow(spec, resume, objects, parallel)
    except Exception as err:
        if parallel is not None and not parallel.started:
            parallel.start(err)  # every process stops, with this error
        raise


def _data_parallel(communicator: Communicator, micro_batches: int) -> DataParallel:
    try:
        return DataParallel(communicator, micro_batches)
    except ValueError as err:  # the same in every process: all stop
        raise StartupError(str(err)) from None


def _run(spec: RunSpec, resume: Path | None, objects: tuple[Dataset, Sequential, Any], console: Console,
         started: float, parallel: DataParallel | None, into: Path | None,
         mlflow_parent: str | None = None) -> RunResult:
    """The run directory's part of ``train``: everything written, and the training in between."""
    config = spec.config
    dataset, model, _ = objects
    # From the moment the run has a folder, a stop signal waits for a point where everything written is
    # consistent (mlp.train.interrupts): training stops at the next batch, writing results finishes. The folder comes
    # only once the data and the network are known to fit together.
    with stop_signals() as stop:
        if resume is not None:
            run_dir = resume.parent
        elif into is not None:
            into.mkdir(parents=True, exist_ok=True)
            run_dir = into
        else:
            check_output_folder(config["output"]["dir"], "output.dir (--out)")
            run_dir = new_run_dir(config["output"]["dir"], config["name"])
            point_latest(run_dir)
        with folder_lock(run_dir, "mlp train"):
            where = _check_resume(resume, config, model, spec.optimizer) if resume is not None else ""
            remove_partial_writes(run_dir)  # what a killed write left; while we hold the lock, no one else writes here
            _forget_the_ending(run_dir, config)
            console.open_log(run_dir / LOG_FILE)
            try:
                write_text(run_dir / CONFIG_FILE, to_yaml(with_absolute_outputs(config)))
                _describe(config, dataset, run_dir, console)
                if parallel is not None:
                    console.echo(f"parallel {parallel.size} processes, {parallel.micro_batches} micro-batches a batch "
                                 f"({parallel.share} per process)")
                if resume is not None:
                    console.echo(f"resume   from {resume} {where}")
                model.summary(print_fn=console.echo)
                result = _train(spec, run_dir, resume, objects, console, started, parallel, mlflow_parent)
                if stop.received is not None and result.stop_signal is None:  # (a second one's, if it came)
                    result.stop_signal = stop.received.name
                    if result.ending.status != "interrupted":
                        console.echo(f"signal   {result.stop_signal} arrived after training ended; the run is complete")
                return result
            except DiskFullError as err:
                again = how_to_continue(run_dir, train_command(parallel))
                raise DiskFullError(err.path, f"; free some space, then {again}") from None
            finally:
                console.close()


def train_command(parallel: DataParallel | None) -> str:
    """The command that trains (and resumes) a run as this one was started: ``mlp train``, or for ``K`` processes
    ``mpiexec -n K mlp train`` (a resume with another K that divides the micro-batches is bit-identical too)."""
    return "mlp train" if parallel is None or parallel.size == 1 else f"mpiexec -n {parallel.size} mlp train"


def resume_command(run_dir: Path, command: str = "mlp train") -> str:
    """The command that resumes the run in ``run_dir``: ``command`` (``train_command``) ``--resume RUN_DIR``."""
    return f"{command} --resume {shlex.quote(str(run_dir))}"


def continue_hints(run_dir: Path, command: str = "mlp train") -> Hints:
    """What continues a run that stopped before its end, with ``command`` (``train_command``), in order: a resume
    from its ``last.npz``, or, before the first checkpoint (--resume needs one), a new start from its
    ``config.yaml``; each with the file it needs (a lost process's watcher picks one when the loss happens)."""
    config = run_dir / CONFIG_FILE
    return [(str(run_dir / LAST_FILE), f"continue with: {resume_command(run_dir, command)}"),
            (str(config), f"start it again with: {command} {shlex.quote(str(config))}"),
            ("", "train again")]


def how_to_continue(run_dir: Path, command: str = "mlp train") -> str:
    """What continues the run in ``run_dir`` now: the first of its ``continue_hints`` that applies."""
    return first_possible(continue_hints(run_dir, command))


def _forget_the_ending(run_dir: Path, config: dict[str, Any]) -> None:
    """Remove what described how the run ended before this training: from its first batch it is no longer true,
    and a run killed from now on must not leave it to be read as this run's results. ``metrics.json`` goes; so
    does ``model.npz`` unless it is the best model so far (``output.keep: best``, which training keeps current):
    the model an interrupted run kept is the state ``last.npz`` holds, which training continues from."""
    (run_dir / METRICS_FILE).unlink(missing_ok=True)
    if config["output"]["keep"] != "best":
        (run_dir / MODEL_FILE).unlink(missing_ok=True)


def _follow(spec: RunSpec, resume: Path | None, objects: tuple[Dataset, Sequential, Any],
            parallel: DataParallel) -> RunResult:
    """What a process other than 0 does in a data-parallel run: the same training and test evaluation (``_fit``),
    its share of the arithmetic, with nothing written or printed (process 0 reports)."""
    dataset, model, _ = objects
    if resume is not None:
        _check_resume(resume, spec.config, model, spec.optimizer)
    parallel.start()
    diverged: DivergenceError | None = None
    with parallel.watched(), stop_signals() as stop:
        try:
            history = _fit(spec, resume, objects, list(spec.callbacks), parallel)
        except DivergenceError as err:
            history, diverged = err.history, err
        _test_scores(model, spec.loss, dataset, parallel, None)
    if diverged is not None:
        raise diverged
    return RunResult(None, history, {}, stop.received.name if stop.received is not None else None)


def _fit(spec: RunSpec, resume: Path | None, objects: tuple[Dataset, Sequential, Any], callbacks: list[Callback],
         parallel: DataParallel | None) -> History:
    """``fit`` as the config says, in every process of a run: ``objects`` are the data, the network and the class
    weights by class index; ``callbacks``: the config's, and process 0's own (checkpoints, files, progress)."""
    config = spec.config
    dataset, model, class_weight = objects
    training = {key: config["training"][key] for key in TRAINING_KEYS} | {
        "class_weight": class_weight, "adversarial": adversarial_training(config["training"])}
    return fit(model, spec.loss, spec.optimizer, dataset.x_train, dataset.y_train,
               validation_split=config["data"]["validation_split"], seed=config["seed"], callbacks=callbacks,
               augment=augmentation(config["data"]),
               schedule=spec.schedule, verbose=0, resume=resume, sample_weight=dataset.w_train,
               communicator=parallel.communicator if parallel is not None else None, **training)


def _test_scores(model: Sequential, loss: Loss, dataset: Dataset, parallel: DataParallel | None,
                 kept: bool | None) -> dict[str, float] | None:
    """The kept model's loss and accuracy on the test set, or ``None`` (no test set, or no model kept). In a
    data-parallel run every process calls this: process 0 (``kept`` not ``None``) sends the kept weights to the
    others, and the rows are shared out between them."""
    if parallel is not None:
        share = kept and dataset.x_test is not None
        params = parallel.communicator.bcast(model.params if share else None, root=0)
        if params is None:
            return None
        for key, value in model.params.items():
            value[...] = params[key]
    elif not kept or dataset.x_test is None:
        return None
    return evaluate(model, loss, dataset.x_test, dataset.y_test, parallel=parallel)


def _train(spec: RunSpec, run_dir: Path, resume: Path | None, objects: tuple[Dataset, Sequential, Any],
           console: Console, started: float, parallel: DataParallel | None,
           mlflow_parent: str | None = None) -> RunResult:
    """Train in ``run_dir``; ``objects``: the data, the network and the class weights by class index."""
    config, loss = spec.config, spec.loss
    dataset, model, _ = objects
    extra = {"config": config, "classes": dataset.classes,
             "standardizer": dataset.standardizer.get_state() if dataset.standardizer is not None else None}
    output = config["output"]
    checkpoint = ModelCheckpoint(
        run_dir / LAST_FILE, best_path=run_dir / MODEL_FILE if output["keep"] == "best" else None,
        monitor=output["monitor"], extra=extra, resume_hint=resume_command(run_dir, train_command(parallel)),
    )
    # Quiet runs still log one line per epoch (verbose=2: no bar); the console keeps them off the screen.
    progress = ProgressLogger(2 if console.quiet else 1, file=console, errors=console.errors)  # type: ignore[arg-type]
    callbacks = list(spec.callbacks)
    norms = next((c for c in callbacks if isinstance(c, GradientNorms)), None)
    loggers = run_loggers(config, run_dir, console, mlflow_parent)
    callbacks += [*loggers, checkpoint, RunFiles(run_dir, norms), progress]
    watching = contextlib.nullcontext()
    if parallel is not None:
        parallel.start()
        # says which process was lost, if one is
        watching = parallel.watched(run_dir, continue_hints(run_dir, train_command(parallel)))
    stopped: Stopped | None = None
    with watching, stop_signals(), _ended_for(loggers):  # the run's own signals: results are written whole
        try:
            history = _fit(spec, resume, objects, callbacks, parallel)
        except Stopped as err:  # a second signal stopped training at once; what it did is still written
            history, stopped = err.history, err
        except DivergenceError as err:
            console.to_log(f"error: {err}")  # the command line shows it
            kept = _finish(config, run_dir, err.history, (dataset, model, loss), callbacks, extra, started, parallel)
            _log_results(loggers, kept.metrics, run_dir)
            if kept.metrics["model_file"] is not None:
                console.to_log(f"kept     {run_dir / MODEL_FILE}: {kept.metrics['model']}")
                raise DivergenceError(f"{err}; {MODEL_FILE} holds that state: mlp evaluate {run_dir}",
                                      err.history) from None
            raise
        result = _finish(config, run_dir, history, (dataset, model, loss), callbacks, extra, started, parallel)
        _log_results(loggers, result.metrics, run_dir)
        _report(result.metrics, run_dir, console)
    if stopped is not None:
        result.stop_signal = stopped.signal.name
    return result


LOGGER_EXTRAS = {"tensorboard": ("tensorboard", "tensorboardX", None),
                 "mlflow": ("mlflow", "mlflow.tracking", "mlflow-skinny")}  # extra, module, package


def require_loggers(config: dict[str, Any]) -> None:
    """Raise ``MissingExtraError`` (one line: what to install) if a logger the config names is not installed: before
    the run folder is made, not as a warning during training."""
    for name in config["output"]["loggers"]:
        extra, module, package = LOGGER_EXTRAS[name]
        require(module, extra, f"output.loggers: {name}", package)


def run_loggers(config: dict[str, Any], run_dir: Path, console: Console,
                parent_run_id: str | None = None) -> list[Logger]:
    """The loggers ``output.loggers`` names, for the run in ``run_dir`` (only process 0 of a data-parallel run
    has a console, and so loggers); their warnings go to the console's stderr and log."""
    output = config["output"]
    loggers: list[Logger] = []

    def warn(line: str) -> None:
        console.echo(line, stderr=True)

    if "tensorboard" in output["loggers"]:
        tensorboard = output["tensorboard"]
        loggers.append(TensorBoardLogger(tensorboard["dir"] or run_dir / TENSORBOARD_DIR,
                                         tensorboard["histogram_every"], config=config, warn=warn))
    if "mlflow" in output["loggers"]:
        settings = output["mlflow"]
        loggers.append(MLflowLogger(settings["tracking_uri"] or default_tracking_uri(run_dir.parent),
                                    settings["experiment"] or config["name"], config=config, run_name=run_dir.name,
                                    parent_run_id=parent_run_id, warn=warn))
    for logger in loggers:
        logger.results_follow = True  # _log_results, once model.npz and the test metrics are written
    return loggers


@contextlib.contextmanager
def _ended_for(loggers: list[Logger]) -> Iterator[None]:
    """Within the block, an error that ends the run before its results were logged (a full disk while the files
    are written) still ends the loggers' runs, as ``failed``: none is left open (an MLflow run ``RUNNING``)."""
    try:
        yield
    except BaseException:
        for logger in loggers:
            logger.results("failed", None, [])
        raise


def _log_results(loggers: list[Logger], metrics: dict[str, Any], run_dir: Path) -> None:
    """Send how the run ended, its test metrics and its files (the kept model, the config, any PNG) to ``loggers``."""
    files = [run_dir / MODEL_FILE, run_dir / CONFIG_FILE, *sorted(run_dir.glob("*.png"))]
    for logger in loggers:
        logger.results(metrics["status"], metrics["test"], files)


def _kept_model(config: dict[str, Any], run_dir: Path, model: Sequential, history: History,
                callbacks: list[Callback], extra: dict[str, Any]) -> Checkpoint | None:
    """Write ``model.npz`` as the run's ending calls for, and read it back (``None``: there is no good state).

    - ``output.keep: best``: the best epoch's model, written during training (none if no epoch completed);
    - a finished or stopped run: the model as training left it (early stopping may have restored its best);
    - an interrupted run: the weights at the interruption if they were a consistent point, else ``last.npz``;
    - a diverged run: ``last.npz``, the last good state (none if no epoch completed).
    """
    ending = history.ending
    model_path, last_path = run_dir / MODEL_FILE, run_dir / LAST_FILE
    if config["output"]["keep"] == "best":
        return restore(model_path, model) if model_path.exists() else None
    if ending.status == "diverged" or (ending.status == "interrupted" and not ending.resumable):
        if not last_path.exists():
            return None
        epoch = restore(last_path, model).position.epoch
        save_model(model_path, model, epoch=epoch, history=History(history.records[:epoch]), extra=extra)
    else:
        save_model(model_path, model, epoch=len(history), history=history, extra=extra)
    return restore(model_path, model)


def _which_model(config: dict[str, Any], kept: Checkpoint, callbacks: list[Callback], history: History) -> str:
    """Say which weights ``model.npz`` (read back as ``kept``) holds."""
    ending = history.ending
    if config["output"]["keep"] == "best":
        monitor, value = next(iter(kept.extra.get("best", {config["output"]["monitor"]: None}).items()))
        return f"best {monitor} ({value:.4f}) at epoch {kept.epoch}" if value is not None else "last epoch"
    if ending.status == "diverged":
        return f"epoch {kept.epoch}, the last before training diverged"
    stopper = next((c for c in callbacks if isinstance(c, EarlyStopping) and c.best_weights is not None), None)
    if stopper is not None and ending.status != "interrupted":
        return f"epoch {stopper.best_epoch}, best {stopper.monitor.name} (restored by early stopping)"
    if ending.status == "interrupted":
        if not ending.resumable:
            return f"epoch {kept.epoch}, the last saved before the interruption"
        return f"the weights when interrupted, during epoch {len(history) + 1}"
    return f"epoch {len(history)} (last)"


def _finish(config: dict[str, Any], run_dir: Path, history: History, objects: tuple[Dataset, Sequential, Loss],
            callbacks: list[Callback], extra: dict[str, Any], started: float,
            parallel: DataParallel | None = None) -> RunResult:
    """``model.npz`` and ``metrics.json`` for however the run ended (``metrics["model_file"]`` is ``None`` if there
    is no model to keep: training diverged, or was stopped at once, before an epoch was saved)."""
    dataset, model, loss = objects
    ending = history.ending
    kept = _kept_model(config, run_dir, model, history, callbacks, extra)
    metrics: dict[str, Any] = {
        "name": config["name"],
        "status": ending.status,
        "reason": ending.reason,
        "model_file": MODEL_FILE if kept is not None else None,
        "model": _which_model(config, kept, callbacks, history) if kept is not None else None,
        "epochs": len(history),
        "interrupted": ending.status == "interrupted",
        "final_epoch": history.records[-1] if history.records else None,
        "test": _test_scores(model, loss, dataset, parallel, kept is not None),
        "training_seconds": round(sum(history["time"]) if history.records else 0.0, 3),
        "wall_seconds": round(time.perf_counter() - started, 3),
        "data": dataset.fingerprint().as_dict(),
        "versions": _versions(),
        "finished": datetime.now().isoformat(timespec="seconds"),
    }
    write_text(run_dir / METRICS_FILE, json.dumps(metrics, indent=1))
    return RunResult(run_dir, history, metrics)


def _report(metrics: dict[str, Any], run_dir: Path, console: Console) -> None:
    test = metrics["test"]
    if test is not None:
        scores = "  ".join(f"{k} {v:.4f}" for k, v in test.items())
        console.echo(f"test     {scores}  ({MODEL_FILE}: {metrics['model']})")
    epochs = plural(metrics["epochs"], "epoch")
    console.echo(f"time     {metrics['training_seconds']:.1f} s training, {epochs}")
    if metrics["interrupted"]:  # how to resume was said once, with what was saved (ModelCheckpoint)
        console.echo(f"stopped  after {epochs}")
    console.echo(f"saved    {run_dir}")
    if console.quiet and console.result_line and test is not None:  # the one line a quiet run prints
        print(f"{run_dir}  test {scores}")
