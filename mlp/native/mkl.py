"""Intel's MKL through ctypes, from the ``mkl`` wheel: ``gemm`` (matrix products), ``axpy``, ``ger`` and ``gemv`` (a
bias added to every row, the column sums), the vector-math routines of ``mlp.native.vector`` and its thread count.

The ``mkl`` extra (``pip install numpy-mlp[mkl]``) installs Intel's wheel, which holds shared libraries and no
Python module: ``libmkl_rt`` (the single dynamic library that loads the others) in the environment's ``lib``
folder, with Intel's OpenMP runtime (``libiomp5``) beside it from ``intel-openmp``. ``find_library`` locates it
through the wheel's list of files, else through the system's library path. ``load`` opens it and sets it up
before its first computation:

- the LP64 interface (32-bit integers: the sizes here are far below 2^31) and Intel's OpenMP threading layer,
  whose runtime copies the calling thread's floating-point control (the flush-to-zero flags of
  ``mlp.native.fpenv``) into its worker threads at every parallel region (``KMP_INHERIT_FP_CONTROL``, on by
  default), so denormal operands are flushed on every thread;
- conditional numerical reproducibility in its ``AUTO`` mode (``MKL_CBWR``, unless the environment sets it):
  MKL otherwise may take another code path for operands at another memory alignment, and NumPy's arrays
  are not aligned alike from run to run. With it, one CPU and one thread count give the same bits every run;
  another thread count may round differently, as OpenBLAS does, so processes that must agree run on one
  thread (``mlp.native.blas.one_thread``);
- the thread count it is given, always (``MKL_Set_Dynamic(0)``, unless the environment sets ``MKL_DYNAMIC``):
  MKL otherwise takes fewer threads when it finds the machine busy, and the products then round differently
  from one call to the next.

``load`` refuses MKL where another OpenMP runtime is in the way of its threads: PyTorch's ``libgomp``, when PyTorch
was imported before MKL was loaded (``_other_openmp_runtime``; MLflow and tensorboardX import PyTorch where it is
installed, so ``mlp.loggers`` loads the step's BLAS before them). It then checks a small product against NumPy, so
that a library that opens but computes wrongly (a broken install) is refused like a missing one. ``MklError`` says
why, and ``mlp.native.blas`` falls back to OpenBLAS with one warning.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from importlib import metadata
from pathlib import Path

import numpy as np

DISTRIBUTION = "mkl"  # the wheel on the package index
ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112  # CBLAS's enums
MAX_SIZE = 2**31  # the LP64 interface takes 32-bit sizes: larger arrays take NumPy's path
_THREADING_INTEL, _INTERFACE_LP64, _CBWR_AUTO, _CBWR_SUCCESS = 0, 0, 2, 0


class MklError(OSError):
    """MKL is not installed here, or its library cannot be used; the message says which and why."""


class OpenMPConflictError(MklError):
    """Another OpenMP runtime came into the process's global symbols before MKL's: MKL cannot be used in it."""


class _DlInfo(ctypes.Structure):
    """glibc's ``Dl_info``: where ``dladdr`` finds an address."""

    _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p), ("dli_sname", ctypes.c_char_p),
                ("dli_saddr", ctypes.c_void_p)]


def _other_openmp_runtime() -> str | None:
    """The file name of the OpenMP runtime that MKL's Intel threading layer would call, if it is not Intel's
    (``libiomp5``); ``None`` if it is, or where this cannot be told (not Linux).

    The threading layer's library takes ``omp_get_thread_num`` and the like from the process's global symbols.
    Where a GNU OpenMP runtime (``libgomp``) got there first, as PyTorch's does when it is imported before MKL is
    loaded, each of MKL's threads asks the wrong runtime which one it is, and they compute wrong products (seen:
    two threads, a third of 300 products of 32 x 2048 by 2048 x 256 off by up to 199). Once MKL is loaded first,
    a runtime that comes later does not take its place."""
    if not sys.platform.startswith("linux"):
        return None
    scope = ctypes.CDLL(None)  # the global symbols, in the order the libraries came
    function = getattr(scope, "omp_get_thread_num", None)
    where = getattr(scope, "dladdr", None)
    if function is None or where is None:
        return None
    info = _DlInfo()
    if not where(ctypes.cast(function, ctypes.c_void_p), ctypes.byref(info)) or not info.dli_fname:
        return None
    name = Path(os.fsdecode(info.dli_fname)).name
    return None if name.startswith(("libiomp5", "libmkl")) else name


def find_library() -> Path | None:
    """``libmkl_rt`` of the installed ``mkl`` wheel, else the one on the system's library path, else ``None``."""
    try:
        files = metadata.distribution(DISTRIBUTION).files or []
    except metadata.PackageNotFoundError:
        files = []
    for file in files:
        if file.name.startswith(("libmkl_rt.", "mkl_rt.")) and file.suffix != ".a":
            path = Path(str(file.locate())).resolve()
            if path.exists():
                return path
    name = ctypes.util.find_library("mkl_rt")
    return Path(name) if name else None


