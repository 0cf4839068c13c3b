"""The IDX file format of MNIST and Fashion-MNIST (LeCun et al.), gzipped or raw.

Layout: two zero bytes, a dtype code, the number of dimensions ``d``, then ``d`` big-endian uint32
sizes, then the data in C order. MNIST uses dtype ``0x08`` (uint8): images ``(n, 28, 28)``
(``idx3``), labels ``(n,)`` (``idx1``).
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np


class DataError(ValueError):
    """A data file or array is missing, malformed or unsuitable; the message names it and what is wrong."""


# dtype code -> NumPy dtype (big-endian for multi-byte types, as the format stores them)
DTYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
          0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
GZIP_MAGIC = b"\x1f\x8b"


def read_bytes(path: Path) -> bytes:
    """The file's content, decompressed if it is gzipped (recognised by its first bytes, not its name)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    if data[:2] != GZIP_MAGIC:
        return data
    try:
        return gzip.decompress(data)
    except (EOFError, OSError, zlib.error) as err:
        raise DataError(f"{path} is a damaged gzip file ({err}); delete it and download it again") from None


def parse_idx(data: bytes, path: Path) -> np.ndarray:
    """Decode IDX bytes, checking magic number, dtype code, dimensions and byte count."""
    if len(data) < 4 or data[:2] != b"\x00\x00":
        raise DataError(f"{path} is not an IDX file (bad magic number {data[:4].hex() or 'empty'}); "
                        f"expected the MNIST-format files such as train-images-idx3-ubyte.gz")
    code, ndim = data[2], data[3]
    if code not in DTYPES:
        raise DataError(f"{path} has an unknown IDX dtype code 0x{code:02x}")
    header = 4 + 4 * ndim
    if ndim == 0 or len(data) < header:
        raise DataError(f"{path} is truncated: its header is incomplete")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = DTYPES[code]
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) - header != expected:
        state = "truncated" if len(data) - header < expected else "longer than its header says"
        raise DataError(f"{path} is {state}: shape {shape} needs {expected:,} data bytes, found "
                        f"{len(data) - header:,}; delete it and download it again")
    return np.frombuffer(data, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="), copy=False)


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (gzipped or raw) into an array of its stored shape."""
    path = Path(path)
    return parse_idx(read_bytes(path), path)


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
