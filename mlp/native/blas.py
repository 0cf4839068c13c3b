"""``axpy(alpha, x, y)``: the update ``y <- y + alpha x`` in one pass, on every core, through NumPy's own BLAS.

NumPy computes ``w -= lr * g`` in two passes on one core: a temporary ``lr * g``, then the subtraction.
The BLAS level-1 routine ``axpy`` reads ``x`` and ``y`` once and writes ``y`` once, and OpenBLAS splits
long vectors over its threads. An optimizer step is a few such updates over every weight, so this is
where a training step spends most of what is not matrix products.

NumPy's wheels carry OpenBLAS in the ``numpy.libs`` folder beside the package (``numpy/.dylibs`` on macOS),
with the 64-bit-integer CBLAS interface under the names ``scipy_cblas_saxpy64_`` (float32) and
``scipy_cblas_daxpy64_`` (float64). ``axpy`` calls them with ctypes when both arrays are C-contiguous with
the same shape and dtype and at least ``MIN_SIZE`` entries: below that, the call through ctypes costs more
than NumPy's two passes (measured here: 5.7 against 2.2 us for 1,000 entries, 10.9 against 15.1 us for
64,000, 31 against 82 us for the 784x512 weights). Elsewhere (another BLAS, small arrays, other layouts or
dtypes) it computes ``y += alpha * x`` with NumPy, which gives the same values up to the last bit (BLAS may
fuse the multiply and the add); ``supported()`` says whether BLAS is there at all.

OpenBLAS's worker threads run these calls with their own flush-to-zero flags, not the caller's
(``mlp.native.fpenv`` says why that does not bring denormals back into training).

``set_threads(n)`` sets how many threads that OpenBLAS uses from now on (``OPENBLAS_NUM_THREADS`` does it
only before NumPy is imported), and ``one_thread()`` for the duration of a block. OpenBLAS's sgemm rounds
differently with different thread counts (a (16, 784) x (784, 512) product differs in the last bits between 1
and 2 threads here), so computations that must agree to the last bit across processes (``mlp.train.parallel``,
``mlp.runs.sweep``) run on one thread each.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

_SUFFIXES = (".so", ".dylib", ".dll")
MIN_SIZE = 1 << 16


def _load_library() -> ctypes.CDLL | None:
    """The OpenBLAS that came with NumPy (the file NumPy already loaded: the same library and threads)."""
    package = Path(np.__file__).parent
    for folder in (package.parent / "numpy.libs", package / ".dylibs"):
        for library in sorted(folder.glob("*scipy_openblas64_*")):
            if library.suffix not in _SUFFIXES:
                continue
            try:
                return ctypes.CDLL(str(library))
            except OSError:
                continue
    return None


def _load_routines(blas: ctypes.CDLL | None) -> dict[np.dtype, Callable[..., None]]:
    """``{dtype: axpy}`` of ``blas``, or ``{}`` if it has none."""
    try:
        routines = {np.dtype(np.float32): (blas.scipy_cblas_saxpy64_, ctypes.c_float),
                    np.dtype(np.float64): (blas.scipy_cblas_daxpy64_, ctypes.c_double)}
    except AttributeError:  # no library (None has no such attribute either), or another BLAS
        return {}
    for routine, scalar in routines.values():
        # void axpy(int64 n, scalar alpha, const scalar *x, int64 incx, scalar *y, int64 incy)
        routine.argtypes = [ctypes.c_int64, scalar, ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p, ctypes.c_int64]
        routine.restype = None
    return {dtype: routine for dtype, (routine, _) in routines.items()}


_BLAS = _load_library()
_ROUTINES = _load_routines(_BLAS)


def set_threads(n: int) -> bool:
    """Let NumPy's OpenBLAS use ``n`` threads from now on; ``False`` if there is no such BLAS here."""
    routine = getattr(_BLAS, "scipy_openblas_set_num_threads64_", None)
    if routine is None:
        return False
    routine.argtypes, routine.restype = [ctypes.c_int], None
    routine(int(n))
    return True


@contextmanager
def one_thread() -> Iterator[None]:
    """Within the block, NumPy's OpenBLAS uses one thread; the number it used comes back afterwards."""
    previous = threads()
    set_threads(1)
    try:
        yield
    finally:
        if previous is not None:
            set_threads(previous)


def threads() -> int | None:
    """How many threads NumPy's OpenBLAS uses, or ``None`` if there is no such BLAS here."""
    routine = getattr(_BLAS, "scipy_openblas_get_num_threads64_", None)
    if routine is None:
        return None
    routine.restype = ctypes.c_int
    return int(routine())


def supported() -> bool:
    """Whether ``axpy`` calls BLAS here (NumPy's bundled OpenBLAS was found) rather than NumPy."""
    return bool(_ROUTINES)


def axpy(alpha: float, x: np.ndarray, y: np.ndarray) -> None:
    """``y <- y + alpha x``, in place. ``x, y``: arrays of one shape and dtype (e.g. ``g`` and ``W: (in, out)``)."""
    routine = _ROUTINES.get(y.dtype)
    if (routine is None or y.size < MIN_SIZE or x.dtype != y.dtype or x.shape != y.shape or not x.flags.c_contiguous
            or not y.flags.c_contiguous or not y.flags.writeable):
        y += alpha * x
        return
    routine(y.size, float(alpha), x.ctypes.data, 1, y.ctypes.data, 1)  # float(): ctypes refuses NumPy scalars
