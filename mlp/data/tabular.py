"""Your own data: CSV files and NPZ archives -> features ``x: (n, features)`` float32 and targets ``y``.

Class targets (integers or strings) are mapped to indices ``0..k-1`` in sorted order and the original
values are kept as the class names, so predictions can be reported in the user's terms. Real-valued
targets are kept as they are (regression).
"""

from __future__ import annotations

import csv
import math
import zipfile
from collections.abc import Callable
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


def map_classes(
    y: np.ndarray, file_classes: list[str] | None, classes: list[str], where: str, owner: str
) -> np.ndarray:
    """Class indices ``y: (n,)`` into the names ``file_classes`` (what a file's labels became) -> indices into
    ``classes`` (a training file's, a model's), matched by name.

    ``where`` names the data and ``owner`` what ``classes`` belong to, for the error when a label is not
    one of ``classes`` or the targets are real values.
    """
    if file_classes is None:
        raise DataError(f"{where} has real-valued targets, not the classes of {owner} ({', '.join(classes)})")
    unknown = sorted(set(file_classes) - set(classes))
    if unknown:
        raise DataError(f"{where} has classes that {owner} does not: {', '.join(unknown)}")
    return np.array([classes.index(c) for c in file_classes], dtype=np.int64)[y]


def _check_finite(x: np.ndarray, where: str) -> None:
    bad = np.argwhere(~np.isfinite(x))
    if len(bad):
        row, col = bad[0]
        raise DataError(f"{where}: row {row}, feature {col} is {x[row, col]}; fill in or drop missing "
                        f"and infinite values")


def _read_rows(path: Path, header: bool | None, delimiter: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The column names of a CSV file (its header, or "0", "1"... without one; ``header=None`` detects it:
    a non-number in the first line) and its non-empty data rows, each with its line number."""
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
    return names, body


def _parse_features(path: Path, names: list[str], body: list[tuple[int, list[str]]], columns: list[int]) -> np.ndarray:
    """The cells of ``columns`` as numbers ``(rows, len(columns))`` float32; a non-number or a missing
    or infinite value is an error naming the line and column."""
    x = np.empty((len(body), len(columns)), dtype=np.float32)
    for r, (line, row) in enumerate(body):
        for c, i in enumerate(columns):
            try:
                value = float(row[i])
            except ValueError:
                raise DataError(f"{path} line {line}, column {names[i]!r}: {row[i]!r} is not a number") from None
            if not math.isfinite(value):
                raise DataError(f"{path} line {line}, column {names[i]!r}: {row[i].strip()} is not allowed; "
                                f"fill in or drop missing and infinite values")
            x[r, c] = value
    return x


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
    names, body = _read_rows(path, header, delimiter)
    width = len(names)
    if isinstance(target, str) and target in names:  # without a header, names are "0", "1"...: the same column
        column = names.index(target)
    elif isinstance(target, int) or target.lstrip("-").isdigit():
        column = int(target)
        if not -width <= column < width:
            raise DataError(f"{path} has {width} columns, so there is no target column {column}")
        column %= width
    else:
        raise DataError(f"{path} has no column {target!r}; its columns are {', '.join(names)}")
    x = _parse_features(path, names, body, [i for i in range(width) if i != column])
    y, classes = _encode_targets([row[column].strip() for _, row in body], task, f"{path} column {names[column]!r}")
    return x, y, classes


def load_features_csv(
    path: str | Path, header: bool | None = None, delimiter: str = ",", features: int | None = None
) -> np.ndarray:
    """Read a CSV of numeric features only, no target column (rows to predict): ``x: (n, columns)`` float32.

    Args:
        header: whether the first line names the columns; ``None`` detects it (a non-number in it).
        features: the number of inputs of the model the rows are for: another number of columns is an
            error (checked before the cells are read, so that a target column of words is named as such).
    """
    path = Path(path)
    names, body = _read_rows(path, header, delimiter)
    if features is not None:
        check_feature_count(str(path), len(names), features)
    return _parse_features(path, names, body, list(range(len(names))))


def check_feature_count(where: str, width: int, features: int, table: bool = True) -> None:
    """Unless data ``width`` wide fits a model of ``features`` inputs, an error naming ``where``; for a
    ``table`` (a file's columns), with the likely cause of one column too many: a target column."""
    if width != features:
        unit = "column" if table else "feature"
        hint = "; drop the target column" if table and width == features + 1 else ""
        raise DataError(f"{where} has {width} {unit}{'s' * (width != 1)}, the model takes {features} "
                        f"feature{'s' * (features != 1)}{hint}")


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

    def choose(names: list[str]) -> list[str]:
        missing = [k for k in (x_key, y_key) if k not in names]
        if missing:
            raise DataError(f"{path} has no array {missing[0]!r}; it has {', '.join(names) or 'none'} "
                            f"(choose others with x_key= / y_key=)")
        return [x_key, y_key]

    arrays = _read_npz(path, choose)
    x, y = _as_features(arrays[x_key], path, x_key), arrays[y_key]
    if len(x) != len(y):
        raise DataError(f"{path}: {x_key!r} has {len(x)} rows but {y_key!r} has {len(y)}")
    where = f"{path} array {y_key!r}"
    if task == "regression" or (task == "auto" and np.issubdtype(y.dtype, np.floating)
                                and not np.all(np.mod(y, 1) == 0)):
        return x, y.astype(np.float32), None
    if y.ndim != 1:
        raise DataError(f"{where} must be 1-D class labels, got shape {y.shape}")
    y_indices, classes = _as_class_indices(y, where)
    return x, y_indices, classes


def load_features_npz(path: str | Path, x_key: str | None = None) -> np.ndarray:
    """Read the features ``x: (n, features)`` (float32) of an ``.npz``: the array ``x_key``; by default
    ``"x"``, or the only array in the file."""
    path = Path(path)

    def choose(names: list[str]) -> list[str]:
        key = x_key if x_key is not None else names[0] if len(names) == 1 else "x"
        if key not in names:
            raise DataError(f"{path} has no array {key!r}; it has {', '.join(names) or 'none'} "
                            f"(name the features array x, or keep only it in the file)")
        return [key]

    ((key, x),) = _read_npz(path, choose).items()
    return _as_features(x, path, key)


def _read_npz(path: Path, choose: Callable[[list[str]], list[str]]) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` named by ``choose(names of the file's arrays)``, read without pickle."""
    try:
        with open(path, "rb") as f:
            if f.read(2) != b"PK":  # an .npz is a zip archive; anything else np.load would take for a pickle
                raise DataError(f"{path} is not a readable .npz file (not a zip archive)")
            f.seek(0)
            with np.load(f, allow_pickle=False) as npz:
                return {key: npz[key] for key in choose(list(npz.files))}
    except DataError:
        raise
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except (zipfile.BadZipFile, EOFError, OSError) as err:
        raise DataError(f"{path} is not a readable .npz file ({err})") from None
    except ValueError as err:  # object arrays need pickle, which is never allowed
        raise DataError(f"{path} holds arrays that cannot be read safely ({err}); save plain numeric arrays") from None


def _as_features(x: np.ndarray, path: Path, key: str) -> np.ndarray:
    """An array read from ``path`` as features: 2-D, numeric, finite; float32."""
    if x.ndim != 2:
        raise DataError(f"{path}: {key!r} must be 2-D (samples, features), got shape {x.shape}")
    try:
        x = x.astype(np.float32)
    except ValueError:
        raise DataError(f"{path}: {key!r} is not numeric ({x.dtype})") from None
    _check_finite(x, str(path))
    return x
