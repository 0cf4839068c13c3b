"""The ``mlp`` command line: one module per command, ``mlp/cli/<name>.py`` defining the click command (or
group) ``<name>``; every such module here is found and added to the ``main`` group, so a new command is one
new module. Commands parse options and print; the library does the work, and no command imports another's
module (what they share is in ``mlp.cli.common``)."""

from __future__ import annotations

import importlib
import os
import pkgutil

import click

from mlp import __version__, settings
from mlp.cli.common import USAGE_ERROR, ErrorReportingGroup, debug_option
from mlp.train.interrupts import command_signals


def _set_blas(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """``--blas``: the command's BLAS setting, as ``MLP_BLAS`` (the processes it starts read it too)."""
    if value is not None:
        from mlp.native import blas  # here: `mlp --help` loads no native code

        os.environ[settings.BLAS_VARIABLE] = value
        blas.use(None)  # the variable decides, from the next product on


def _print_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """``--version``: the version, and the BLAS library the training step's products use (``mlp.native.blas``)."""
    if not value or ctx.resilient_parsing:
        return
    from mlp.native import blas  # here: loading MKL is for the commands that use it

    try:
        used = blas.describe()
    except ValueError as err:  # MLP_BLAS names no BLAS: one line, as the commands say it
        click.echo(f"error: {err}", err=True)
        ctx.exit(USAGE_ERROR)
    click.echo(f"mlp, version {__version__}\nBLAS: {used}")
    ctx.exit()


@click.group(cls=ErrorReportingGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--blas", type=click.Choice(settings.BLAS.choices), is_eager=True, expose_value=False,
              callback=_set_blas, help=f"The BLAS of the matrix products (default: ${settings.BLAS_VARIABLE}, "
              "else auto: OpenBLAS; mkl: the mkl extra's MKL).")
@click.option("--version", is_flag=True, is_eager=True, expose_value=False, callback=_print_version,
              help="Show the version and the BLAS the training step uses, and exit.")
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
        main(prog_name="mlp")
