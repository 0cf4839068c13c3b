"""The IDX file format of MNIST and Fashion-MNIST (LeCun et al.), gzipped or raw.

Layout: two zero bytes, a dtype code, the number of dimensions ``d``, then ``d`` big-endian uint32
sizes, then the data in C order. MNIST uses dtype ``0x08`` (uint8): images ``(n, 28, 28)``
(``idx3``), labels ``(n,)`` (``idx1``).

Files are read as a stream: the header first, checked (against the largest shape the caller accepts, and
against the memory available), then exactly the bytes it announces, so that a damaged or hostile file (a
small gzip that inflates to gigabytes) is refused before it is inflated past what its header promised.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import zlib
from pathlib import Path
from typing import IO

import numpy as np

from mlp.files.reading import available_memory


class DataError(ValueError):
    """A data file or array is missing, malformed or unsuitable; the message names it and what is wrong."""


# dtype code -> NumPy dtype (big-endian for multi-byte types, as the format stores them)
DTYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
          0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
GZIP_MAGIC = b"\x1f\x8b"
CHUNK = 1 << 20
DAMAGED_GZIP = (EOFError, OSError, zlib.error)  # gzip.BadGzipFile is an OSError


def _read_exactly(f: IO[bytes], count: int, path: Path, digest: hashlib._Hash | None, what: str) -> bytes:
    data = f.read(count)
    if len(data) < count:
        raise DataError(f"{path} is truncated: its {what} is incomplete")
    if digest is not None:
        digest.update(data)
    return data


def _read_stream(f: IO[bytes], path: Path, max_shape: tuple[int, ...] | None,
                 digest: hashlib._Hash | None) -> np.ndarray:
    head = f.read(4)
    if len(head) < 4 or head[:2] != b"\x00\x00":
        raise DataError(f"{path} is not an IDX file (bad magic number {head.hex() or 'empty'}); "
                        f"expected the MNIST-format files such as train-images-idx3-ubyte.gz")
    if digest is not None:
        digest.update(head)
    code, ndim = head[2], head[3]
    if code not in DTYPES:
        raise DataError(f"{path} has an unknown IDX dtype code 0x{code:02x}")
    if ndim == 0:
        raise DataError(f"{path} is truncated: its header is incomplete")
    sizes = _read_exactly(f, 4 * ndim, path, digest, "header")
    shape = tuple(int.from_bytes(sizes[4 * i : 4 * i + 4], "big") for i in range(ndim))
    if max_shape is not None and (len(shape) != len(max_shape) or any(n > m for n, m in zip(shape, max_shape,
                                                                                          strict=True))):
        raise DataError(f"{path} holds an array of shape {shape}, not one of at most {max_shape} as this dataset's "
                        f"file does; replace or delete it")
    dtype = DTYPES[code]
    expected = math.prod(shape) * dtype.itemsize  # Python integers: no overflow however large the sizes
    if expected > available_memory():
        raise DataError(f"{path} announces {expected:,} bytes of data (shape {shape}), more than the memory "
                        f"available; it is damaged or not an IDX file")
    array = np.empty(shape, dtype=dtype)
    view = memoryview(array.reshape(-1).view(np.uint8))
    filled = 0
    while filled < expected:
        count = f.readinto(view[filled : filled + CHUNK])
        if not count:
            raise DataError(f"{path} is truncated: shape {shape} needs {expected:,} data bytes, found {filled:,}; "
                            f"delete it and download it again")
        if digest is not None:
            digest.update(view[filled : filled + count])
        filled += count
    if f.read(1):
        raise DataError(f"{path} is longer than its header says: shape {shape} needs {expected:,} data bytes, and "
                        f"more follow (reading stopped there); delete it and download it again")
    return array.astype(dtype.newbyteorder("="), copy=False)


def read_idx(path: str | Path, *, max_shape: tuple[int, ...] | None = None,
             digest: hashlib._Hash | None = None) -> np.ndarray:
    """Read an IDX file (gzipped or raw, recognised by its first bytes) into an array of its stored shape.

    ``max_shape``: the largest shape accepted, checked on the header before any data is read. ``digest`` (a
    ``hashlib`` object) is fed the decompressed content as it is read.
    """
    path = Path(path)
    try:
        raw = open(path, "rb")  # noqa: SIM115 -- closed below, whichever way the content is read
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except OSError as err:
        raise DataError(f"{path} cannot be read ({err})") from None
    with raw:
        if raw.read(2) != GZIP_MAGIC:
            raw.seek(0)
            return _read_stream(raw, path, max_shape, digest)
        raw.seek(0)
        try:
            with gzip.GzipFile(fileobj=raw) as f:
                return _read_stream(f, path, max_shape, digest)
        except DAMAGED_GZIP as err:
            raise DataError(f"{path} is a damaged gzip file ({err}); delete it and download it again") from None


def write_idx(path: str | Path, array: np.ndarray, compress: bool | None = None) -> None:
    """Write ``array`` as an IDX file; gzipped if ``compress`` (default: if the name ends in ``.gz``)."""
    path = Path(path)
    array = np.asarray(array)
    code = next((c for c, dt in DTYPES.items() if dt.newbyteorder("=") == array.dtype.newbyteorder("=")), None)
    if code is None:
        raise DataError(f"IDX cannot store dtype {array.dtype}")
    header = bytes([0, 0, code, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    data = header + array.astype(DTYPES[code], copy=False).tobytes()
    path.write_bytes(gzip.compress(data) if (path.suffix == ".gz" if compress is None else compress) else data)
