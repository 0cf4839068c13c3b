"""``mlp config show`` and ``mlp config validate``: what a config means, and whether it is usable."""

from __future__ import annotations

from pathlib import Path

import click

from mlp.cli.common import config_argument, debug_option, override_option
from mlp.config import read, resolve
from mlp.yamlfile import to_yaml


@click.group()
def config() -> None:
    """Show or check a run config (YAML)."""


@config.command()
@config_argument
@override_option
@debug_option
def show(config_file: Path | None, overrides: tuple[str, ...]) -> None:
    """Print the fully resolved config: every setting, with the defaults filled in.

    Without CONFIG.yaml it shows the default run (what `mlp train` does with no config).

    \b
    Examples:
      mlp config show                              # the default run
      mlp config show configs/keras_example.yaml
      mlp config show configs/mnist.yaml --set optimizer.name=adam
    """
    resolved = resolve(read(config_file, overrides))
    source = config_file or "the default run"
    click.echo(f"# {source}, resolved by mlp config show\n{to_yaml(resolved)}", nl=False)


@config.command()
@config_argument
@override_option
@debug_option
def validate(config_file: Path | None, overrides: tuple[str, ...]) -> None:
    """Check a config without training: keys, types, values, and that the loss fits the last layer.

    Prints one line and exits 0 when the config is valid, or the first problem and exit code 2.

    \b
    Examples:
      mlp config validate configs/spirals.yaml
      mlp config validate my_run.yaml --set training.batch_size=0
    """
    resolved = resolve(read(config_file, overrides))
    widths = "-".join(str(layer["dense"]) for layer in resolved["model"]["layers"] if "dense" in layer)
    click.echo(f"{config_file or 'the default run'}: valid ({resolved['data']['dataset']}, layers {widths}, "
               f"{resolved['loss']}, {resolved['optimizer']['name']}, {resolved['training']['epochs']} epochs)")
