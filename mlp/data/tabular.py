"""Your own data: CSV files and NPZ archives -> features ``x: (n, features)`` float32 and targets ``y``.

Class targets (integers or strings) are mapped to indices ``0..k-1`` in sorted order and the original
values are kept as the class names, so predictions can be reported in the user's terms. Real-valued
targets are kept as they are (regression).
"""

from __future__ import annotations

import csv
import math
import zipfile
from pathlib import Path

import numpy as np

from mlp.data.idx import DataError


def _as_class_indices(values: np.ndarray, where: str) -> tuple[np.ndarray, list[str]]:
    classes, indices = np.unique(values, return_inverse=True)
    if len(classes) < 2:
        raise DataError(f"{where} has a single class ({classes[0] if len(classes) else 'none'}); "
                        f"a classifier needs at least two")
    return indices.astype(np.int64), [str(c) for c in classes]


def _encode_targets(raw: list[str], task: str, where: str) -> tuple[np.ndarray, list[str] | None]:
    """Targets from text: class indices (with names) or float values, by ``task``."""
    try:
        numbers = [float(v) for v in raw]
    except ValueError:
        numbers = None
    if task == "regression":
        if numbers is None:
            raise DataError(f"{where} holds non-numbers, so it cannot be a regression target")
        return np.asarray(numbers, dtype=np.float32), None
    if task == "auto" and numbers is not None and not all(v.is_integer() for v in numbers):
        return np.asarray(numbers, dtype=np.float32), None
    if numbers is not None and all(v.is_integer() for v in numbers):
        return _as_class_indices(np.asarray(numbers, dtype=np.int64), where)
    return _as_class_indices(np.asarray(raw), where)


def _check_finite(x: np.ndarray, where: str) -> None:
    bad = np.argwhere(~np.isfinite(x))
    if len(bad):
        row, col = bad[0]
        raise DataError(f"{where}: row {row}, feature {col} is {x[row, col]}; fill in or drop missing "
                        f"and infinite values")


def load_csv(
    path: str | Path,
    target: str | int = -1,
    header: bool | None = None,
    delimiter: str = ",",
    task: str = "auto",
) -> tuple[np.ndarray, np.ndarray, list[str] | None]:
    """Read a CSV of numeric features and one target column.

    Args:
        target: the target column's name (needs a header) or index (negative counts from the end).
        header: whether the first line names the columns; ``None`` detects it (a non-number in it).
        task: "classification", "regression", or "auto" (classes if every target is an integer or a
            word, regression if some are fractional).

    Returns:
        ``x: (n, features)`` float32, ``y: (n,)`` class indices (int64) or values (float32), and the
        class names (``None`` for regression).
    """
    path = Path(path)
    if task not in ("auto", "classification", "regression"):
        raise ValueError(f"task must be 'auto', 'classification' or 'regression', got {task!r}")
    try:
        with open(path, newline="") as f:
            rows = [(n, row) for n, row in enumerate(csv.reader(f, delimiter=delimiter), 1) if row]
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except (UnicodeDecodeError, csv.Error) as err:
        raise DataError(f"{path} is not a readable CSV file ({err})") from None
    if not rows:
        raise DataError(f"{path} is empty")
    width = len(rows[0][1])
    for line, row in rows:
        if len(row) != width:
            raise DataError(f"{path} line {line} has {len(row)} fields, but the first line has {width}")
    if header is None:
        header = not all(is_number(cell) for cell in rows[0][1])
    names = [c.strip() for c in rows[0][1]] if header else [str(i) for i in range(width)]
    body = rows[1:] if header else rows
    if not body:
        raise DataError(f"{path} has a header but no data rows")
    if isinstance(target, str) and header and target in names:
        column = names.index(target)
    elif isinstance(target, int) or target.lstrip("-").isdigit():
        column = int(target)
        if not -width <= column < width:
            raise DataError(f"{path} has {width} columns, so there is no target column {column}")
        column %= width
    else:
        raise DataError(f"{path} has no column {target!r}; its columns are {', '.join(names)}")
    features = [i for i in range(width) if i != column]
    x = np.empty((len(body), len(features)), dtype=np.float32)
    for r, (line, row) in enumerate(body):
        for c, i in enumerate(features):
            try:
                value = float(row[i])
            except ValueError:
                raise DataError(f"{path} line {line}, column {names[i]!r}: {row[i]!r} is not a number") from None
            if not math.isfinite(value):
                raise DataError(f"{path} line {line}, column {names[i]!r}: {row[i].strip()} is not allowed; "
                                f"fill in or drop missing and infinite values")
            x[r, c] = value
    y, classes = _encode_targets([row[column].strip() for _, row in body], task, f"{path} column {names[column]!r}")
    return x, y, classes


def is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def load_npz(
    path: str | Path, x_key: str = "x", y_key: str = "y", task: str = "auto"
) -> tuple[np.ndarray, np.ndarray, list[str] | None]:
    """Read arrays ``x_key: (n, features)`` and ``y_key: (n,)`` (or ``(n, k)`` for regression) from an ``.npz``.

    Returns ``x`` as float32, ``y`` as class indices (integer or string labels) or float32 values, and
    the class names (``None`` for regression).
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            if f.read(2) != b"PK":  # an .npz is a zip archive; anything else np.load would take for a pickle
                raise DataError(f"{path} is not a readable .npz file (not a zip archive)")
            f.seek(0)
            with np.load(f, allow_pickle=False) as npz:
                missing = [k for k in (x_key, y_key) if k not in npz.files]
                if missing:
                    raise DataError(f"{path} has no array {missing[0]!r}; it has {', '.join(npz.files) or 'none'} "
                                    f"(choose others with x_key= / y_key=)")
                x, y = npz[x_key], npz[y_key]
    except DataError:
        raise
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except (zipfile.BadZipFile, EOFError, OSError) as err:
        raise DataError(f"{path} is not a readable .npz file ({err})") from None
    except ValueError as err:  # object arrays need pickle, which is never allowed
        raise DataError(f"{path} holds arrays that cannot be read safely ({err}); save plain numeric arrays") from None
    if x.ndim != 2:
        raise DataError(f"{path}: {x_key!r} must be 2-D (samples, features), got shape {x.shape}")
    if len(x) != len(y):
        raise DataError(f"{path}: {x_key!r} has {len(x)} rows but {y_key!r} has {len(y)}")
    try:
        x = x.astype(np.float32)
    except ValueError:
        raise DataError(f"{path}: {x_key!r} is not numeric ({x.dtype})") from None
    _check_finite(x, str(path))
    where = f"{path} array {y_key!r}"
    if task == "regression" or (task == "auto" and np.issubdtype(y.dtype, np.floating)
                                and not np.all(np.mod(y, 1) == 0)):
        return x, y.astype(np.float32), None
    if y.ndim != 1:
        raise DataError(f"{where} must be 1-D class labels, got shape {y.shape}")
    y_indices, classes = _as_class_indices(y, where)
    return x, y_indices, classes
