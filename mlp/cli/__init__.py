"""The ``mlp`` command line: one module per command, ``mlp/cli/<name>.py`` defining the click command (or
group) ``<name>``; every such module here is found and added to the ``main`` group, so a new command is one
new module. Commands parse options and print; the library does the work, and no command imports another's
module (what they share is in ``mlp.cli.common``)."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import click

from mlp import __version__
from mlp.cli.common import ErrorReportingGroup, debug_option, stopped
from mlp.train.interrupts import Stopped, command_signals


@click.group(cls=ErrorReportingGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mlp")
@debug_option
def main() -> None:
    """Train multilayer perceptrons with explicit backprop, in pure NumPy.

    \b
    Start with:
      mlp train                          # 784-512-10 on MNIST, momentum SGD, 20 epochs
      mlp train spirals                  # a shipped recipe (mlp config list); seconds, offline
      mlp COMMAND --help                 # options and examples of each command
    """


for _module in pkgutil.iter_modules(__path__):
    if _module.name != "common":
        main.add_command(getattr(importlib.import_module(f"{__name__}.{_module.name}"), _module.name))


def run() -> None:
    """``mlp`` as a program (``mlp.__main__``, the console script): ``main`` with the stop signals handled for the
    whole command (``mlp.train.interrupts.command_signals``), so that one ends it with one line and its exit code."""
    with command_signals():
        try:
            main(prog_name="mlp")
        except Stopped as err:  # outside click's own handling (none is expected): the same line
            sys.exit(stopped(err))
