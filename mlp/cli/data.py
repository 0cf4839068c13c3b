"""``mlp data``: download datasets that can be downloaded, and show where each dataset would be loaded from."""

from __future__ import annotations

import os
from pathlib import Path

import click

from mlp.cli.common import debug_option
from mlp.data import DATASETS, cache_dir


def _downloadable() -> list[str]:
    return [name for name, source in DATASETS.items() if source.download is not None]


@click.group()
def data() -> None:
    """Download datasets and show where they are found."""


@data.command()
@click.argument("name", type=click.Choice(_downloadable()), default="mnist")
@click.option("--dir", "directory", metavar="DIR", type=click.Path(file_okay=False, path_type=Path),
              help="Download into DIR instead of the cache.")
@debug_option
def download(name: str, directory: Path | None) -> None:
    """Download MNIST or Fashion-MNIST into the cache.

    Fetches the four files that are not there yet (MD5-verified, written atomically), then loads them
    to prove the set is complete; MNIST's content is checked against its published MD5s too.

    \b
    Examples:
      mlp data download                      # MNIST into ~/.cache/mlp/mnist
      mlp data download fashion-mnist
      mlp data download --dir data/mnist     # then: export MLP_DATA_DIR=data/mnist
    """
    for line in DATASETS.get(name).download(directory):  # type: ignore[misc]
        click.echo(line)


@data.command()
@debug_option
def info() -> None:
    """Show where each dataset would be loaded from.

    Nothing is downloaded or hashed: this only looks at which files are there.

    \b
    Examples:
      mlp data info
      MLP_DATA_DIR=data/mnist mlp data info
    """
    rows = {name: source.locate() for name, source in DATASETS.items() if source.locate is not None}
    rows["cache"] = str(cache_dir())
    rows["MLP_DATA_DIR"] = os.environ.get("MLP_DATA_DIR") or "(not set)"
    files = [name for name, source in DATASETS.items() if source.file_type is not None]
    others = [name for name, source in DATASETS.items() if source.locate is None and source.file_type is None]
    rows["also"] = f"{' and '.join(files)} files; synthetic: {', '.join(others)}"
    width = max(map(len, rows)) + 2
    for label, value in rows.items():
        click.echo(f"{label:<{width}}{value}")
