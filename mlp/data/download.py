"""Downloads over HTTP(S): mirrors in turn, retries, a timeout, MD5 verification, atomic writes."""

from __future__ import annotations

import hashlib
import http.client
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from tqdm import tqdm

from mlp.data.idx import DataError
from mlp.fileio import atomic_write, remove_partial_writes

CHUNK = 1 << 16
STALE_DOWNLOAD = 3600.0  # seconds: no download of a dataset file takes that long and is still going


class ChecksumError(DataError):
    """A downloaded file does not have the published MD5."""


def _is_transient(err: Exception) -> bool:
    """Worth retrying: timeouts, dropped connections and server errors, not a missing name or a 404."""
    if isinstance(err, urllib.error.HTTPError):
        return err.code >= 500
    if isinstance(err, urllib.error.URLError):
        return not isinstance(err.reason, socket.gaierror)
    return isinstance(err, TimeoutError | ConnectionError | http.client.HTTPException)


def _fetch(url: str, f: IO[bytes], md5: str, timeout: float, label: str) -> None:
    digest = hashlib.md5()
    with urllib.request.urlopen(url, timeout=timeout) as response:
        total = int(response.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, desc=label, unit="B", unit_scale=True, leave=False,
                  disable=not sys.stderr.isatty()) as bar:
            received = 0
            while chunk := response.read(CHUNK):
                digest.update(chunk)
                f.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
        if total is not None and received != total:
            raise http.client.IncompleteRead(b"", total - received)
    if digest.hexdigest() != md5:
        raise ChecksumError(f"{url} has MD5 {digest.hexdigest()}, expected {md5}; the file was deleted")


def download(
    filename: str,
    mirrors: Sequence[str],
    dest: Path,
    md5: str,
    *,
    timeout: float = 30.0,
    retries: int = 2,
    backoff: float = 0.5,
) -> None:
    """Fetch ``mirror + filename`` from the first mirror that delivers it with the right MD5 into ``dest``.

    Transient failures are retried ``retries`` times per mirror (after ``backoff``, ``2 backoff``, ...
    seconds). The file is written to a temporary name and renamed only once verified, so an
    interrupted or corrupt transfer leaves nothing behind. Raises ``DataError`` naming each mirror's last
    failure and how many attempts it had.
    """
    if dest.parent.is_dir():  # what a killed download left; others may be downloading into this cache now
        remove_partial_writes(dest.parent, dest.name, older_than=STALE_DOWNLOAD)
    failures = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + filename
        for attempt in range(retries + 1):
            try:
                atomic_write(dest, lambda f, url=url: _fetch(url, f, md5, timeout, filename))
                return
            except ChecksumError as err:
                failures.append(str(err))
                break
            except (OSError, http.client.HTTPException) as err:
                if not _is_transient(err) or attempt == retries:
                    failures.append(f"{url}: {err}" + (f" ({attempt + 1} attempts)" if attempt else ""))
                    break
                time.sleep(backoff * (attempt + 1))
    raise DataError(f"could not download {filename}: " + "; ".join(failures))
