"""Reading ``.npz`` archives (model files, users' data) without pickle and within bounds.

``numpy.load`` trusts the file: an array header may claim any shape, a deflated member may inflate to any
size, and a damaged zip header surfaces as one of a dozen exception types. ``read_npz`` checks each member
before reading it: a plain numeric dtype, a header whose shape accounts for exactly the member's size, a
size the machine's free memory can hold; and it turns every way the container can be broken into one error
that names the file.
"""

from __future__ import annotations

import math
import struct
import zipfile
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from numpy.lib import format as npy

from mlp.fileio import available_memory
from mlp.messages import name_list, shorten

# Everything a damaged or hostile zip archive or .npy header has been seen to raise while being read.
CONTAINER_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, NotImplementedError,
                    RuntimeError, zlib.error, struct.error, KeyError, OverflowError, TypeError, IndexError)
SAFE_KINDS = "biufUS"  # bool, integers, floats and fixed-size strings: arrays that need no pickle


def _bare(what: str) -> str:
    """``"an mlp model file"`` -> ``"mlp model file"``."""
    return what.removeprefix("an ").removeprefix("a ")


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path, error: type[Exception]) -> np.ndarray:
    """One ``.npy`` member as an array, after checking its header against its size."""
    with archive.open(info) as member:
        version = npy.read_magic(member)
        read_header = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
        shape, fortran, dtype = read_header(member)
        if dtype.hasobject or dtype.kind not in SAFE_KINDS or dtype.fields is not None:
            raise error(f"{path} holds arrays that cannot be read safely (array {info.filename[:-4]!r} has dtype "
                        f"{dtype}, which would need pickle); save plain numeric arrays")
        nbytes = math.prod(shape) * dtype.itemsize
        if member.tell() + nbytes != info.file_size:
            raise ValueError(f"array {info.filename[:-4]!r} claims {nbytes:,} bytes of data in a member of "
                             f"{info.file_size:,}")
        array = np.empty(shape, dtype=dtype, order="F" if fortran else "C")
        view = memoryview(array.reshape(-1, order="A").view(np.uint8))
        filled = 0
        while filled < nbytes:
            count = member.readinto(view[filled:])
            if not count:
                raise EOFError(f"array {info.filename[:-4]!r} ends early")
            filled += count
    return array


def read_npz(
    path: Path,
    what: str,
    error: type[Exception],
    choose: Callable[[list[str]], Sequence[str]] | None = None,
    stored_only: bool = False,
    fix: str = "",
) -> dict[str, np.ndarray]:
    """The arrays of the archive ``path`` that ``choose(names of its arrays)`` picks (all by default).

    ``what`` names what the file should be ("an mlp model file"); every problem is ``error(message)``, and a
    damaged file's message ends with ``fix``, what to do. With ``stored_only``, compressed members are refused
    (``numpy.savez`` writes none; ``mlp`` model files are written so).
    """
    if path.exists() and not path.is_file():  # a folder, or a pipe whose opening would wait for a writer
        raise error(f"{path} is not a regular file; give {what}")
    try:
        with open(path, "rb") as f:
            if f.read(2) != b"PK":  # an .npz is a zip archive; anything else np.load would take for a pickle
                raise error(f"{path} is not a readable {_bare(what)} (not a zip archive)")
            f.seek(0)
            with zipfile.ZipFile(f) as archive:
                members = {info.filename.removesuffix(".npy"): info for info in archive.infolist()
                           if info.filename.endswith(".npy")}
                chosen = list(choose(list(members)) if choose is not None else members)
                infos = [members[name] for name in chosen]
                if stored_only and any(info.compress_type != zipfile.ZIP_STORED for info in infos):
                    raise error(f"{path} is not {what}: it has compressed entries, which mlp never writes")
                needed = sum(info.file_size for info in infos)
                if needed > available_memory():
                    raise error(f"{path} holds {needed / 2**30:.1f} GiB of arrays, more than the "
                                f"{available_memory() / 2**30:.1f} GiB of memory available")
                return {name: _read_member(archive, info, path, error)
                        for name, info in zip(chosen, infos, strict=True)}
    except error:
        raise
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except CONTAINER_ERRORS as err:
        raise error(f"{path} is not a readable {_bare(what)}: it is truncated "
                    f"or corrupt ({type(err).__name__}: {shorten(str(err))}){fix}") from None


def require_arrays(path: Path, names: list[str], wanted: Sequence[str], error: type[Exception], hint: str) -> None:
    """An ``error`` naming the first of ``wanted`` missing from ``names`` (the arrays of ``path``)."""
    missing = [name for name in wanted if name not in names]
    if missing:
        raise error(f"{path} has no array {missing[0]!r}; it has {name_list(names) or 'none'} ({hint})")
