"""``mlp train``: train from a YAML config (or the default run) into a new run directory."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from mlp.cli.common import (
    INTERRUPTED,
    SILENT_ERRORS,
    USAGE_ERROR,
    config_argument,
    debug_option,
    override_option,
)
from mlp.runs import run
from mlp.runs.config import ConfigError, read, resolve_spec
from mlp.runs.folder import LAST_FILE
from mlp.runs.trained import load_trained
from mlp.train.interrupts import Stopped, exit_code
from mlp.train.loop import DivergenceError
from mlp.train.parallel import ProcessLostError, StartupError, launcher_rank, mpi_world


@click.command(short_help="Train a network from a YAML config (or the default run).")
@config_argument
@override_option
@click.option("--epochs", type=click.IntRange(min=1), help="Train this many epochs (training.epochs).")
@click.option("--data-dir", type=click.Path(path_type=Path), help="Folder with the dataset's files (data.dir).")
@click.option("--out", type=click.Path(path_type=Path), help="Parent folder of the run directory (output.dir).")
@click.option("--seed", type=click.IntRange(min=0), help="Seed for weights, dropout, shuffling (seed).")
@click.option("--resume", type=click.Path(path_type=Path), metavar="RUN_DIR|CHECKPOINT",
              help="Continue a stopped run from its last.npz, in its own run directory (with --epochs: further).")
@click.option("--quiet", "-q", is_flag=True, help="Print only warnings, errors and the final result line.")
@click.option("--json", "as_json", is_flag=True,
              help="Print only the final metrics, as one JSON object (metrics.json's, with run_dir); implies --quiet.")
@debug_option
@click.pass_context
def train(ctx: click.Context, config_file: Path | None, overrides: tuple[str, ...], epochs: int | None,
          data_dir: Path | None, out: Path | None, seed: int | None, resume: Path | None, quiet: bool,
          as_json: bool) -> None:
    """Train a network from CONFIG.yaml (a file, or a shipped recipe's name), or the default run.

    The default run is the recipe mnist: 784-512 ReLU-10 softmax on MNIST, Nesterov momentum
    SGD, batch 128, 20 epochs, the last 20% of the training set for validation (>= 98% test
    accuracy). `mlp config show` prints every setting and its default; `mlp config list` the recipes.

    Each run writes OUT/<name>-<timestamp>/ (OUT/latest links to it): config.yaml, train.log,
    history.csv/.json, metrics.json, model.npz and last.npz (resume point). Ctrl-C, SIGTERM or SIGHUP stop at the next
    batch and save it; --resume continues exactly there (exit code 130, 143 or 129).

    Under `mpiexec -n K` (the mpi extra), K > 1 processes train data-parallel, bit-identical for every such K
    that divides training.micro_batches; process 0 writes the run directory and prints. Every process must resolve
    the same config and load the same data (metrics.json records its fingerprint): else all stop before training.

    \b
    Examples:
      mlp train                                        # the default run on MNIST
      mlp train keras_example                          # a shipped recipe: mlp config list
      mlp train spirals --epochs 50                    # seconds, offline
      mlp train my_run.yaml                            # a config of your own
      mlp train --set optimizer.name=adam --set optimizer.lr=0.001
      mlp train --data-dir ~/data/mnist --out runs
      mlp train --resume runs/latest --epochs 30
      mlp train spirals --json                         # the final metrics as JSON
      mpiexec -n 2 mlp train mnist                     # data-parallel, 2 processes
    """
    if launcher_rank() != 0:
        ctx.meta[SILENT_ERRORS] = True  # under mpiexec, process 0 says what went wrong, once
    world = mpi_world()  # started by mpiexec -n K: train data-parallel (mlp.train.parallel)
    checkpoint, base = None, None
    if resume is not None:
        if config_file is not None:
            raise ConfigError("give CONFIG.yaml or --resume, not both: a resumed run keeps its own config "
                              "(only --epochs and --data-dir change)")
        # The optimizer state, schedule and random state come back from the checkpoint; other changes
        # would be recorded in config.yaml without taking effect.
        changed = [option for option, value in (("--set", overrides), ("--seed", seed), ("--out", out)) if value]
        if changed:
            raise ConfigError(f"{changed[0]} cannot change a resumed run, which keeps its own config; "
                              f"only --epochs and --data-dir apply to --resume")
        stored = load_trained(resume, LAST_FILE)
        checkpoint, base = stored.path, stored.config
    spec = resolve_spec(read(config_file, overrides, base=base, options=[
        ("--epochs", ["training", "epochs"], epochs),
        ("--data-dir", ["data", "dir"], None if data_dir is None else str(data_dir)),
        ("--out", ["output", "dir"], None if out is None else str(out)),
        ("--seed", ["seed"], seed),
    ]))
    try:
        result = run.train(spec, resume=checkpoint, quiet=quiet or as_json, communicator=world,
                           result_line=not as_json)
    except (StartupError, DivergenceError):
        raise  # every process has it, and process 0 reports it
    except ProcessLostError:
        # Process 0's watcher says which process was lost, and how to continue. MPI_Abort would add a line of its
        # own, and MPI_Finalize at exit would wait for the lost process: end now (the launcher ends the others).
        sys.stdout.flush()
        os._exit(USAGE_ERROR)
    except BaseException as err:
        if world is None:
            raise
        # Once training started, a process that stops alone leaves the others waiting for it: it ends them all.
        code = (err.exit_code if isinstance(err, Stopped) else INTERRUPTED if isinstance(err, KeyboardInterrupt)
                else USAGE_ERROR)
        what = (f"lost the other processes (MPI: {err})" if type(err).__module__.startswith("mpi4py")
                else str(err) or type(err).__name__)
        click.echo(f"error: process {world.Get_rank()} of {world.Get_size()}: {what}; ending every process "
                   f"(files written before are intact)", err=True)
        world.Abort(code)
        ctx.exit(code)  # MPI_Abort may return before the launcher has ended the job
    if as_json and result.run_dir is not None:  # process 0's: the others write and print nothing
        click.echo(json.dumps({"run_dir": str(result.run_dir)} | result.metrics))
    if result.stop_signal is not None:  # the shell's code for a process its signal ended
        ctx.exit(exit_code(result.stop_signal))
    if result.ending.status == "interrupted":
        ctx.exit(INTERRUPTED)
