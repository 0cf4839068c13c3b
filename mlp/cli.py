"""The ``mlp`` command line (its subcommands arrive with the training and config work)."""

from __future__ import annotations

import click

from mlp import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mlp")
def main() -> None:
    """Train multilayer perceptrons with explicit backprop, in pure NumPy."""