class Mkl:
    """An opened and checked ``libmkl_rt``: its routines by dtype (``gemm``, ``axpy``, ``ger``, ``gemv``; ``fdim``,
    ``fmin``, ``ceil`` and ``mul`` of its vector math), the thread count, the version."""

    def __init__(self, library: ctypes.CDLL) -> None:
        self.library = library
        self.gemm, self.axpy, self.ger, self.gemv = {}, {}, {}, {}
        self.fdim, self.fmin, self.ceil, self.mul = {}, {}, {}, {}
        c_int, pointer = ctypes.c_int, ctypes.c_void_p
        for dtype, letter, scalar in ((np.dtype(np.float32), "s", ctypes.c_float),
                                      (np.dtype(np.float64), "d", ctypes.c_double)):
            # The CBLAS routines (layout and transpose flags are CBLAS's enums, sizes and increments ints):
            # gemm(layout, transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc): c <- alpha op(a) op(b)+beta c
            # axpy(n, alpha, x, incx, y, incy): y <- alpha x + y
            # ger(layout, m, n, alpha, x, incx, y, incy, a, lda): a <- alpha x y^T + a
            # gemv(layout, trans, m, n, alpha, a, lda, x, incx, beta, y, incy): y <- alpha op(a) x + beta y
            signatures = {
                "gemm": [c_int] * 6 + [scalar, pointer, c_int, pointer, c_int, scalar, pointer, c_int],
                "axpy": [c_int, scalar, pointer, c_int, pointer, c_int],
                "ger": [c_int, c_int, c_int, scalar, pointer, c_int, pointer, c_int, pointer, c_int],
                "gemv": [c_int, c_int, c_int, c_int, scalar, pointer, c_int, pointer, c_int, scalar, pointer, c_int],
            }
            for name, argtypes in signatures.items():
                routine = getattr(library, f"cblas_{letter}{name}")
                routine.argtypes, routine.restype = argtypes, None
                getattr(self, name)[dtype] = routine
            # Vector math, elementwise on n entries: the "I" forms take an increment after each array, so that an
            # increment of 0 repeats one scalar. fdimI(n, a, inca, b, incb, y, incy): y <- fdim(a, b), which is
            # a - b where a > b, +0 where not, NaN where either is NaN; fminI likewise min(a, b) (the number where
            # one is NaN); ceil(n, a, y); mul(n, a, b, y): y <- a b.
            for name, argtypes in (("fdim", [c_int, pointer, c_int, pointer, c_int, pointer, c_int]),
                                   ("fmin", [c_int, pointer, c_int, pointer, c_int, pointer, c_int]),
                                   ("ceil", [c_int, pointer, pointer]), ("mul", [c_int, pointer, pointer, pointer])):
                routine = getattr(library, f"v{letter}{name.capitalize()}{'I' if name in ('fdim', 'fmin') else ''}")
                routine.argtypes, routine.restype = argtypes, None
                getattr(self, name)[dtype] = routine
        library.MKL_Get_Max_Threads.restype = c_int
        library.MKL_Set_Num_Threads.argtypes, library.MKL_Set_Num_Threads.restype = [c_int], None

    def threads(self) -> int:
        """How many threads MKL's products use."""
        return int(self.library.MKL_Get_Max_Threads())

    def set_threads(self, n: int) -> None:
        """Let MKL use ``n`` threads from now on."""
        self.library.MKL_Set_Num_Threads(int(n))

    def version(self) -> str:
        """``"MKL 2026.2"``: the version the library reports."""
        text = ctypes.create_string_buffer(256)
        self.library.MKL_Get_Version_String(text, len(text))
        words = text.value.decode(errors="replace").split()
        number = words[words.index("Version") + 1].split("-")[0] if "Version" in words else "(version unknown)"
        return f"MKL {number}"


def load(path: Path | None = None) -> Mkl:
    """Open MKL (``find_library()`` unless ``path``), set it up as the module says and check a product.

    Raises:
        MklError: it is not installed, does not open, lacks a routine, or computes a wrong product.
        OpenMPConflictError: another OpenMP runtime is in the way of its threads (``_other_openmp_runtime``).
    """
    path = path or find_library()
    if path is None:
        raise MklError("MKL is not installed")
    try:
        library = ctypes.CDLL(str(path))
        # The C entry points (capitalised; the lower-case names are Fortran's, which take pointers)
        library.MKL_Set_Interface_Layer.argtypes = library.MKL_Set_Threading_Layer.argtypes = [ctypes.c_int]
        library.MKL_Set_Interface_Layer(_INTERFACE_LP64)
        library.MKL_Set_Threading_Layer(_THREADING_INTEL)
        if "MKL_CBWR" not in os.environ:
            library.MKL_CBWR_Set.argtypes, library.MKL_CBWR_Set.restype = [ctypes.c_int], ctypes.c_int
            if library.MKL_CBWR_Set(_CBWR_AUTO) != _CBWR_SUCCESS:
                raise MklError(f"{path.name} refused its reproducible mode (MKL_CBWR_Set)")
        if "MKL_DYNAMIC" not in os.environ:
            library.MKL_Set_Dynamic.argtypes, library.MKL_Set_Dynamic.restype = [ctypes.c_int], None
            library.MKL_Set_Dynamic(0)
        mkl = Mkl(library)
    except (OSError, AttributeError) as err:  # the file does not open, or a routine is missing
        raise MklError(f"{path.name} cannot be used: {err}") from err
    mkl.threads()  # the threading layer starts, loading Intel's OpenMP runtime
    other = _other_openmp_runtime()
    if other is not None:
        raise OpenMPConflictError(f"{path.name} cannot run beside {other}, the OpenMP runtime another library "
                                  "(PyTorch, for one) brought into this process first: its threads would compute "
                                  "wrong products")
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    product = np.zeros((2, 2), np.float32)
    mkl.gemm[a.dtype](ROW_MAJOR, NO_TRANS, TRANS, 2, 2, 3, 1.0, a.ctypes.data, 3, a.ctypes.data, 3, 0.0,
                      product.ctypes.data, 2)
    if not np.array_equal(product, a @ a.T):  # small integers: exact in any order
        raise MklError(f"{path.name} computed a wrong matrix product")
    return mkl
