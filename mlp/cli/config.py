"""``mlp config show``, ``validate``, ``list`` and ``init``: what a config means, whether it is usable, and the
recipes shipped with ``mlp`` to start from."""

from __future__ import annotations

from pathlib import Path

import click

from mlp.cli.common import config_argument, debug_option, override_option
from mlp.files.yamlfile import to_yaml
from mlp.messages import plural
from mlp.runs.config import init_recipe, read, recipe_summary, recipes, resolve
from mlp.runs.outputs import check_output


@click.group()
def config() -> None:
    """Show or check a run config (YAML); list the shipped recipes, or start from one."""


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
      mlp config show keras_example
      mlp config show my_run.yaml --set optimizer.name=adam
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
      mlp config validate spirals
      mlp config validate my_run.yaml --set training.batch_size=0
    """
    resolved = resolve(read(config_file, overrides))
    widths = "-".join(str(layer["dense"]) for layer in resolved["model"]["layers"] if "dense" in layer)
    epochs = plural(resolved["training"]["epochs"], "epoch")
    click.echo(f"{config_file or 'the default run'}: valid ({resolved['data']['dataset']}, layers {widths}, "
               f"{resolved['loss']}, {resolved['optimizer']['name']}, {epochs})")


@config.command("list")
@debug_option
def list_recipes() -> None:
    """List the recipes shipped with mlp, one line each.

    Train one by its name (`mlp train spirals`), or start a config of your own from one
    (`mlp config init spirals`).

    \b
    Examples:
      mlp config list
      mlp config show mnist_fast             # every setting of one
    """
    width = max(map(len, recipes()))
    for name, path in recipes().items():
        click.echo(f"{name:<{width}}  {recipe_summary(path)}")


@config.command()
@click.argument("name")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="The file to write [default: NAME.yaml].")
@debug_option
def init(name: str, out: Path | None) -> None:
    """Write the recipe NAME to a file of your own, comments and all, to edit and train.

    Data files the recipe names by relative paths are copied beside it. An existing file is never
    overwritten.

    \b
    Examples:
      mlp config init spirals                 # writes spirals.yaml here
      mlp config init csv_example --out iris.yaml
      mlp train spirals.yaml --epochs 20
    """
    dest = out if out is not None else Path(f"{name}.yaml")
    check_output(dest, [recipes()[name]] if name in recipes() else [])
    for path in init_recipe(name, dest):
        click.echo(f"wrote {path}")
