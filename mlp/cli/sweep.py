"""``mlp sweep``: many short runs of one config over a search space drawn by Optuna, on local processes or a Dask
cluster."""

from __future__ import annotations

import math
import os
import re
import sys
import time
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from mlp.cli.common import INTERRUPTED, debug_option
from mlp.messages import plural
from mlp.runs.outputs import check_not_input, check_output_folder
from mlp.runs.sweep import (
    BEST_FILE,
    DB_FILE,
    RANKED,
    RESULTS_FILE,
    STOP_WAIT_SECONDS,
    SWEEP_FILE,
    Stop,
    Sweep,
    dask_pool,
    local_pool,
    progress,
    results_table,
    run_waves,
    start,
    write_results,
)
from mlp.train.interrupts import exit_code, stop_signals

TABLE_ROWS = 20  # the best rows printed; results.csv has them all
WORKERS_TIMEOUT = 60.0  # seconds --scheduler waits for a first Dask worker
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration(text: str) -> float:
    """Seconds of a duration such as ``90``, ``90s``, ``30m``, ``1.5h`` or ``2d``; ``click.BadParameter`` if it is
    not one."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*([smhd]?)\s*", text)
    seconds = float(match[1]) * UNITS[match[2] or "s"] if match else math.nan
    if not seconds > 0 or not math.isfinite(seconds):
        raise click.BadParameter(f"{text!r} is not a duration; give e.g. 90s, 30m, 2h or 1d")
    return seconds


class Duration(click.ParamType):
    name = "DURATION"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        return value if isinstance(value, float) else duration(str(value))


@click.command()
@click.argument("sweep_file", metavar="SWEEP.yaml", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="The sweep folder (default: sweeps/<the file's name>). Running again in it resumes the sweep.")
@click.option("--jobs", type=click.IntRange(min=1), help="Local worker processes (default: the cores).")
@click.option("--scheduler", metavar="tcp://HOST:PORT|local:N",
              help="Run the trials on a Dask cluster: a running scheduler, or a local one of N worker processes "
                   "(the dask extra).")
@click.option("--storage", metavar="URL",
              help=f"The database of the study, an SQLAlchemy URL such as postgresql://user@host/db (default: "
                   f"SWEEP_DIR/{DB_FILE}, SQLite).")
@click.option("--timeout", type=Duration(),
              help="A time budget for the whole sweep (90s, 30m, 2h): no new wave of trials starts after it; the "
                   "same command continues the sweep.")
@click.option("--worker-timeout", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help=f"With --scheduler: how long to wait for a Dask worker to join (default: {WORKERS_TIMEOUT:g}).")
@debug_option
@click.pass_context
def sweep(ctx: click.Context, sweep_file: Path, out: Path | None, jobs: int | None, scheduler: str | None,
          storage: str | None, timeout: float | None, worker_timeout: float | None) -> None:
    """Train the trials of SWEEP.yaml: a base config and a space of values for its keys, searched by Optuna.

    \b
    SWEEP.yaml:
      base: mnist_fast                      # a recipe, a config file, or an inline mapping
      space:
        optimizer.lr: {log_uniform: [1.0e-3, 1.0e-1]}
        model.layers.0.dense: {int_uniform: [64, 1024]}
        training.batch_size: [64, 128]      # a list: the values to choose from
      method: tpe                           # grid, random, tpe or cmaes
      trials: 24                            # a grid: every combination by default
      pruner: median                        # none, median or hyperband
      parallel: 4                           # trials proposed at a time
      seed: 0
      metric: val_loss                      # default: the base's output.monitor

    Every value is checked before any trial runs. The study is kept in SWEEP_DIR/sweep.db (or --storage):
    optuna-dashboard shows it. Each trial is a run directory under SWEEP_DIR/trials/ (mlp evaluate, mlp plot and
    --resume work on it), seeded from the sweep's seed and its number; trials are proposed `parallel` at a time
    and pruned against earlier waves only, so the results are the same on any backend. SWEEP_DIR gets results.csv
    (best first) and best.yaml. One sweep at a time runs in a folder. Ctrl-C stops the running trials at their
    next batch, on local processes or Dask workers; the same command resumes the sweep. `mlp plot SWEEP_DIR` draws
    it.

    \b
    Examples:
      mlp sweep lr_width.yaml --jobs 2
      mlp sweep lr_width.yaml --scheduler local:2 --timeout 2h
      mlp sweep lr_width.yaml --scheduler tcp://10.0.0.5:8786 --storage postgresql://me@db/sweeps
    """
    began = time.monotonic()
    if jobs is not None and scheduler is not None:
        raise click.UsageError("give --jobs (local processes) or --scheduler (Dask), not both")
    if worker_timeout is not None and scheduler is None:
        raise click.UsageError("--worker-timeout is how long --scheduler waits for a Dask worker; give it with "
                               "--scheduler")
    folder = out if out is not None else Path("sweeps") / sweep_file.stem
    check_output_folder(folder, "--out", runs=False)
    for name in (SWEEP_FILE, RESULTS_FILE, BEST_FILE, DB_FILE):
        check_not_input(folder / name, [sweep_file], "--out")
    with start(sweep_file, folder, storage) as plan:
        done = progress(plan)
        workers = jobs or os.cpu_count() or 1
        where = f"Dask at {scheduler}" if scheduler else f"{workers} local process{'es' * (workers > 1)}"
        click.echo(f"sweep    {plan.trials} trials ({plan.method}, {plan.parallel} at a time) -> {folder}, ranked "
                   f"by {plan.metric}; {done} done, {plan.trials - done} to run on {where}")
        # A stop signal is recorded, not raised: the sweep then stops its trials at their next batch and reports
        # them. A second one stops at once (KeyboardInterrupt), still telling the trials to stop.
        with stop_signals() as signals, signals.at_once(), tqdm(
                total=plan.trials, initial=done, unit="trial", file=sys.stderr, disable=not sys.stderr.isatty()) as bar:
            stop = Stop(lambda: signals.received is not None)
            pool: AbstractContextManager = (
                dask_pool(scheduler, stop, worker_timeout or WORKERS_TIMEOUT,
                          lambda line: bar.write(line, file=sys.stderr)) if scheduler else local_pool(workers))
            with pool as submit:
                deadline = began + timeout if timeout is not None else math.inf
                for outcome in run_waves(plan, submit, stop, deadline) if submit is not None else ():
                    bar.write(_trial_line(plan, outcome.index, outcome.values, outcome.result), file=sys.stdout)
                    bar.update()
        rows = results_table(plan, plan.study.get_trials(deepcopy=False))
        write_results(plan, rows)
    if rows:
        _print_table(plan, rows)
    best = bool(rows) and rows[0]["status"] in RANKED and rows[0][plan.metric] is not None
    click.echo(f"saved    {folder / RESULTS_FILE}" + (f", {folder / BEST_FILE}" if best else ""))
    again = [f"--out {folder}", *([f"--jobs {jobs}"] if jobs else []),
             *([f"--scheduler {scheduler}"] if scheduler else []), *([f"--storage {storage}"] if storage else []),
             *([f"--worker-timeout {worker_timeout:g}"] if worker_timeout else [])]
    if stop.stopped:
        if stop.late:
            click.echo(f"stopping trials {', '.join(map(str, stop.late))} did not say they stopped within "
                       f"{STOP_WAIT_SECONDS:g} s; they stop at their next batch")
        click.echo(f"stopped  the running trials stopped at their next batch, where they resume; continue with: "
                   f"mlp sweep {sweep_file} {' '.join(again)}")
        ctx.exit(exit_code(signals.received.name) if signals.received is not None else INTERRUPTED)
    left = plan.trials - progress(plan)
    if plan.timed_out:
        click.echo(f"timeout  the {_seconds(timeout)} budget ran out with {left} trials not proposed; continue with: "
                   f"mlp sweep {sweep_file} {' '.join(again)}")
    elif left:
        click.echo(f"left     {left} trials did not finish (their status says why); they run when the sweep runs "
                   f"again: mlp sweep {sweep_file} {' '.join(again)}")


def _seconds(seconds: float | None) -> str:
    return f"{seconds:g} s" if seconds is not None else ""


def _values(values: dict[str, Any]) -> str:
    return "  ".join(f"{key}={_number(value)}" for key, value in values.items())


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _trial_line(plan: Sweep, index: int, values: dict[str, Any], result: dict[str, Any]) -> str:
    score = f"{plan.metric} {result['metric']:.4f}" if result["metric"] is not None else result["message"]
    test = "  ".join(f"test_{k} {v:.4f}" for k, v in (result.get("test") or {}).items())
    return (f"trial {index:<3} {_values(values)}  {score}  {test}  ({result['status']}, "
            f"{plural(result['epochs'], 'epoch')})").replace("  ()", "")


def _print_table(plan: Sweep, rows: list[dict[str, Any]]) -> None:
    columns = ["trial", *(p.path for p in plan.space), plan.metric, *(k for k in rows[0] if k.startswith("test_")),
               "status"]
    shown = [[_number(row.get(column, "")) if row.get(column) is not None else "-" for column in columns]
             for row in rows[:TABLE_ROWS]]
    widths = [max(len(str(c)), *(len(r[i]) for r in shown)) for i, c in enumerate(columns)]
    click.echo("  ".join(f"{c:<{w}}" for c, w in zip(columns, widths, strict=True)).rstrip())
    for row in shown:
        click.echo("  ".join(f"{v:<{w}}" for v, w in zip(row, widths, strict=True)).rstrip())
    if len(rows) > TABLE_ROWS:
        click.echo(f"... {len(rows) - TABLE_ROWS} more in {RESULTS_FILE}")
