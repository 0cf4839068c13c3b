"""The lock that gives a folder (a run directory, a sweep folder) to one process at a time.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from mlp.files.atomic import DiskFullError, WriteError
from mlp.messages import shorten

LOCK_FILE = ".lock"


class FolderLockedError(OSError):
    """Another process holds the lock of ``folder``; ``holder`` is what it wrote there (its PID, its purpose)."""

    def __init__(self, folder: Path, holder: str) -> None:
        super().__init__(f"{folder} is in use by another process ({holder}); wait for it to finish or stop it")
        self.errno = errno.EBUSY


@contextmanager
def folder_lock(folder: Path, purpose: str) -> Iterator[None]:
    """Hold ``folder/.lock`` while the block runs: a second process gets a ``FolderLockedError`` naming the
    holder's PID. The operating system drops the lock when its holder dies, so a lock left by a killed
    process is simply taken over. The lock file is removed when the block ends."""
    import fcntl  # POSIX; imported here so that the rest of mlp does not depend on it

    lock_path = folder / LOCK_FILE
    while True:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = shorten(" ".join(os.read(fd, 200).decode(errors="replace").split())) or "unknown"
            os.close(fd)
            raise FolderLockedError(folder, holder) from None
        # The holder before us may have removed the file between our open and our lock: then we hold a lock
        # on a file nobody else can see, and must lock the one at the path now.
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(lock_path))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"pid {os.getpid()}, {purpose}\n".encode())
        except OSError as err:  # os.write names no file: say which
            if err.errno in DiskFullError.ERRNOS:
                raise DiskFullError(lock_path) from None
            raise WriteError(lock_path, err) from None
        yield
    finally:
        # Closing the descriptor releases the lock; a lock file that cannot be removed (the folder turned
        # read-only) is taken over by the next process, and must not hide the error that ended the block.
        with suppress(OSError):
            lock_path.unlink(missing_ok=True)
        os.close(fd)
