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


def finite(values: Any, dtype: DTypeLike | None, what: str, error: type[Exception] = ValueError,
           unit: str = "column") -> np.ndarray:
    """``values`` as an array (converted to ``dtype``, if given) whose every entry is finite; otherwise
    ``error`` naming the first entry that is not, or that the conversion made infinite (a value beyond the
    range of float32, say). ``what`` names the array in the message ("fit: x"), ``unit`` its second axis."""
    original = np.asarray(values)
    with np.errstate(over="ignore"):  # a value beyond dtype's range becomes inf, reported below
        array = original.astype(dtype, copy=False) if dtype is not None else original
    where = first_non_finite(array)
    if where is None:
        return array
    place = f"row {where[0]}" + (f", {unit} {where[1]}" if len(where) > 1 else "")
    before = original[where]
    if np.isfinite(before):
        raise error(f"{what} {place} is {before:g}, beyond the range of {array.dtype} (largest "
                    f"{np.finfo(array.dtype).max:.3g}); rescale the data")
    raise error(f"{what} {place} is {before}; fill in or drop missing and infinite values")
