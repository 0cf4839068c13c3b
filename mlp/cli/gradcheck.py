"""``mlp gradcheck``: check the configured network's backprop against numerical differentiation."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from mlp.cli.common import config_argument, debug_option, override_option
from mlp.nn.gradcheck import EPS, check_model, randomize_biases
from mlp.runs.build import build_model, load_data
from mlp.runs.config import read, resolve_spec


@click.command(short_help="Check the network's backprop against numerical gradients.")
@config_argument
@override_option
@click.option("--rows", type=click.IntRange(min=1), default=8, show_default=True,
              help="Training rows in the checked batch.")
@click.option("--max-entries", type=click.IntRange(min=1), default=200, show_default=True,
              help="Entries checked per parameter array (a random subset of larger ones).")
@debug_option
@click.pass_context
def gradcheck(ctx: click.Context, config_file: Path | None, overrides: tuple[str, ...], rows: int,
              max_entries: int) -> None:
    """Check the gradients of CONFIG.yaml's network (default: the default run's).

    Builds the network in float64 with small random biases (so that no unit sits exactly on a
    ReLU kink), takes ROWS rows of the training data, and compares backprop's gradient of every
    parameter array and of the input with centered differences (eps 1e-4): the max relative error
    of each must be below 1e-6. Dropout masks are held fixed. Exit code 1 if any array fails.

    \b
    Examples:
      mlp gradcheck                                   # the default run's 784-512-10
      mlp gradcheck spirals
      mlp gradcheck mnist_best --rows 4 --max-entries 50
    """
    spec = resolve_spec(read(config_file, overrides))
    config = spec.config
    dataset = load_data(config["data"], config["seed"])
    model, loss = build_model(spec, dataset, dtype=np.float64), spec.loss  # float64 whatever the config says
    randomize_biases(model, np.random.default_rng(config["seed"]))
    labels = {"input": "the data"} | {f"{i}.{p}": repr(layer) for i, layer in enumerate(model) for p in layer.params}
    click.echo(f"gradient check of {config['name']}: {rows} rows of {dataset.name} ({dataset.source}), float64, "
               f"eps {EPS:g}, up to {max_entries} entries per array")
    result = check_model(model, loss, dataset.x_train[:rows], dataset.y_train[:rows], max_entries=max_entries,
                         seed=config["seed"])
    for line in result.lines(labels):
        click.echo(line)
    if not result.passed:
        ctx.exit(1)
