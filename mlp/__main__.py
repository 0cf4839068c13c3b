"""The ``mlp`` command's entry point: its console script, and ``python -m mlp``.

It runs before the library and click are imported (``mlp/__init__`` imports its names on first use; loading
NumPy and the library takes a good part of a second): a stop signal (Ctrl-C, SIGTERM, SIGHUP) in that time
ends the command with one line and the shell's exit code for the signal (130, 143, 129), not a
``KeyboardInterrupt`` traceback. Nothing has been written while the program loads, so there is nothing to
tidy: the process ends at once. Once loaded, ``mlp.cli.run`` hands the signals to ``mlp.train.interrupts``.
"""

import os
import signal

STOP_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")


def _stop_while_loading(signum: int, frame: object) -> None:
    name = signal.Signals(signum).name
    os.write(2, f"error: stopped by {name} while starting; nothing was written\n".encode())
    os._exit(128 + signum)


def main() -> None:
    """Run the ``mlp`` command line; stop signals are handled from here on (ignored ones stay ignored)."""
    for name in STOP_SIGNALS:
        signum = getattr(signal, name, None)
        if signum is not None and signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, _stop_while_loading)
    from mlp.cli import run  # the library and click: imported only now, under the handler above

    run()


if __name__ == "__main__":
    main()
