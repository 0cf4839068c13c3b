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

Intel's MKL (the ``mkl`` extra, ``mlp.native.mkl``) can compute the training step's matrix products instead of
OpenBLAS. ``matmul(a, b, out)`` is ``a @ b`` through MKL's ``gemm`` when MKL is the step's BLAS,
and NumPy's ``np.matmul`` (OpenBLAS) otherwise; the dense layers make their three products with it. The
choice, ``active()``, comes from the setting ``MLP_BLAS`` (``settings.BLAS``, also ``mlp --blas``; ``use``
in Python, which also makes a changed ``MLP_BLAS`` count), read when the first product needs it:

- ``openblas``: NumPy's OpenBLAS, as without the extra;
- ``mkl``: MKL; where it is not installed or does not work, OpenBLAS, with one warning line that says so;
- ``auto`` (the default): OpenBLAS. On the Intel Xeon of ``docs/performance.md`` MKL trained MNIST-sized networks
  faster, but scikit-learn-sized ones (digits, 50 features) 1.3x slower, and it cannot be loaded in a program
  that imported PyTorch first (``mlp.native.mkl``): not a default for every network.

One thread pool at a time: two libraries' worker threads spin for a while after each call, and MKL's products
alternating with OpenBLAS's updates took 1.7x the time of the same epoch through MKL alone (``scripts/benchmark.py``).
So when MKL does the products, ``axpy`` goes through MKL too, and NumPy's OpenBLAS is left idle; ``set_threads``
and ``one_thread`` set both libraries. The dense layers' other passes over a batch follow on MKL's threads: the bias
added to every row (``add_to_rows``, MKL's ``ger``), its gradient (``column_sums``, ``gemv``), and the ReLU's two
passes (``mlp.native.vector``); on OpenBLAS they are NumPy's, as are small arrays' on either.
"""

from __future__ import annotations

import ctypes
import os
import shlex
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from mlp import settings
from mlp.extras import extra_requirements
from mlp.native import mkl as mkl_library

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


class BlasFallbackWarning(RuntimeWarning):
    """MKL was asked for (or chosen by ``auto``) but cannot be used: the products go through OpenBLAS."""


_choice: str | None = None  # set by use(); None: the MLP_BLAS variable decides
_mkl: mkl_library.Mkl | None = None  # MKL, once loaded and in use
_resolved: str | None = None  # why the step uses the library it uses (describe()); None: not decided yet
_resolved_for: str | None = None  # the setting _resolved was decided for: another setting decides again
_pending_threads: int | None = None  # a thread count set before MKL was loaded, for when it is
_loaded: dict[Path, mkl_library.Mkl] = {}  # each library is opened and set up once (before its first computation)


AUTO_REASON = "auto: MKL is faster only for large networks; MLP_BLAS=mkl uses it"


def setting() -> str:
    """The BLAS setting in force: ``use``'s, else the ``MLP_BLAS`` variable's, else ``"auto"``.

    Raises ValueError for a value not in ``settings.BLAS.choices``."""
    value = _choice if _choice is not None else (os.environ.get(settings.BLAS_VARIABLE) or settings.BLAS.default)
    _check(value)
    return value


def use(name: str | None) -> None:
    """Make the products go through ``name`` (``"auto"``, ``"openblas"`` or ``"mkl"``) from now on; ``None``: back
    to the ``MLP_BLAS`` variable. Raises ValueError for another name. The library is chosen again at the next
    product."""
    global _choice, _resolved_for
    if name is not None:
        _check(name)
    _choice, _resolved_for = name, None


def _check(name: str) -> None:
    if name not in settings.BLAS.choices:
        raise ValueError(f"{settings.BLAS_VARIABLE}={name!r} is not a BLAS mlp knows; set it to one of "
                         f"{', '.join(settings.BLAS.choices)}")


def _fallback(reason: str, fix: str) -> None:
    # One line, whatever the caller: a file name Python cannot open leaves the warning without a source line.
    warnings.warn_explicit(f"{reason}; the matrix products use OpenBLAS instead ({fix})", BlasFallbackWarning,
                           "mlp.native.blas", 0, module="mlp.native.blas")


def _resolve() -> mkl_library.Mkl | None:
    """Which library makes the products: MKL (returned) or OpenBLAS (``None``), decided at the first product after
    ``use`` (or ever) as the module says."""
    global _mkl, _resolved, _resolved_for
    if _resolved_for is not None:  # every product asks: the fast path reads no environment
        return _mkl
    choice = setting()
    _mkl, _resolved_for = None, choice
    # auto keeps OpenBLAS: on the Intel Xeon measured (docs/performance.md) MKL trained large networks faster and
    # small ones slower, and cannot be loaded after PyTorch; MLP_BLAS=mkl asks for MKL.
    if choice in ("openblas", "auto"):
        _resolved = f"{settings.BLAS_VARIABLE}=openblas" if choice == "openblas" else AUTO_REASON
        return None
    library = mkl_library.find_library()
    install = " ".join(shlex.quote(r) for r in extra_requirements("mkl")) or mkl_library.DISTRIBUTION
    try:
        _mkl = _loaded[library] if library in _loaded else mkl_library.load(library)
    except mkl_library.MklError as err:
        if isinstance(err, mkl_library.OpenMPConflictError):
            fix = "train before importing PyTorch, so that MKL is loaded first"
        elif library is None:
            fix = f"install it with: pip install {install}  (the mkl extra)"
        else:
            fix = f"reinstall it with: pip install --force-reinstall {install}"
        _fallback(str(err), f"{fix}; or set {settings.BLAS_VARIABLE}=openblas")
        _resolved = f"{choice}: {err}"
        return None
    _loaded[library] = _mkl  # type: ignore[index]
    if _pending_threads is not None:
        _mkl.set_threads(_pending_threads)
    _resolved = f"{settings.BLAS_VARIABLE}={choice}"
    return _mkl


def active() -> str:
    """``"mkl"`` or ``"openblas"``: the library the training step's products and updates go through."""
    return "mkl" if _resolve() is not None else "openblas"


def describe() -> str:
    """One line for ``mlp --version``: the library, its version, and why it was chosen."""
    mkl = _resolve()
    if mkl is not None:
        return f"{mkl.version()} ({_resolved})"
    routine = getattr(_BLAS, "scipy_openblas_get_config64_", None)
    if routine is not None:
        routine.restype = ctypes.c_char_p
        name = " ".join(routine().decode(errors="replace").split()[:2])  # "OpenBLAS 0.3.31.188.0"
    else:
        name = "NumPy's BLAS"
    return f"{name} ({_resolved})"


def set_threads(n: int) -> bool:
    """Let NumPy's OpenBLAS and MKL (now, or when it loads) use ``n`` threads; ``False`` if there is no OpenBLAS
    here that NumPy brought and MKL is not in use."""
    global _pending_threads
    _pending_threads = int(n)
    if _mkl is not None:
        _mkl.set_threads(n)
    routine = getattr(_BLAS, "scipy_openblas_set_num_threads64_", None)
    if routine is None:
        return _mkl is not None
    routine.argtypes, routine.restype = [ctypes.c_int], None
    routine(int(n))
    return True


@contextmanager
def one_thread() -> Iterator[None]:
    """Within the block, the BLAS libraries use one thread; the number they used comes back afterwards."""
    previous = threads()
    set_threads(1)
    try:
        yield
    finally:
        if previous is not None:
            set_threads(previous)


def threads() -> int | None:
    """How many threads MKL uses if it is in use, else NumPy's OpenBLAS; ``None`` if neither is here."""
    if _mkl is not None:
        return _mkl.threads()
    routine = getattr(_BLAS, "scipy_openblas_get_num_threads64_", None)
    if routine is None:
        return None
    routine.restype = ctypes.c_int
    return int(routine())


def supported() -> bool:
    """Whether ``axpy`` calls BLAS here (NumPy's bundled OpenBLAS was found) rather than NumPy."""
    return bool(_ROUTINES)


def axpy(alpha: float, x: np.ndarray, y: np.ndarray) -> None:
    """``y <- y + alpha x``, in place. ``x, y``: arrays of one shape and dtype (e.g. ``g`` and ``W: (in, out)``).

    Through MKL when it makes the products (one thread pool at a time), else through NumPy's OpenBLAS."""
    if y.size < MIN_SIZE:  # asked first: a small array's step is all call overhead, and NumPy's is the least
        y += alpha * x
        return
    mkl = _resolve()
    routine = mkl.axpy.get(y.dtype) if mkl is not None else _ROUTINES.get(y.dtype)
    if (routine is None or y.size >= mkl_library.MAX_SIZE or x.dtype != y.dtype or x.shape != y.shape
            or not x.flags.c_contiguous or not y.flags.c_contiguous or not y.flags.writeable):
        y += alpha * x
        return
    routine(y.size, float(alpha), x.ctypes.data, 1, y.ctypes.data, 1)  # float(): ctypes refuses NumPy scalars


def _layout(a: np.ndarray) -> tuple[int, int] | None:
    """``(CBLAS transpose flag, leading dimension)`` of a 2-D array whose rows or columns are contiguous (a C-ordered
    array or a view of its rows; ``W.T`` of one), or ``None`` for another layout."""
    rows, cols = a.shape
    step = a.itemsize
    row_stride, col_stride = a.strides
    if not a.flags.aligned or max(rows, cols) >= mkl_library.MAX_SIZE:
        return None
    if col_stride == step or cols == 1:
        lead = row_stride // step if rows > 1 else cols
        if row_stride % step == 0 and cols <= lead < mkl_library.MAX_SIZE:
            return mkl_library.NO_TRANS, lead
    if row_stride == step or rows == 1:
        lead = col_stride // step if cols > 1 else rows
        if col_stride % step == 0 and rows <= lead < mkl_library.MAX_SIZE:
            return mkl_library.TRANS, lead
    return None


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``a @ b`` (into ``out`` if given) through MKL's ``gemm`` when MKL is the step's BLAS (``active()``), else
    ``np.matmul``. ``a: (m, k)``, ``b: (k, n)``, ``out: (m, n)``.

    MKL takes float32 and float64 matrices of one dtype whose rows or columns are contiguous (``X``, ``W.T``), and
    a C-contiguous ``out`` of their dtype that overlaps neither; anything else goes to NumPy, which computes the
    same product up to rounding.
    """
    mkl = _resolve()
    gemm = mkl.gemm.get(a.dtype) if mkl is not None else None
    if (gemm is None or a.ndim != 2 or b.ndim != 2 or b.dtype != a.dtype or a.shape[1] != b.shape[0]
            or 0 in (*a.shape, b.shape[1])):
        return np.matmul(a, b) if out is None else np.matmul(a, b, out=out)
    (m, k), n = a.shape, b.shape[1]
    layouts = _layout(a), _layout(b)
    if out is not None and (out.dtype != a.dtype or out.shape != (m, n) or not out.flags.c_contiguous
                            or not out.flags.writeable or np.may_share_memory(out, a) or np.may_share_memory(out, b)):
        return np.matmul(a, b, out=out)
    if None in layouts or n >= mkl_library.MAX_SIZE:
        return np.matmul(a, b) if out is None else np.matmul(a, b, out=out)
    (a_flag, a_lead), (b_flag, b_lead) = layouts  # type: ignore[misc]
    if out is None:
        out = np.empty((m, n), a.dtype)
    gemm(mkl_library.ROW_MAJOR, a_flag, b_flag, m, n, k, 1.0, a.ctypes.data, a_lead, b.ctypes.data, b_lead, 0.0,
         out.ctypes.data, n)
    return out


_ones: dict[np.dtype, np.ndarray] = {}  # the longest vector of ones asked for yet, per dtype


def _ones_vector(n: int, dtype: np.dtype) -> np.ndarray:
    """``n`` ones of ``dtype``: a view of one array kept per dtype, grown when a longer one is asked for."""
    ones = _ones.get(dtype)
    if ones is None or len(ones) < n:
        ones = _ones[dtype] = np.ones(n, dtype)
    return ones[:n]


def mkl_for(*arrays: np.ndarray) -> mkl_library.Mkl | None:
    """MKL, for a pass over ``arrays`` worth its call: where it is the step's library, the first array has
    ``MIN_SIZE`` entries or more (and fewer than its interface takes), and all are C-contiguous, of one dtype,
    float32 or float64. Else ``None``: NumPy's turn. Their shapes are the caller's to check."""
    first = arrays[0]
    if (not MIN_SIZE <= first.size < mkl_library.MAX_SIZE or first.dtype not in (np.float32, np.float64)
            or any(a.dtype != first.dtype or not a.flags.c_contiguous for a in arrays)):
        return None
    return _resolve()


def _rows_and_row(a: np.ndarray, b: np.ndarray) -> mkl_library.Mkl | None:
    """``mkl_for`` a matrix ``a: (m, n)`` and a row ``b: (n,)``."""
    return mkl_for(a, b) if a.ndim == 2 and b.shape == (a.shape[1],) else None


def add_to_rows(a: np.ndarray, b: np.ndarray) -> None:
    """``a += b`` for every row: ``a: (m, n)``, ``b: (n,)`` (a Dense layer's bias), in place.

    With MKL, the rank-one update ``ger``: ``a <- 1 x b^T + a`` with ``x`` a column of ones, on MKL's threads. Each
    entry is ``a_ij + b_j`` rounded once, the same bits as NumPy's ``a += b``."""
    library = _rows_and_row(a, b) if a.flags.writeable else None
    if library is None:
        a += b
        return
    m, n = a.shape
    library.ger[a.dtype](mkl_library.ROW_MAJOR, m, n, 1.0, _ones_vector(m, a.dtype).ctypes.data, 1, b.ctypes.data, 1,
                         a.ctypes.data, n)


def column_sums(a: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``a.sum(axis=0)`` into ``out``: ``a: (m, n)`` (a batch's deltas), ``out: (n,)`` (a bias gradient).

    With MKL, the product ``a^T 1`` (``gemv``) on MKL's threads: the same sums up to rounding, added in another order
    than NumPy's (which is pairwise)."""
    library = _rows_and_row(a, out) if out.flags.writeable and not np.may_share_memory(a, out) else None
    if library is None:
        return a.sum(axis=0, out=out)
    m, n = a.shape
    library.gemv[a.dtype](mkl_library.ROW_MAJOR, mkl_library.TRANS, m, n, 1.0, a.ctypes.data, n,
                          _ones_vector(m, a.dtype).ctypes.data, 1, 0.0, out.ctypes.data, 1)
    return out
