"""Stop signals end training at the next batch boundary, never in the middle of a step.

Ctrl-C (SIGINT), ``kill`` or a cluster scheduler or container runtime (SIGTERM) and a closing terminal
(SIGHUP) all mean "stop". Delivered as an exception wherever it lands, a signal could cut an optimizer step
in half (some weights updated, others not) or a batch between its forward pass and its step, and no
checkpoint could then say where training stood. So while ``stop_signals()`` is active, the first such
signal only records itself; the training loop looks at ``received`` between batches and stops there, at a
point it can save and resume exactly. A second signal means "stop now": it raises ``Stopped`` (a
``KeyboardInterrupt``) once; within ``finishing()`` blocks (where the results are written) and after that, further
signals are only recorded, so that what a run writes about how it ended is written whole.

The ``mlp`` command handles stop signals from its first instant (``command_signals``): outside training, one
ends the command with one line and the shell's exit code for it (130, 143, 129), never a traceback.

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
        self._finishing = 0

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.latest = signal.Signals(signum)
        if self.received is None:
            self.received = self.latest
        elif not self._raised and not self._finishing:
            self._raised = True
            raise Stopped(signum)  # the second signal: stop at once

    @contextmanager
    def finishing(self) -> Iterator[None]:
        """Within the block (writing what a stopped run ends with), further signals are recorded, not raised:
        the files come out whole and in agreement, a fraction of a second later."""
        self._finishing += 1
        try:
            yield
        finally:
            self._finishing -= 1


_active: StopRequests | None = None


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


@contextmanager
def _handled(handler: Callable[[int, FrameType | None], None]) -> Iterator[None]:
    """Within the block, ``handler`` handles the stop signals (in the main thread: elsewhere Python runs no
    handlers, and nothing changes); the previous handlers come back afterwards. A signal the process ignores
    stays ignored: `nohup` ignores SIGHUP so that training outlives the terminal."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, handler) for signum in STOP_SIGNALS
                if signal.getsignal(signum) is not signal.SIG_IGN}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old if old is not None else signal.SIG_DFL)


class _CommandStop:
    """The ``mlp`` command's handler outside training: the first signal raises ``Stopped`` wherever it lands;
    one more while the command stops ends the process at once, with that signal's exit code."""

    def __init__(self) -> None:
        self.raised = False

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.raised:
            os._exit(128 + signum)  # already stopping: nothing is left to tidy that is worth waiting for
        self.raised = True
        raise Stopped(signum)


@contextmanager
def command_signals() -> Iterator[None]:
    """For a whole command: a stop signal that lands outside ``stop_signals`` blocks (reading the config, loading
    data, evaluating) raises ``Stopped``, so the command can end with one line and the signal's exit code
    instead of a ``KeyboardInterrupt`` traceback (Ctrl-C) or no word at all (SIGTERM, SIGHUP)."""
    with _handled(_CommandStop()._handle):
        yield
