"""Your own data: CSV files and NPZ archives -> features ``x: (n, features)`` float32 and targets ``y``.

Class targets (integers or strings) are mapped to indices ``0..k-1`` in sorted order and the original
values are kept as the class names, so predictions can be reported in the user's terms. Real-valued
targets are kept as they are (regression). Registered in ``DATASETS`` as ``csv`` and ``npz``.
"""

from __future__ import annotations

import csv
import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from mlp.arrays import finite, first_non_finite
from mlp.data.dataset import DATASETS, Dataset, DatasetSource
from mlp.data.idx import DataError
from mlp.data.split import hold_out
from mlp.files.npzfile import read_npz, require_arrays
from mlp.files.reading import check_regular_file
from mlp.messages import name_list, quoted, shorten
from mlp.settings import FRACTION, REQUIRED, Key, is_number


def as_class_indices(values: np.ndarray, where: str) -> tuple[np.ndarray, list[str]]:
    """Labels as indices into their sorted distinct values, the class names. A file may hold one class only (a
    test file, rows to evaluate); training on it is refused where the network is built."""
    classes, indices = np.unique(values, return_inverse=True)
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
        return as_class_indices(np.asarray(numbers, dtype=np.int64), where)
    return as_class_indices(np.asarray(raw), where)


def map_classes(
    y: np.ndarray, file_classes: list[str] | None, classes: list[str], where: str, owner: str
) -> np.ndarray:
    """Class indices ``y: (n,)`` into the names ``file_classes`` (what a file's labels became) -> indices into
    ``classes`` (a training file's, a model's), matched by name.

    ``where`` names the data and ``owner`` what ``classes`` belong to, for the error when a label is not
    one of ``classes`` or the targets are real values.
    """
    if file_classes is None:
        raise DataError(f"{where} has real-valued targets, not the classes of {owner} ({name_list(classes)})")
    unknown = sorted(set(file_classes) - set(classes))
    if unknown:
        raise DataError(f"{where} has classes that {owner} does not: {name_list(unknown)}")
    return np.array([classes.index(c) for c in file_classes], dtype=np.int64)[y]


MAX_COLUMNS = 1_000_000  # far more than any table an MLP trains on; a longer line is refused, not parsed
LONG_LINE = 1 << 20  # characters: a longer line is only counted, not split, when looking for a problem
FLOAT32_MAX = float(np.finfo(np.float32).max)


@dataclass(frozen=True)
class _Layout:
    """A CSV file's column ``names`` (its header's, or "0", "1"... without one) and ``skip``, the lines before
    its first data row."""

    path: Path
    names: list[str]
    skip: int
    delimiter: str


def _layout(path: Path, header: bool | None, delimiter: str) -> _Layout:
    """The layout, from the file's first non-empty line alone (``header=None`` detects a header: a
    non-number in that line)."""
    check_regular_file(path, "a CSV file", DataError)
    try:
        with open(path, "rb") as f:  # line by line: a text reader would decode (and fail on) text further on
            lines = 0
            for raw in f:
                lines += 1
                if raw.strip():
                    break
            else:
                raise DataError(f"{path} is empty")
        line = raw.decode("utf-8-sig")  # the BOM that spreadsheet programs put first is not a character
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise DataError(f"{path} line {lines} is not UTF-8 text; save the file as UTF-8") from None
    except IsADirectoryError as err:
        raise DataError(f"{path} is not a readable CSV file ({shorten(str(err))})") from None
    except OSError as err:  # a read that fails without naming the file: "[Errno 5] Input/output error"
        raise DataError(f"cannot read {path}: {err.strerror or err}") from None
    if line.count(delimiter) >= MAX_COLUMNS:
        raise DataError(f"{path} line {lines} has {line.count(delimiter) + 1:,} fields; mlp reads at most "
                        f"{MAX_COLUMNS:,} columns")
    first = _fields(line, delimiter, f"{path} line {lines}")
    if header is None:
        header = not all(is_number(cell) for cell in first)
    names = [c.strip() for c in first] if header else [str(i) for i in range(len(first))]
    return _Layout(path, names, lines if header else lines - 1, delimiter)


def _fields(line: str, delimiter: str, where: str) -> list[str]:
    try:
        return next(csv.reader([line], delimiter=delimiter))
    except csv.Error as err:
        raise DataError(f"{where} cannot be read as CSV ({shorten(str(err))})") from None


