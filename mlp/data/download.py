"""Downloads over HTTP(S) with pooch: mirrors in turn, retries, one time budget, MD5 verification, atomic writes.

pooch's ``HTTPDownloader`` (requests underneath) fetches each file and draws its progress bar; what it receives
goes into the temporary file of ``mlp.files.atomic.atomic_write`` and through an MD5 on the way, so a file appears
under its name only complete and verified, and what a killed download left is removed like any interrupted
write. (``pooch.retrieve`` would keep its own temporary files, which nothing removes after a kill.)

A download waits for data at most ``MLP_DOWNLOAD_TIMEOUT`` seconds (default 30), counted from its start or
from the last data received, over all its files, mirrors and retries: a network that accepts connections and
never answers costs that long once, then the download gives up. ``MLP_OFFLINE=1`` turns downloads off.
"""

from __future__ import annotations

import hashlib
import math
import os
import socket
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from tqdm import tqdm

from mlp.data.idx import DataError
from mlp.files.atomic import atomic_write, remove_partial_writes
from mlp.messages import shorten

CHUNK = 1 << 16
STALE_DOWNLOAD = 3600.0  # seconds: no download of a dataset file takes that long and is still going
DEFAULT_TIMEOUT = 30.0
TIMEOUT_VARIABLE, OFFLINE_VARIABLE = "MLP_DOWNLOAD_TIMEOUT", "MLP_OFFLINE"


class ChecksumError(DataError):
    """A downloaded file does not have the published MD5."""


class OfflineError(DataError):
    """Downloads are turned off by ``MLP_OFFLINE``."""


@dataclass(frozen=True)
class RemoteFile:
    """A file on the mirrors: its ``name`` there, the MD5 of its bytes, its size in bytes (``None``: unknown)."""

    name: str
    md5: str
    size: int | None = None


def offline() -> bool:
    """Whether ``MLP_OFFLINE`` turns downloads off: set to anything but nothing or "0"."""
    return os.environ.get(OFFLINE_VARIABLE, "").strip() not in ("", "0")


def download_timeout() -> float:
    """The seconds a download may wait for data: ``MLP_DOWNLOAD_TIMEOUT``, or ``DEFAULT_TIMEOUT``."""
    text = os.environ.get(TIMEOUT_VARIABLE, "").strip()
    if not text:
        return DEFAULT_TIMEOUT
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"{TIMEOUT_VARIABLE} is {shorten(text)!r}, not a number of seconds > 0; set it to one "
                        f"(e.g. {TIMEOUT_VARIABLE}=120) or unset it for {DEFAULT_TIMEOUT:g} s")
    return seconds


class Budget:
    """How long a download may still wait for data: ``seconds`` from its start or from the last data received."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.received()

    def received(self) -> None:
        """Data arrived: the wait starts again."""
        self.deadline = time.monotonic() + self.seconds

    def remaining(self) -> float:
        return max(self.deadline - time.monotonic(), 0.0)


class _Receiver:
    """The file pooch writes into: each chunk goes to ``file`` and the MD5, and renews the ``budget``."""

    def __init__(self, file: IO[bytes], budget: Budget) -> None:
        self.file, self.budget, self.md5 = file, budget, hashlib.md5()

    def write(self, chunk: bytes) -> int:
        self.budget.received()
        self.md5.update(chunk)
        return self.file.write(chunk)

    def flush(self) -> None:
        pass  # pooch flushes after every chunk; atomic_write flushes and syncs once, at the end


def _chain(err: BaseException) -> list[BaseException]:
    """``err`` and what caused it, outermost first: requests wraps a socket's error in three others."""
    chain = [err]
    while (cause := chain[-1].__cause__ or chain[-1].__context__) is not None and cause not in chain:
        chain.append(cause)
    return chain


def _reason(err: Exception) -> str:
    """Why a request failed, in a few words: the HTTP status, or the innermost error."""
    response = getattr(err, "response", None)
    if response is not None:
        return f"HTTP {response.status_code} {response.reason}"
    cause = _chain(err)[-1]
    return shorten(getattr(cause, "strerror", None) or str(cause) or type(cause).__name__)


