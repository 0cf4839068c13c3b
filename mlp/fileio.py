"""Files that survive kills and full disks: atomic writes, leftovers of interrupted ones, bounded JSON reads,
and the lock that gives a run directory to one process.

Every file ``mlp`` writes goes through ``atomic_write``: a temporary file in the same folder, flushed to disk,
then renamed over the target, so a crash or kill at any moment leaves either the old file or the new one,
never half of one.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

from mlp.messages import shorten

TEMP_SUFFIX = ".tmp"
LOCK_FILE = ".lock"
MAX_JSON_BYTES = 256 << 20  # histories and metrics are far smaller; a larger "JSON" file is not ours


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


def check_regular_file(path: Path, give: str, error: type[Exception] = ValueError) -> None:
    """Raise ``error`` if ``path`` exists but is not a regular file: reading a device (``/dev/zero``) never ends,
    opening a pipe waits for a writer, and a folder has nothing to read. ``give`` says what to give instead."""
    if path.exists() and not path.is_file():
        raise error(f"{path} is not a regular file; give {give}")


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


def read_json(path: Path, what: str) -> Any:
    """The JSON value in ``path``; ``ValueError`` naming the file and ``what`` it should be if it is not
    readable JSON, larger than any file ``mlp`` writes, or nested too deeply to parse."""
    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            raise ValueError(f"{path} is larger than any {what} mlp writes ({path.stat().st_size:,} bytes)")
        return json.loads(path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise ValueError(f"{path} is not {what} (not readable JSON: {shorten(str(err))})") from None


def available_memory() -> int:
    """Bytes a new allocation can take: the smaller of the system's available memory (Linux's MemAvailable)
    and what the process's cgroup (a container's limit) has left; a very large number where neither is known."""
    limits = [1 << 62]
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                limits.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    try:
        cgroup = Path("/sys/fs/cgroup")
        maximum = (cgroup / "memory.max").read_text().strip()
        if maximum != "max":
            limits.append(int(maximum) - int((cgroup / "memory.current").read_text()))
    except (OSError, ValueError):
        pass
    return max(min(limits), 0)


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
