"""Where a command may write: never over a file ``mlp`` wrote into a run directory or a sweep folder, never over
the command's own input, and never a new run inside an existing run.

Every command that writes a file a user names (``export -o``, ``predict --out``, ``plot --out``, ``config init
--out``) asks ``check_output`` first; ``mlp train`` (``output.dir``, ``--out``) and ``mlp sweep --out`` ask
``check_output_folder`` about the folder they are given. Paths are compared after symlinks and ``..`` are
resolved, so ``runs/latest/model.npz`` and ``runs/x/../x/model.npz`` are the file they lead to. A refusal is one
line (``OutputError``, a ``ValueError``) naming the path, what it belongs to and what to give instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from mlp.files.lock import LOCK_FILE
from mlp.runs.folder import (
    BEST_FILE,
    CONFIG_FILE,
    HISTORY_CSV,
    HISTORY_JSON,
    LAST_FILE,
    LOG_FILE,
    METRICS_FILE,
    MODEL_FILE,
    NORMS_CSV,
    NORMS_JSON,
    RESULTS_FILE,
    SWEEP_FILE,
    TRIAL_FILE,
    is_sweep,
)

# The files mlp train (and a sweep, for its trials) writes into a run directory, and mlp sweep into its folder.
RUN_FILES = frozenset({CONFIG_FILE, LOG_FILE, LAST_FILE, MODEL_FILE, HISTORY_CSV, HISTORY_JSON, METRICS_FILE,
                       NORMS_CSV, NORMS_JSON, TRIAL_FILE, LOCK_FILE})
SWEEP_FILES = frozenset({SWEEP_FILE, RESULTS_FILE, BEST_FILE, LOCK_FILE})
# What only a run directory holds beside its config.yaml (a user's project folder may have a config.yaml too).
_RUN_MARKS = (LOG_FILE, LAST_FILE, MODEL_FILE, METRICS_FILE, LOCK_FILE)


class OutputError(ValueError):
    """A path a command was told to write to would overwrite a run's or a sweep's file, or the command's input."""


def is_run_dir(folder: Path) -> bool:
    """Whether ``folder`` is a run directory ``mlp train`` (or a sweep, for a trial) wrote: its ``config.yaml``
    and at least one of the files only a run writes."""
    return (folder / CONFIG_FILE).is_file() and any((folder / name).exists() for name in _RUN_MARKS)


def check_output(path: Path, inputs: Iterable[Path] = (), option: str = "--out") -> None:
    """Refuse ``path`` as the file a command writes (given as ``option``) if it is, once resolved, one of the
    command's ``inputs`` or a file ``mlp`` writes into a run directory or a sweep folder (whether it exists
    yet or not: a running training writes ``metrics.json`` last)."""
    check_not_input(path, inputs, option)
    target = Path(path).resolve()
    folder = target.parent
    if target.name in RUN_FILES and is_run_dir(folder):
        raise OutputError(f"{option} {path} would overwrite {target.name} of the run directory {folder}, which "
                          f"`mlp train` wrote; write to a file of another name, or outside it")
    if target.name in SWEEP_FILES and is_sweep(folder):
        raise OutputError(f"{option} {path} would overwrite {target.name} of the sweep folder {folder}, which "
                          f"`mlp sweep` wrote; write to a file of another name, or outside it")


def check_not_input(path: Path, inputs: Iterable[Path], option: str = "--out") -> None:
    """Refuse ``path`` as a file a command writes if it is, once resolved, one of the command's ``inputs``."""
    target = Path(path).resolve()
    for given in inputs:
        if Path(given).resolve() == target:
            shown = "" if str(given) == str(path) else f" ({given})"
            raise OutputError(f"{option} {path} is this command's input{shown}; write to another file")


def check_output_folder(path: Path, option: str, runs: bool = True) -> None:
    """Refuse ``path`` as the folder a command creates its run directories in (``runs``: ``mlp train``'s
    ``output.dir``) or uses as a sweep folder (``mlp sweep --out``) if it is an existing run directory (a
    trial's included) or a folder inside one, or, for runs, a sweep folder: a new run never goes inside another's
    files."""
    folder = Path(path).resolve()
    where = "runs go in a folder of their own" if runs else "a sweep goes in a folder of its own"
    if is_run_dir(folder):
        raise OutputError(f"{option} {path} is a run directory; {where}, e.g. {folder.parent}")
    inside = next((parent for parent in folder.parents if is_run_dir(parent)), None)
    if inside is not None:  # e.g. a run's own config.yaml, read with its output.dir relative to the run's folder
        raise OutputError(f"{option} {path} is inside the run directory {inside}; {where}, e.g. {inside.parent}")
    if runs and is_sweep(folder):
        raise OutputError(f"{option} {path} is a sweep folder, whose trials `mlp sweep` writes; {where}, "
                          f"e.g. runs")