def _is_transient(err: Exception) -> bool:
    """Worth retrying: dropped connections, refusals and server errors, not a missing name or a 404."""
    response = getattr(err, "response", None)
    if response is not None:
        return response.status_code >= 500
    return not any(isinstance(cause, socket.gaierror) for cause in _chain(err))


def _fetch(url: str, f: IO[bytes], file: RemoteFile, budget: Budget) -> None:
    import pooch  # here, not at the top: `import mlp` stays quick

    receiver = _Receiver(f, budget)
    with tqdm(total=file.size or 0, desc=file.name, unit="B", unit_scale=True, leave=False,
              disable=not sys.stderr.isatty()) as bar:
        # requests' timeout bounds each connect and each read: the budget left, so no wait outlasts it
        fetch = pooch.HTTPDownloader(progressbar=bar, chunk_size=CHUNK, timeout=max(budget.remaining(), 1e-3))
        fetch(url, receiver, None)
    if receiver.md5.hexdigest() != file.md5:
        raise ChecksumError(f"{url} has MD5 {receiver.md5.hexdigest()}, expected {file.md5}; the file was deleted")


def download(
    files: Sequence[RemoteFile],
    mirrors: Sequence[str],
    folder: Path,
    what: str,
    *,
    retries: int = 2,
    backoff: float = 0.5,
) -> None:
    """Fetch each of ``files`` (``mirror + name``) from the first mirror that delivers it with the right MD5 into
    ``folder``, saying first on stderr what is downloaded (``what``, the files' size, from where, to where).

    Transient failures are retried ``retries`` times per mirror (after ``backoff``, ``2 backoff``, ...
    seconds) while the time budget lasts (see the module docstring); once it is spent, no further attempt or
    mirror is tried. A file is written to a temporary name and renamed only once verified, so an interrupted
    or corrupt transfer leaves nothing behind. Raises ``OfflineError`` if ``MLP_OFFLINE`` is set, and
    ``DataError`` naming each mirror's last failure (and how many attempts it had) if a file cannot be had.
    """
    if offline():
        raise OfflineError(f"{OFFLINE_VARIABLE} is set, so nothing is downloaded; unset it to download {what}")
    budget = Budget(download_timeout())
    known = all(file.size is not None for file in files)
    size = f"{sum(file.size or 0 for file in files) / 1e6:.1f} MB" if known else "size unknown"
    print(f"downloading {what}: {len(files)} file{'s' * (len(files) != 1)}, {size}, from {mirrors[0]} "
          f"into {folder} (gives up after {budget.seconds:g} s without data; {OFFLINE_VARIABLE}=1 never downloads)",
          file=sys.stderr, flush=True)
    if folder.is_dir():  # what killed downloads left; others may be downloading into this cache now
        for file in files:
            remove_partial_writes(folder, file.name, older_than=STALE_DOWNLOAD)
    for file in files:
        _download_one(file, mirrors, folder / file.name, budget, retries, backoff)


def _download_one(file: RemoteFile, mirrors: Sequence[str], dest: Path, budget: Budget, retries: int,
                  backoff: float) -> None:
    import requests  # pooch's HTTP library; imported here, as pooch is

    failures = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + file.name
        for attempt in range(retries + 1):
            try:
                atomic_write(dest, lambda f, url=url: _fetch(url, f, file, budget))
                return
            except ChecksumError as err:
                failures.append(str(err))
                break
            except requests.RequestException as err:  # a local OSError (a full disk) is not the mirror's fault
                spent = budget.remaining() <= 0
                if spent or not _is_transient(err) or attempt == retries:
                    reason = f"no data for {budget.seconds:g} s, gave up (set {TIMEOUT_VARIABLE} to wait longer)" \
                        if spent else _reason(err)
                    failures.append(f"{url}: {reason}" + (f" ({attempt + 1} attempts)" if attempt else ""))
                    break
                time.sleep(min(backoff * (attempt + 1), budget.remaining()))
        if budget.remaining() <= 0:
            break
    raise DataError(f"could not download {file.name}: " + "; ".join(failures))
