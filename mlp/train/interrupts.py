"""Stop signals end training at the next batch boundary, never in the middle of a step.

Ctrl-C (SIGINT), ``kill`` or a cluster scheduler or container runtime (SIGTERM) and a closing terminal
(SIGHUP) all mean "stop". Delivered as an exception wherever it lands, a signal could cut an optimizer step
in half (some weights updated, others not) or a batch between its forward pass and its step, and no
checkpoint could then say where training stood. So while ``stop_signals()`` is active, the first such
signal only records itself; the training loop looks at ``received`` between batches and stops there, at a
point it can save and resume exactly. A second signal means "stop now": within ``at_once()`` blocks (the training
epochs; a sweep waiting for its trials) it raises ``Stopped`` (a ``KeyboardInterrupt``), once. Everywhere else in
the block, and after that, further signals are only recorded, so that what a run writes about how it ended is
written whole, a fraction of a second later. When the block ends with a signal received, the command is stopping:
one more signal ends the process at once, with that signal's exit code.

The ``mlp`` command handles stop signals from its first instant (``command_signals``): outside training, one
ends the command with one line and the shell's exit code for it (130, 143, 129), never a traceback; a second
one, or one after the command's work, ends the process at once.

Python runs signal handlers in the main thread only, so elsewhere (a worker thread) this does nothing.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


class Stopped(KeyboardInterrupt):
    """A stop signal that ends the work at once: ``signal`` names it, ``exit_code`` is the shell's code for it.
    ``history``: what training had done, where the signal stopped training (``mlp.train.loop.fit`` sets it)."""

    def __init__(self, signum: int, history: Any = None) -> None:
        self.signal = signal.Signals(signum)
        super().__init__(self.signal.name)
        self.history = history

    @property
    def exit_code(self) -> int:
        return exit_code(self.signal.name)


class StopRequests:
    """The first stop signal received while active (``received``, ``None`` until one is) and the latest one
    (``latest``)."""

    def __init__(self) -> None:
        self.received: signal.Signals | None = None
        self.latest: signal.Signals | None = None
        self._raised = False
        self._at_once = False

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.latest = signal.Signals(signum)
        if self.received is None:
            self.received = self.latest
        elif self._at_once and not self._raised:
            self._raised = True
            raise Stopped(signum)  # the second signal: stop at once

    @contextmanager
    def at_once(self) -> Iterator[None]:
        """Within the block, a second signal raises ``Stopped`` where it lands: work that the caller's handler of
        ``Stopped`` can end at any instant (training, whose checkpoint is its state at the last step)."""
        self._at_once = True
        try:
            yield
        finally:
            self._at_once = False


_active: StopRequests | None = None
_command: _CommandStop | None = None  # the command's handler outside stop_signals blocks (command_signals)


def exit_code(name: str) -> int:
    """The shell's exit code for a process ended by the signal ``name``: 128 + its number (SIGINT 130,
    SIGTERM 143)."""
    return 128 + int(signal.Signals[name])


@contextmanager
def stop_signals() -> Iterator[StopRequests]:
    """Within the block, stop signals are recorded in the yielded ``StopRequests`` instead of acting.

    Nested blocks share the outermost one's record; the previous handlers come back when it ends.
    """
    global _active
    if _active is not None:
        yield _active
        return
    requests = StopRequests()
    with _handled(requests._handle):
        _active = requests
        try:
            yield requests
        finally:
            _active = None
            if requests.received is not None and _command is not None:
                _command.raised = True  # the command is stopping; set while this block's handler records signals


@contextmanager
def _handled(handler: Callable[[int, FrameType | None], None]) -> Iterator[None]:
    """Within the block, ``handler`` handles the stop signals (``_install``); the previous handlers come back
    afterwards."""
    previous = _install(handler)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old if old is not None else signal.SIG_DFL)


def _install(handler: Callable[[int, FrameType | None], None]) -> dict[int, Any]:
    """Make ``handler`` handle the stop signals (in the main thread: elsewhere Python runs no handlers, and nothing
    changes); return the handlers it replaced. A signal the process ignores stays ignored: `nohup` ignores SIGHUP
    so that training outlives the terminal."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {signum: signal.signal(signum, handler) for signum in STOP_SIGNALS
            if signal.getsignal(signum) is not signal.SIG_IGN}


def stopped_line(name: str) -> str:
    """What the command says when the stop signal ``name`` ended it."""
    return f"error: stopped by {name}; files written before are intact (every write is atomic)"


class _CommandStop:
    """The ``mlp`` command's handler outside training: the first signal raises ``Stopped`` where the command can
    catch it (``raising``, see ``command_work``), and elsewhere ends the process at once with ``stopped_line``;
    one more while the command stops (or once it has ended) ends the process at once, with that signal's exit
    code and no line."""

    def __init__(self) -> None:
        self.raised = False
        self.raising = 0

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.raised:
            os._exit(128 + signum)  # already stopping: nothing is left to tidy that is worth waiting for
        self.raised = True
        if not self.raising:
            os.write(2, f"{stopped_line(signal.Signals(signum).name)}\n".encode())
            os._exit(128 + signum)
        raise Stopped(signum)


@contextmanager
def command_signals() -> Iterator[None]:
    """For a whole command: a stop signal that lands in the command's work (``command_work``) outside
    ``stop_signals`` blocks (reading the config, loading data, evaluating) raises ``Stopped``, so the command can
    end with one line and the signal's exit code instead of a ``KeyboardInterrupt`` traceback (Ctrl-C) or no word
    at all (SIGTERM, SIGHUP).

    The block is the whole program (``mlp.cli.run``): its handler stays when the block ends, so that a signal
    while the process exits ends it at once, with the signal's exit code and no line (there is nothing left to
    stop, and nothing to tidy)."""
    global _command
    _command = _CommandStop()
    _install(_command._handle)
    try:
        yield
    finally:
        _command.raised = True


@contextmanager
def command_work() -> Iterator[None]:
    """Within the block (entered inside the ``try`` that handles ``Stopped``: reading the options, running the
    command), a first stop signal outside training raises ``Stopped``. Elsewhere in ``command_signals`` (click's
    start and end, the exit) it ends the process at once with one line: click would turn a ``KeyboardInterrupt``
    there into "Aborted!" and exit code 1."""
    if _command is None:
        yield
        return
    _command.raising += 1
    try:
        yield
    finally:
        _command.raising -= 1