def _data_lines(layout: _Layout) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` of each non-empty data line, one at a time."""
    with open(layout.path, "rb") as f:
        for number, raw in enumerate(f, 1):
            if number <= layout.skip:
                continue
            try:
                line = raw.decode("utf-8-sig")  # the BOM that spreadsheet programs put first is not a character
            except UnicodeDecodeError:
                raise DataError(f"{layout.path} line {number} is not UTF-8 text; save the file as UTF-8") from None
            if line.strip():
                yield number, line


def _cell_problem(text: str) -> str | None:
    """What is wrong with a cell that should hold a float32 number, or ``None``."""
    try:
        value = float(text)
    except ValueError:
        return f"{shorten(text.strip())!r} is not a number"
    if not math.isfinite(value):
        return f"{text.strip()} is not allowed; fill in or drop missing and infinite values"
    if abs(value) > FLOAT32_MAX:
        return (f"{text.strip()} is beyond the range of float32 (largest {FLOAT32_MAX:.3g}), which mlp trains in; "
                f"rescale the column")
    return None


def _first_problem(layout: _Layout, columns: list[int]) -> DataError | None:
    """The first problem in the data lines, streaming: a line of another width, or a cell of ``columns`` that
    is not a finite float32 number; each named by line and column. Memory stays that of one line."""
    width = len(layout.names)
    for number, line in _data_lines(layout):
        fields = _fields(line, layout.delimiter, f"{layout.path} line {number}")
        if len(fields) != width:
            return DataError(f"{layout.path} line {number} has {len(fields)} fields, but the first line has {width}")
        for column in columns:
            problem = _cell_problem(fields[column])
            if problem is not None:
                return DataError(f"{layout.path} line {number}, column {quoted(layout.names[column])}: {problem}")
    return None


def _check_long_lines(layout: _Layout) -> None:
    """Refuse a line much longer than a line of the table can be before NumPy's parser splits it (which takes
    about twelve bytes per character): one pass over the file, a tenth of the parse's time."""
    width, delimiter = len(layout.names), layout.delimiter.encode()
    with open(layout.path, "rb") as f:
        for number, line in enumerate(f, 1):
            if len(line) > LONG_LINE and number > layout.skip and line.count(delimiter) + 1 != width:
                raise DataError(f"{layout.path} line {number} has about {line.count(delimiter) + 1:,} fields, but "
                                f"the first line has {width}")


def _read_table(layout: _Layout, target: int | None) -> tuple[np.ndarray, list[str]]:
    """Every column as float32 ``(rows, columns)`` with NumPy's C parser, the ``target`` column's cells kept
    apart as text (its column holds 0). Any problem is then looked for line by line and named."""
    _check_long_lines(layout)
    labels: list[str] = []

    def keep_label(text: str) -> float:
        labels.append(text.strip())
        return 0.0

    features = [i for i in range(len(layout.names)) if i != target]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "input contained no data": said below, as an error
            table = np.loadtxt(layout.path, dtype=np.float32, delimiter=layout.delimiter, skiprows=layout.skip,
                               comments=None, quotechar='"', ndmin=2, encoding="utf-8-sig",
                               converters={target: keep_label} if target is not None else None)
    except ValueError as err:  # a ragged line, a word, text that is not UTF-8: find it, and name it
        raise _first_problem(layout, features) or DataError(
            f"{layout.path} is not a readable CSV file ({shorten(str(err))})") from None
    except OSError as err:  # the device failed part way through: the error names no file
        raise DataError(f"cannot read {layout.path}: {err.strerror or err}") from None
    if table.size == 0:
        raise DataError(f"{layout.path} has a header but no data rows")
    if first_non_finite(table) is not None:  # NaN, inf, or beyond float32's range (inf after the cast)
        raise _first_problem(layout, features) or DataError(f"{layout.path} holds values that are not finite")
    return table, labels


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
    x, y, classes, _ = read_csv(path, target, header, delimiter, task)
    return x, y, classes


def _column(layout: _Layout, name: str | int, what: str) -> int:
    """The index of the column ``name`` (a header's name, or an index; negative counts from the end)."""
    names, width = layout.names, len(layout.names)
    if isinstance(name, str) and name in names:  # without a header, names are "0", "1"...: the same column
        return names.index(name)
    if isinstance(name, int) or name.lstrip("-").isdigit():
        column = int(name)
        if not -width <= column < width:
            raise DataError(f"{layout.path} has {width} columns, so there is no {what} column {column}")
        return column % width
    raise DataError(f"{layout.path} has no column {quoted(name)}; its columns are {name_list(names)}")


def read_csv(
    path: str | Path,
    target: str | int = -1,
    header: bool | None = None,
    delimiter: str = ",",
    task: str = "auto",
    weight: str | int | None = None,
) -> tuple[np.ndarray, np.ndarray, list[str] | None, np.ndarray | None]:
    """``load_csv`` with a ``weight`` column (a name or an index, as ``target``): the rows' weights ``(n,)``
    float64 (finite, >= 0), kept out of the features; ``None`` without one."""
    path = Path(path)
    if task not in ("auto", "classification", "regression"):
        raise ValueError(f"task must be 'auto', 'classification' or 'regression', got {quoted(task)}")
    layout = _layout(path, header, delimiter)
    names = layout.names
    column = _column(layout, target, "target")
    weights = _column(layout, weight, "weight") if weight is not None else None
    if weights == column:
        raise DataError(f"{path}: column {quoted(names[column])} cannot be both the target and the weight")
    table, labels = _read_table(layout, column)
    w = None
    if weights is not None:
        w = table[:, weights].astype(np.float64)
        if np.any(w < 0):
            row = int(np.argmax(w < 0))
            raise DataError(f"{path} column {quoted(names[weights])}: the weight of data row {row + 1} is "
                            f"{w[row]:g}; weights must be >= 0")
    x = np.delete(table, [column] if weights is None else [column, weights], axis=1)
    del table
    where = f"{path} column {quoted(names[column])}"
    y, classes = _encode_targets(labels, task, where)
    if classes is None and first_non_finite(y) is not None:
        raise _first_problem(layout, [column]) or DataError(f"{where} holds values that are not finite")
    return x, y, classes, w


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
    layout = _layout(path, header, delimiter)
    if features is not None:
        check_feature_count(str(path), len(layout.names), features)
    return _read_table(layout, None)[0]


def check_feature_count(where: str, width: int, features: int, table: bool = True) -> None:
    """Unless data ``width`` wide fits a model of ``features`` inputs, an error naming ``where``; for a
    ``table`` (a file's columns), with the likely cause of one column too many: a target column."""
    if width != features:
        unit = "column" if table else "feature"
        hint = "; drop the target column" if table and width == features + 1 else ""
        raise DataError(f"{where} has {width} {unit}{'s' * (width != 1)}, the model takes {features} "
                        f"feature{'s' * (features != 1)}{hint}")


def load_npz(
    path: str | Path, x_key: str = "x", y_key: str = "y", task: str = "auto"
) -> tuple[np.ndarray, np.ndarray, list[str] | None]:
    """Read arrays ``x_key: (n, features)`` and ``y_key: (n,)`` (or ``(n, k)`` for regression) from an ``.npz``.

    Returns ``x`` as float32, ``y`` as class indices (integer or string labels) or float32 values, and
    the class names (``None`` for regression).
    """
    path = Path(path)

    def choose(names: list[str]) -> list[str]:
        require_arrays(path, names, [x_key, y_key], DataError, "choose others with x_key= / y_key=")
        return [x_key, y_key]

    arrays = read_npz(path, "a .npz file", DataError, choose)
    x, y = _as_features(arrays[x_key], path, x_key), arrays[y_key]
    if len(x) != len(y):
        raise DataError(f"{path}: {x_key!r} has {len(x)} rows but {y_key!r} has {len(y)}")
    where = f"{path} array {y_key!r}"
    if task == "regression" or (task == "auto" and np.issubdtype(y.dtype, np.floating)
                                and not np.all(np.mod(y, 1) == 0)):
        return x, finite(y, np.float32, f"{where}:", DataError), None
    if y.ndim != 1:
        raise DataError(f"{where} must be 1-D class labels, got shape {y.shape}")
    y_indices, classes = as_class_indices(y, where)
    return x, y_indices, classes


def load_features_npz(path: str | Path, x_key: str | None = None) -> np.ndarray:
    """Read the features ``x: (n, features)`` (float32) of an ``.npz``: the array ``x_key``; by default
    ``"x"``, or the only array in the file."""
    path = Path(path)

    def choose(names: list[str]) -> list[str]:
        key = x_key if x_key is not None else names[0] if len(names) == 1 else "x"
        require_arrays(path, names, [key], DataError, "name the features array x, or keep only it in the file")
        return [key]

    ((key, x),) = read_npz(path, "a .npz file", DataError, choose).items()
    return _as_features(x, path, key)


def _as_features(x: np.ndarray, path: Path, key: str) -> np.ndarray:
    """An array read from ``path`` as features: 2-D, numeric, finite in float32."""
    if x.ndim != 2:
        raise DataError(f"{path}: {key!r} must be 2-D (samples, features), got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.number) and x.dtype != np.bool_:
        raise DataError(f"{path}: {key!r} is not numeric ({x.dtype})")
    return finite(x, np.float32, f"{path}:", DataError, unit="feature")


def from_file(path: str | Path, test_path: str | Path | None = None, **kwargs: Any) -> Dataset:
    """A CSV or NPZ file (by its extension) as a ``Dataset``; ``test_path`` adds a test set in the same format.
    A CSV's ``weight`` column (``read_csv``) gives the rows' weights.

    Class names come from the training file; test labels are mapped to the same indices.
    """
    path = Path(path)

    def reader(file: str | Path) -> tuple[np.ndarray, np.ndarray, list[str] | None, np.ndarray | None]:
        return (*load_npz(file, **kwargs), None) if path.suffix == ".npz" else read_csv(file, **kwargs)

    x, y, classes, w = reader(path)
    dataset = Dataset(path.stem, x, y, classes=classes, source=f"file {path}", w_train=w)
    if test_path is not None:
        x_test, y_test, test_classes, dataset.w_test = reader(test_path)
        if x_test.shape[1] != x.shape[1]:
            raise DataError(f"{test_path} has {x_test.shape[1]} feature columns, but {path} has {x.shape[1]}; the "
                            f"test file must have the training file's columns")
        if classes is not None:  # the test file's own class indices -> the training file's
            y_test = map_classes(y_test, test_classes, classes, str(test_path), str(path))
        dataset.x_test, dataset.y_test = x_test, y_test
    return dataset


DEFAULT_TEST_SPLIT = 0.2
FILE_KEYS = {
    "path": Key(REQUIRED, str, is_path=True),
    "test_path": Key(None, str, is_path=True),
    "test_split": Key(None, float, FRACTION),  # DEFAULT_TEST_SPLIT unless there is a test_path
    "task": Key("auto", str, choices=("auto", "classification", "regression")),
}


def _check_file_options(options: dict[str, Any]) -> None:
    """A test file is the test set: a test split beside it would be ignored, so it is refused."""
    if options["test_path"] is not None and options["test_split"] is not None:
        raise ValueError("data.test_split and data.test_path are both given, but the test file is the test set "
                         "(nothing is split off); remove data.test_split")
    if options["test_path"] is None and options["test_split"] is None:
        options["test_split"] = DEFAULT_TEST_SPLIT


def _load_file(reader_keys: tuple[str, ...], options: dict[str, Any], seed: int) -> Dataset:
    """The file of ``options["path"]``; without a test file, its last ``test_split`` of rows is the test set."""
    dataset = from_file(options["path"], test_path=options["test_path"], task=options["task"],
                        **{key: options[key] for key in reader_keys})
    fraction = options["test_split"]
    if options["test_path"] is None and fraction:
        x, y, x_test, y_test = hold_out(dataset.x_train, dataset.y_train, fraction)
        if not len(x) or not len(x_test):
            raise DataError(f"data.test_split {fraction} of {len(dataset.x_train)} rows leaves no test or training "
                            f"rows; change data.test_split or give data.test_path")
        dataset.x_train, dataset.y_train, dataset.x_test, dataset.y_test = x, y, x_test, y_test
        if dataset.w_train is not None:
            dataset.w_train, dataset.w_test = dataset.w_train[: len(x)], dataset.w_train[len(x) :]
    return dataset


CSV_KEYS = {"target": Key(-1, (int, str)), "header": Key(None, bool), "delimiter": Key(",", str),
            "weight": Key(None, (int, str))}
NPZ_KEYS = {"x_key": Key("x", str), "y_key": Key("y", str)}
DATASETS.add("csv", DatasetSource(partial(_load_file, tuple(CSV_KEYS)), FILE_KEYS | CSV_KEYS, _check_file_options,
                                  file_type=".csv"))
DATASETS.add("npz", DatasetSource(partial(_load_file, tuple(NPZ_KEYS)), FILE_KEYS | NPZ_KEYS, _check_file_options,
                                  file_type=".npz"))
