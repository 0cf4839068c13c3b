"""Flush denormal floats to zero while training, as ``torch.set_flush_denormal(True)`` does.

Late in training, momentum velocities and Adam moments that decay geometrically (``v <- mu v``) pass
through the denormal range (below 1.2e-38 in float32) on their way to zero. On many x86 CPUs an
arithmetic operation with a denormal operand or result takes a slow microcode path, so an epoch can
slow down by tens of percent. The CPU's FTZ ("flush to zero": denormal results become 0) and DAZ
("denormals are zero": denormal inputs are read as 0) flags remove that path. Numbers that small carry
no information for training.

The flags live in the SSE control register (MXCSR), one per thread. They are set through C's
``fegetenv``/``fesetenv`` with ctypes (x86-64 Linux, glibc). New threads copy the flags of the thread
that creates them, and NumPy's OpenBLAS loads the caller's MXCSR into its worker threads for matrix
products (the project's tests check both), so setting them on the calling thread covers those. Its
level-1 routines do not: the worker half of a long ``mlp.native.blas.axpy`` keeps the worker's own flags. The
optimizers therefore do the geometric decay that leads to denormals (``v <- mu v``, Adam's moments) with
NumPy on the calling thread, and use ``axpy`` only to add the scaled gradient.
MKL's threads (``mlp.native.mkl``) get the caller's flags at every call, products and ``axpy`` alike: Intel's
OpenMP runtime copies them into its workers (the tests check it).
Elsewhere ``flush_denormals`` does nothing and says so through ``supported()``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform
import sys
from collections.abc import Iterator
from contextlib import contextmanager

_FTZ_DAZ = 0x8000 | 0x0040  # MXCSR bit 15 (flush to zero) and bit 6 (denormals are zero)


class _Fenv(ctypes.Structure):
    """glibc's x86-64 ``fenv_t``: the x87 environment (28 bytes), then MXCSR."""

    _fields_ = [("x87", ctypes.c_uint16 * 14), ("mxcsr", ctypes.c_uint32)]


def _libm() -> ctypes.CDLL | None:
    if not (sys.platform.startswith("linux") and platform.machine() == "x86_64" and platform.libc_ver()[0] == "glibc"):
        return None
    name = ctypes.util.find_library("m")
    return ctypes.CDLL(name) if name else None


_LIBM = _libm()


def supported() -> bool:
    """Whether ``flush_denormals`` can set the CPU flags here (x86-64 Linux with glibc)."""
    return _LIBM is not None


def _environment() -> _Fenv:
    env = _Fenv()
    if _LIBM.fegetenv(ctypes.byref(env)) != 0:  # type: ignore[union-attr]
        raise OSError("fegetenv failed")
    return env


def _set_flags(bits: int) -> None:
    env = _environment()
    env.mxcsr = (env.mxcsr & ~_FTZ_DAZ) | bits
    if _LIBM.fesetenv(ctypes.byref(env)) != 0:  # type: ignore[union-attr]
        raise OSError("fesetenv failed")


@contextmanager
def flush_denormals(enabled: bool = True) -> Iterator[bool]:
    """Within the block, denormal results become 0 and denormal inputs are read as 0 (FTZ and DAZ).

    Yields whether the flags are in effect (``False`` if ``enabled`` is false or the platform is not
    ``supported()``). The caller thread's previous flags are restored on exit, so code outside the block
    keeps IEEE gradual underflow.
    """
    if not (enabled and supported()):
        yield False
        return
    previous = _environment().mxcsr & _FTZ_DAZ
    _set_flags(_FTZ_DAZ)
    try:
        yield True
    finally:
        _set_flags(previous)
