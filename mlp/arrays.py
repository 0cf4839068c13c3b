"""Arrays handed to ``mlp`` must hold finite numbers: a NaN or an infinity in the data is a data error, named
where it is, not a divergence found epochs later or a silently wrong prediction."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import DTypeLike


def first_non_finite(array: np.ndarray) -> tuple[int, ...] | None:
    """The index of the first NaN or infinite entry of ``array`` (``None`` if there is none, or if it does
    not hold floats)."""
    if not np.issubdtype(array.dtype, np.inexact) or np.isfinite(array).all():
        return None
    return tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])


class SparseRows:
    """A SciPy sparse matrix ``(n, features)`` seen as rows to train on: ``rows[index]`` (an index array, a batch)
    is those rows as a dense array, so that training densifies one batch at a time, never the whole matrix;
    ``rows[a:b]`` stays sparse. ``len(rows)``, ``shape`` and ``dtype`` are the matrix's."""

    def __init__(self, matrix: Any, dtype: DTypeLike | None = None) -> None:
        self.matrix = matrix.tocsr()  # fast row slicing
        if dtype is not None:
            self.matrix = self.matrix.astype(dtype, copy=False)

    @property
    def shape(self) -> tuple[int, int]:
        return self.matrix.shape

    @property
    def dtype(self) -> np.dtype:
        return self.matrix.dtype

    def __len__(self) -> int:
        return self.matrix.shape[0]

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return SparseRows(self.matrix[index])
        return self.matrix[index].toarray()

    def dense(self, rows: slice) -> np.ndarray:
        """The rows of ``rows`` (a slice), densified: a chunk of the matrix for a forward pass."""
        return self.matrix[rows].toarray()


def finite(values: Any, dtype: DTypeLike | None, what: str, error: type[Exception] = ValueError,
           unit: str = "column") -> Any:
    """``values`` as an array (converted to ``dtype``, if given) whose every entry is finite; otherwise
    ``error`` naming the first entry that is not, or that the conversion made infinite (a value beyond the
    range of float32, say). ``what`` names the array in the message ("fit: x"), ``unit`` its second axis.
    ``SparseRows`` stay sparse (their stored entries are checked)."""
    if isinstance(values, SparseRows):
        matrix = values.matrix
        with np.errstate(over="ignore"):
            rows = SparseRows(matrix, dtype)
        where = first_non_finite(rows.matrix.data)
        if where is not None:  # the stored entry's row and column: CSR keeps rows in indptr, columns in indices
            entry = where[0]
            row = int(np.searchsorted(matrix.indptr, entry, side="right")) - 1
            _refuse(what, (row, int(matrix.indices[entry])), matrix.data[entry], rows.dtype, error, unit)
        return rows
    original = np.asarray(values)
    with np.errstate(over="ignore"):  # a value beyond dtype's range becomes inf, reported below
        array = original.astype(dtype, copy=False) if dtype is not None else original
    where = first_non_finite(array)
    if where is None:
        return array
    return _refuse(what, where, original[where], array.dtype, error, unit)


def _refuse(what: str, where: tuple[int, ...], before: Any, dtype: np.dtype, error: type[Exception],
            unit: str) -> Any:
    """Raise ``error`` for the entry at ``where``, ``before`` conversion to ``dtype``."""
    place = f"row {where[0]}" + (f", {unit} {where[1]}" if len(where) > 1 else "")
    if np.isfinite(before):
        raise error(f"{what} {place} is {before:g}, beyond the range of {dtype} (largest "
                    f"{np.finfo(dtype).max:.3g}); rescale the data")
    raise error(f"{what} {place} is {before}; fill in or drop missing and infinite values")
