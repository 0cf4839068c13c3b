"""Stop signals end training at the next batch boundary, never in the middle of a step.

Ctrl-C (SIGINT), ``kill`` or a cluster scheduler or container runtime (SIGTERM) and a closing terminal
(SIGHUP) all mean "stop". Delivered as an exception wherever it lands, a signal could cut an optimizer step
in half (some weights updated, others not) or a batch between its forward pass and its step, and no
checkpoint could then say where training stood. So while ``stop_signals()`` is active, the first such
signal only records itself; the training loop looks at ``received`` between batches and stops there, at a
point it can save and resume exactly. A second signal means "stop now": it raises ``KeyboardInterrupt``.

Python runs signal handlers in the main thread only, so elsewhere (a worker thread) this does nothing.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


class StopRequests:
    """The first stop signal received while active (``None`` until one is)."""

    def __init__(self) -> None:
        self.received: signal.Signals | None = None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.received is not None:
            raise KeyboardInterrupt  # the second signal: stop at once
        self.received = signal.Signals(signum)


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


class Interrupted:
    """The stop signal that ended a ``signals_as_interrupts`` block (``None`` if none did)."""

    def __init__(self) -> None:
        self.received: signal.Signals | None = None

    def _raise(self, signum: int, frame: FrameType | None) -> None:
        self.received = signal.Signals(signum)
        raise KeyboardInterrupt


@contextmanager
def signals_as_interrupts() -> Iterator[Interrupted]:
    """Within the block, SIGTERM and SIGHUP interrupt as Ctrl-C does (``KeyboardInterrupt``): for a process that
    only waits on others (``mlp sweep``), which it then stops in their own way. Ignored signals stay ignored."""
    interrupted = Interrupted()
    with _handled(interrupted._raise):
        yield interrupted
