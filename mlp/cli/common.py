"""What every command shares: library errors reported as one line, and the ``--debug`` switch.

Errors a user can fix (a bad config, a missing file, data that does not fit) are ``ValueError``s or
``OSError``s inside the library; the group turns them into one line on stderr and exit code 2, or
the full traceback with ``--debug``. A diverging run exits with 1.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from mlp.train.interrupts import Stopped, command_work, stopped_line
from mlp.train.loop import DivergenceError

USAGE_ERROR = 2
INTERRUPTED = 130  # the shell's code for a process stopped by Ctrl-C
SILENT_ERRORS = "mlp.silent_errors"  # ctx.meta key: exit with the code, print nothing (mpiexec's other processes)


def stopped(err: KeyboardInterrupt) -> int:
    """Say in one line that a stop signal (or Ctrl-C) ended the command; return the shell's exit code for it."""
    click.echo(stopped_line(err.signal.name if isinstance(err, Stopped) else "SIGINT"), err=True)
    return err.exit_code if isinstance(err, Stopped) else INTERRUPTED


class ErrorReportingGroup(click.Group):
    """A click group that reports library errors as one line (``error: ...``) instead of a traceback."""

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        try:
            with command_work():
                return super().make_context(info_name, args, parent, **extra)
        except KeyboardInterrupt as err:  # while the options are read; click would say "Aborted!" and exit 1
            raise click.exceptions.Exit(stopped(err)) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with command_work():
                return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except BrokenPipeError:  # `mlp ... | head` closed the pipe: stop quietly, as Unix tools do
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            ctx.exit(1)
        except KeyboardInterrupt as err:  # a stop outside training, or a second one during it: stop at once
            if ctx.meta.get("mlp.debug"):
                raise
            ctx.exit(stopped(err))
        except (DivergenceError, ValueError, OSError) as err:
            if ctx.meta.get("mlp.debug"):
                raise
            if not ctx.meta.get(SILENT_ERRORS):
                click.echo(f"error: {err}", err=True)
            ctx.exit(1 if isinstance(err, DivergenceError) else USAGE_ERROR)


def _set_debug(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.meta["mlp.debug"] = True


debug_option = click.option(
    "--debug", is_flag=True, expose_value=False, is_eager=True, callback=_set_debug,
    help="Show the full traceback when something goes wrong.",
)


config_argument = click.argument(
    "config_file", metavar="[CONFIG.yaml]", required=False, type=click.Path(path_type=Path)
)
override_option = click.option(
    "--set", "overrides", multiple=True, metavar="KEY.PATH=VALUE",
    help="Override one config value (repeatable), e.g. --set optimizer.lr=0.05 --set model.layers.0.dense=256.",
)
