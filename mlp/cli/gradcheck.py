"""``mlp gradcheck``: check the configured network's backprop against numerical differentiation."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from mlp.builders import build_loss, build_model, load_data
from mlp.cli.common import debug_option
from mlp.cli.train import config_argument, override_option, read_config
from mlp.gradcheck import EPS, check_model, randomize_biases


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
      mlp gradcheck configs/spirals.yaml
      mlp gradcheck configs/mnist_best.yaml --rows 4 --max-entries 50
    """
    config = read_config(config_file, overrides, model_dtype=(["model", "dtype"], "float64"))
    dataset = load_data(config)
    model, loss = build_model(config, dataset), build_loss(config)
    randomize_biases(model, np.random.default_rng(config["seed"]))
    names = {"input": "the data"} | {f"{i}.{p}": repr(layer) for i, layer in enumerate(model) for p in layer.params}
    click.echo(f"gradient check of {config['name']}: {rows} rows of {dataset.name} ({dataset.source}), float64, "
               f"eps {EPS:g}, up to {max_entries} entries per array")
    result = check_model(model, loss, dataset.x_train[:rows], dataset.y_train[:rows], max_entries=max_entries,
                         seed=config["seed"])
    width = max(len(f"{key}  {name}") for key, name in names.items())
    for key, error in result.errors.items():
        label = f"{key}  {names[key]}"
        click.echo(f"{label:<{width}}  max rel error {error:.2e}  {'ok' if error < result.tol else 'FAIL'}")
    click.echo(f"{'passed' if result.passed else 'FAILED'} (tolerance {result.tol:.0e})")
    if not result.passed:
        ctx.exit(1)
