"""``mlp data``: download MNIST / Fashion-MNIST and show where each dataset would be loaded from."""

from __future__ import annotations

import os
from pathlib import Path

import click

from mlp.cli.common import debug_option
from mlp.data import GENERATORS
from mlp.data.mnist import (
    FASHION_MNIST,
    MNIST,
    IdxDatasetSpec,
    cache_dir,
    download_idx_dataset,
    find_files,
    load_idx_dataset,
    missing_files,
)

SPECS = {spec.name: spec for spec in (MNIST, FASHION_MNIST)}


@click.group()
def data() -> None:
    """Download datasets and show where they are found."""


@data.command()
@click.argument("name", type=click.Choice(list(SPECS)), default="mnist")
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
    spec = SPECS[name]
    dest = directory if directory is not None else cache_dir() / name
    fetched = download_idx_dataset(spec, dest)
    dataset = load_idx_dataset(spec, dest, strict=True)
    click.echo(f"{name}: downloaded {', '.join(fetched)}" if fetched else f"{name}: already there, nothing downloaded")
    # Fetched files passed the MD5 of the download; files found in place only the MD5 of their content, if published
    checked = len(fetched) == len(spec.files) or all(f.raw_md5 for f in spec.files.values())
    click.echo(f"{name}: {len(dataset.x_train):,} training and {len(dataset.x_test):,} test images in {dest} "
               f"({'verified' if checked else 'not verified: no published MD5 of the files found in place'})")


def _where(spec: IdxDatasetSpec) -> str:
    """Where ``load_idx_dataset(spec)`` would read from now, without downloading (no MD5 check)."""
    env = os.environ.get("MLP_DATA_DIR")
    if env:  # an incomplete MLP_DATA_DIR is an error, not a reason to look further
        if find_files(spec, Path(env)):
            return f"MLP_DATA_DIR {env} (complete)"
        return f"MLP_DATA_DIR {env}: incomplete, loading fails (missing: {missing_files(spec, Path(env))})"
    cache = cache_dir() / spec.name
    if find_files(spec, cache):
        return f"cache {cache} (complete)"
    fallback = " (or fall back to the bundled sample)" if spec.sample else ""
    return f"not found: would download from {spec.mirrors[0]}{fallback}"


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
    rows = {name: _where(spec) for name, spec in SPECS.items()}
    rows["cache"] = str(cache_dir())
    rows["MLP_DATA_DIR"] = os.environ.get("MLP_DATA_DIR") or "(not set)"
    rows["also"] = f"csv and npz files; synthetic: {', '.join(GENERATORS)}"
    width = max(map(len, rows)) + 2
    for label, value in rows.items():
        click.echo(f"{label:<{width}}{value}")
