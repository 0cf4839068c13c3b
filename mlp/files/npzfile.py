"""Reading ``.npz`` archives (model files, users' data) without pickle and within bounds.

``numpy.load`` trusts the file: an array header may claim any shape, a deflated member may inflate to any
size, and a damaged zip header surfaces as one of a dozen exception types. ``read_npz`` checks the archive's
directory before inflating anything: at most ``MAX_MEMBERS`` entries, each array named once, each member's
size within what its compressed bytes can honestly hold (the same size when stored, ``MAX_RATIO`` times when
deflated: real arrays compress a few times, a zip bomb a thousand), all of them within the machine's free
memory. Then each member's header: a plain numeric dtype and a shape that accounts for exactly the member's
size. Reading stops at that size whatever the stream holds (``zipfile`` reads no further than the directory
says, and checks the CRC there). Every way the container can be broken is one error that names the file.
"""

from __future__ import annotations

import math
import os
import struct
import zipfile
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from numpy.lib import format as npy

from mlp.files.reading import available_memory, check_regular_file
from mlp.messages import name_list, shorten

# Everything a damaged or hostile zip archive or .npy header has been seen to raise while being read.
CONTAINER_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, NotImplementedError,
                    RuntimeError, zlib.error, struct.error, KeyError, OverflowError, TypeError, IndexError)
SAFE_KINDS = "biufUS"  # bool, integers, floats and fixed-size strings: arrays that need no pickle
MAX_MEMBERS = 10_000  # entries of an archive: far more than the arrays of any model or data file
MAX_RATIO = 100  # inflated / compressed size of a deflated member: data compresses 2-20 times, zeros 1,000
SMALL_MEMBER = 64 << 20  # bytes a deflated member may inflate to whatever its ratio: too few to matter


def _bare(what: str) -> str:
    """``"an mlp model file"`` -> ``"mlp model file"``."""
    return what.removeprefix("an ").removeprefix("a ")


def _check_directory(entries: list[zipfile.ZipInfo], infos: list[zipfile.ZipInfo], archive_size: int, path: Path,
                     what: str, error: type[Exception]) -> None:
    """Refuse, from the zip directory alone (``entries``, of which ``infos`` are to be read), an archive that
    would take more than its ``archive_size`` bytes can honestly hold: too many entries, a name twice, a member
    larger than its compressed bytes allow, more than the free memory in all."""
    if len(entries) > MAX_MEMBERS:
        raise error(f"{path} has {len(entries):,} entries, more than any {_bare(what)} (at most {MAX_MEMBERS:,}); "
                    f"save only the arrays to read")
    seen: set[str] = set()
    for info in entries:
        if info.filename in seen:
            raise error(f"{path} holds the entry {info.filename!r} twice, so which one is meant is ambiguous; save "
                        f"each array once")
        seen.add(info.filename)
    for info in infos:
        if info.compress_size > archive_size:
            raise ValueError(f"array {info.filename[:-4]!r} claims {info.compress_size:,} compressed bytes in an "
                             f"archive of {archive_size:,}")
        stored = info.compress_type == zipfile.ZIP_STORED
        if stored and info.file_size != info.compress_size:
            raise ValueError(f"array {info.filename[:-4]!r} is stored in {info.compress_size:,} bytes but claims "
                             f"{info.file_size:,}")
        if not stored and info.file_size > max(MAX_RATIO * info.compress_size, SMALL_MEMBER):
            ratio = info.file_size / max(info.compress_size, 1)
            raise error(f"{path} is refused: array {info.filename[:-4]!r} would inflate from {info.compress_size:,} "
                        f"to {info.file_size:,} bytes ({ratio:,.0f} times; data compresses at most {MAX_RATIO} "
                        f"times); if it is real, save it uncompressed (numpy.savez)")
    needed = sum(info.file_size for info in infos)
    if needed > available_memory():
        raise error(f"{path} holds {needed / 2**30:.1f} GiB of arrays, more than the "
                    f"{available_memory() / 2**30:.1f} GiB of memory available")


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
    check_regular_file(path, what, error)
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
                _check_directory(archive.infolist(), infos, os.fstat(f.fileno()).st_size, path, what, error)
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
