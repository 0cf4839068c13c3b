"""The IDX reader: round trips, and a clear error for every kind of damage."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from mlp.data import DataError, read_idx, write_idx


@pytest.mark.parametrize("name", ["a-idx3-ubyte", "a-idx3-ubyte.gz", "a.idx3-ubyte"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_round_trip(tmp_path, name, dtype):
    array = (np.arange(2 * 3 * 4) - 5).reshape(2, 3, 4).astype(dtype)
    write_idx(tmp_path / name, array)
    back = read_idx(tmp_path / name)
    assert back.dtype == np.dtype(dtype) and back.dtype.isnative
    np.testing.assert_array_equal(back, array)


def test_gzip_is_recognised_by_content_not_name(tmp_path):
    write_idx(tmp_path / "labels-idx1-ubyte", np.array([1, 2, 3], np.uint8), compress=True)
    np.testing.assert_array_equal(read_idx(tmp_path / "labels-idx1-ubyte"), [1, 2, 3])


def header(code, *dims):
    return bytes([0, 0, code, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", r"f is not an IDX file \(bad magic number empty\)"),
        (b"\x01\x02\x08\x01" + b"\0" * 8, r"f is not an IDX file \(bad magic number 01020801\)"),
        (header(0x07, 3), r"f has an unknown IDX dtype code 0x07"),
        (bytes([0, 0, 8, 3, 0, 0]), r"f is truncated: its header is incomplete"),
        (header(0x08, 2, 3) + b"\0" * 5, r"f is truncated: shape \(2, 3\) needs 6 data bytes, found 5; delete it"),
        (header(0x08, 2, 3) + b"\0" * 7, r"f is longer than its header says: shape \(2, 3\) needs 6 data bytes"),
        (header(0x0C, 2) + b"\0" * 7, r"f is truncated: shape \(2,\) needs 8 data bytes, found 7"),
    ],
)
def test_damage_is_a_clear_error(tmp_path, content, message):
    (tmp_path / "f").write_bytes(content)
    with pytest.raises(DataError, match=message):
        read_idx(tmp_path / "f")


def test_damaged_gzip(tmp_path):
    data = gzip.compress(header(0x08, 100) + bytes(100))
    (tmp_path / "f.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"f\.gz is a damaged gzip file \(.*\); delete it and download it again"):
        read_idx(tmp_path / "f.gz")


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match=r"nope: no such file"):
        read_idx(tmp_path / "nope")
