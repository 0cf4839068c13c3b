"""``mlp plot``: the learning curves of a run as a PNG."""

from __future__ import annotations

from pathlib import Path

import click

from mlp.cli.common import debug_option
from mlp.history import History
from mlp.plots import plot_history

HISTORY_FILE = "history.json"  # what `mlp train` writes in a run directory (History.to_json)
DEFAULT_OUT = "learning_curves.png"


def find_history(run: Path) -> Path:
    """The ``history.json`` of a run directory, or ``run`` itself if it is a file."""
    if not run.exists():
        raise FileNotFoundError(
            f"{run} does not exist; give a run directory written by `mlp train` or its {HISTORY_FILE}"
        )
    if run.is_file():
        return run
    if not (run / HISTORY_FILE).is_file():
        raise FileNotFoundError(f"{run} has no {HISTORY_FILE}; is it a run directory written by `mlp train`?")
    return run / HISTORY_FILE


def read_history(path: Path) -> History:
    """``History.from_json(path)``, with errors that name the file."""
    try:
        history = History.from_json(path)
    except (ValueError, TypeError) as err:  # not JSON (json.JSONDecodeError), or not a list
        raise ValueError(f"{path} is not a training history (a JSON list of per-epoch records): {err}") from err
    if not all(isinstance(record, dict) for record in history.records):
        raise ValueError(f"{path} is not a training history: expected a JSON list of per-epoch records")
    if not history.records:
        raise ValueError(f"{path} has no epochs yet; nothing to plot")
    return history


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help=f"PNG file to write. [default: RUN_DIR/{DEFAULT_OUT}]")
@debug_option
def plot(run_dir: Path, out: Path | None) -> None:
    """Plot the learning curves of a run as a PNG.

    Loss and accuracy per epoch, training and validation, with the best validation loss marked (a
    regression run gets the loss panel only). RUN_DIR is a run directory written by `mlp train`, or
    its history.json. Needs matplotlib: pip install "mlp[plot]".

    \b
    Examples:
      mlp plot runs/mnist-20261121-101500
      mlp plot runs/mnist-20261121-101500/history.json --out curves.png
    """
    history_path = find_history(run_dir)
    out = out or history_path.parent / DEFAULT_OUT
    path = plot_history(read_history(history_path), out, title=history_path.parent.resolve().name)
    click.echo(f"wrote {path}")
