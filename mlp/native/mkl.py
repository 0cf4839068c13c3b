"""Intel's MKL through ctypes: ``gemm`` (matrix products), ``axpy`` and its thread count, from the ``mkl`` wheel.

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
  MKL otherwise takes fewer threads when it finds the machine busy, for instance when another OpenMP runtime
  has threads in the process (PyTorch's, which MLflow and tensorboardX import where it is installed), and the
  products then round differently from one call to the next.

``load`` then checks a small product against NumPy, so that a library that opens but computes wrongly (a
broken install) is refused like a missing one: ``MklError`` says why, and ``mlp.native.blas`` falls back to
OpenBLAS with one warning.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from importlib import metadata
from pathlib import Path

import numpy as np

DISTRIBUTION = "mkl"  # the wheel on the package index
ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112  # CBLAS's enums
_THREADING_INTEL, _INTERFACE_LP64, _CBWR_AUTO, _CBWR_SUCCESS = 0, 0, 2, 0


class MklError(OSError):
    """MKL is not installed here, or its library cannot be used; the message says which and why."""


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
    """An opened and checked ``libmkl_rt``: ``gemm`` and ``axpy`` by dtype, the thread count, the version."""

    def __init__(self, library: ctypes.CDLL) -> None:
        self.library = library
        self.gemm = {}
        self.axpy = {}
        c_int, pointer = ctypes.c_int, ctypes.c_void_p
        for dtype, letter, scalar in ((np.dtype(np.float32), "s", ctypes.c_float),
                                      (np.dtype(np.float64), "d", ctypes.c_double)):
            gemm = getattr(library, f"cblas_{letter}gemm")
            # gemm(layout, transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc): c <- alpha op(a) op(b)+beta c
            # axpy(n, alpha, x, incx, y, incy): y <- alpha x + y
            gemm.argtypes = [c_int] * 6 + [scalar, pointer, c_int, pointer, c_int, scalar, pointer, c_int]
            gemm.restype = None
            axpy = getattr(library, f"cblas_{letter}axpy")
            axpy.argtypes, axpy.restype = [c_int, scalar, pointer, c_int, pointer, c_int], None
            self.gemm[dtype], self.axpy[dtype] = gemm, axpy
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
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    product = np.zeros((2, 2), np.float32)
    mkl.gemm[a.dtype](ROW_MAJOR, NO_TRANS, TRANS, 2, 2, 3, 1.0, a.ctypes.data, 3, a.ctypes.data, 3, 0.0,
                      product.ctypes.data, 2)
    if not np.array_equal(product, a @ a.T):  # small integers: exact in any order
        raise MklError(f"{path.name} computed a wrong matrix product")
    return mkl
