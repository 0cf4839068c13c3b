"""The ``mlp`` command line: one module per command, registered on the ``main`` group here."""

from __future__ import annotations

import click

from mlp import __version__
from mlp.cli.common import ErrorReportingGroup, debug_option
from mlp.cli.config import config
from mlp.cli.data import data
from mlp.cli.evaluate import evaluate
from mlp.cli.gradcheck import gradcheck
from mlp.cli.plot import plot
from mlp.cli.predict import predict
from mlp.cli.train import train


@click.group(cls=ErrorReportingGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mlp")
@debug_option
def main() -> None:
    """Train multilayer perceptrons with explicit backprop, in pure NumPy.

    \b
    Start with:
      mlp train                          # 784-512-10 on MNIST, momentum SGD, 20 epochs
      mlp train configs/spirals.yaml     # a config of your own; seconds, offline
      mlp COMMAND --help                 # options and examples of each command
    """


for command in (train, evaluate, predict, config, gradcheck, data, plot):
    main.add_command(command)
