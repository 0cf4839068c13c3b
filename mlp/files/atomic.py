"""Files that survive kills and full disks: every file ``mlp`` writes goes through ``atomic_write``.

A temporary file in the same folder is written, flushed to disk, then renamed over the target, so a crash or
kill at any moment leaves either the old file or the new one, never half of one; ``remove_partial_writes``
clears the temporary files of writes that were cut off.
"""

from __future__ import annotations

import errno
import os
import secrets
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import IO

TEMP_SUFFIX = ".tmp"


class DiskFullError(OSError):
    """The device ran out of space (or quota) while ``path`` was being written; ``hint`` says what to do."""

    ERRNOS = (errno.ENOSPC, errno.EDQUOT)

    def __init__(self, path: Path, hint: str = "") -> None:
        super().__init__(f"no space left on the device to write {path}{hint}")
        self.errno = errno.ENOSPC
        self.path = path


class WriteError(OSError):
    """``path`` could not be written (a read-only folder, no permission): the message names it and the reason."""

    def __init__(self, path: Path, err: OSError) -> None:
        super().__init__(f"cannot write {path}: {err.strerror or err}")
        self.errno = err.errno
        self.path = path


def _temporary_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}{TEMP_SUFFIX}")


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], None]) -> None:
    """Call ``write(file)`` on a temporary file next to ``path``, flush it to disk, rename it over ``path``.

    The file gets the mode the user's umask gives a new file, as ``open(path, "w")`` would. A crash, kill or
    exception at any moment leaves either the old ``path`` or the new one; if ``write`` raises, the temporary
    file is removed and the exception propagates. A full disk raises ``DiskFullError`` naming ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary_name(path)
    try:
        # os.open applies the umask to 0o666, as open() does; tempfile.mkstemp would force 0o600.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        with suppress(OSError):  # a folder turned read-only: the error to report is the write's
            tmp.unlink(missing_ok=True)
        if isinstance(err, OSError) and not isinstance(err, DiskFullError) and err.errno in DiskFullError.ERRNOS:
            raise DiskFullError(path, " (the file is unchanged)") from None
        if isinstance(err, OSError) and err.filename is not None and Path(err.filename) == tmp:
            # the error names the temporary file the write went through, which the user never sees
            raise WriteError(path, err) from None
        raise


def write_text(path: str | Path, text: str) -> None:
    """``atomic_write`` of a text file (UTF-8)."""
    atomic_write(path, lambda f: f.write(text.encode()))


def remove_partial_writes(folder: Path, name: str | None = None, older_than: float | None = None) -> list[Path]:
    """Delete what interrupted atomic writes left in ``folder`` (of the file ``name``, or of any file).

    Only call this where no other process can be writing (a run directory one holds the lock of), or with
    ``older_than`` seconds: a write that old is a dead process's, not one in progress.
    """
    pattern = f".{name}.*{TEMP_SUFFIX}" if name is not None else f".*{TEMP_SUFFIX}"
    removed = []
    for leftover in folder.glob(pattern):
        try:
            if older_than is None or time.time() - leftover.stat().st_mtime > older_than:
                leftover.unlink()
                removed.append(leftover)
        except FileNotFoundError:
            pass
    return removed
