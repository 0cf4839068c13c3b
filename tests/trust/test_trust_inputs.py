"""Hostile and huge inputs are refused at once with one short line: YAML alias bombs, deep nesting, huge
configs, CSV lines of millions of fields, gzip bombs and absurd headers in IDX files, and values beyond
float32. (Time and memory are measured by ``scripts/hostile_inputs.py``, not here.)"""

from __future__ import annotations

import gzip
import os

import numpy as np
import pytest
from conftest import SPIRALS, assert_one_line_error, invoke, make_files

from mlp.data import DataError, load_csv, read_idx
from mlp.data.mnist import MNIST, load_idx_dataset
from mlp.runs.config import MAX_CONFIG_BYTES, ConfigError, load

MAX_MESSAGE = 400  # characters: whatever the input, a message stays a line one can read


def alias_bomb(levels: int = 9) -> str:
    """The "billion laughs": each level a list of nine aliases of the one before (9^9 values in ~400 bytes)."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines)


@pytest.mark.parametrize("key", ["seed", "name", "optimizer.lr", "data.dataset"])
def test_an_alias_bomb_under_any_key_is_refused_in_one_short_line(tmp_path, key):
    section, _, name = key.rpartition(".")
    bomb = alias_bomb()
    value = f"*a{8}"
    text = f"{bomb}\n{section}:\n  {name}: {value}\n" if section else f"{bomb}\n{name}: {value}\n"
    path = tmp_path / "bomb.yaml"
    path.write_text(text)
    assert len(text) < 600
    line = assert_one_line_error(invoke("train", path), f"{path} is not a usable config: its aliases (*name) expand "
                                                        f"it to more than 100,000 values")
    assert len(line) < MAX_MESSAGE


def test_an_alias_bomb_in_a_set_value_is_refused():
    levels = ["&a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    levels += [f"&a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 7)]  # 10^7 values in 300 bytes
    line = assert_one_line_error(invoke("config", "show", "--set", f"seed=[{', '.join(levels)}]"),
                                 "--set 'seed': the value is not usable: its aliases (*name) expand it to more than")
    assert len(line) < MAX_MESSAGE


@pytest.mark.slow
def test_a_value_that_contains_itself_and_deep_nesting_are_refused(tmp_path):
    (tmp_path / "self.yaml").write_text("seed: &a [1, *a]\n")
    assert_one_line_error(invoke("config", "validate", tmp_path / "self.yaml"),
                          "an alias (*name) refers to the value that contains it")
    (tmp_path / "deep.yaml").write_text("seed: " + "[" * 5000 + "]" * 5000 + "\n")
    assert_one_line_error(invoke("config", "validate", tmp_path / "deep.yaml"), "it is nested too deeply")


def test_a_huge_config_is_refused_before_it_is_parsed(tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_text("# " + "x" * MAX_CONFIG_BYTES + "\nseed: 0\n")
    with pytest.raises(ConfigError, match=r"huge\.yaml is [\d,]+ bytes, too large for a config"):
        load(path)


@pytest.mark.slow
def test_messages_quote_huge_values_shortened(tmp_path):
    path = tmp_path / "long.yaml"
    path.write_text(f"seed: [{', '.join(['1'] * 50_000)}]\nname: {'x' * 100_000}\n")
    line = assert_one_line_error(invoke("config", "validate", path), "seed must be an integer, got [1, 1, 1, 1, ...]")
    assert len(line) < MAX_MESSAGE
    line = assert_one_line_error(invoke("config", "validate", "--set", f"optimizer.{'q' * 100_000}=1"),
                                 "unknown key 'qqqq")
    assert len(line) < MAX_MESSAGE


def test_a_csv_line_of_millions_of_fields_is_refused_without_splitting_it(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text("a,b,c\n1,2,0\n" + "1," * 3_000_000 + "1\n3,4,1\n")
    with pytest.raises(DataError, match=r"wide\.csv line 3 has about 3,000,001 fields, but the first line has 3$"):
        load_csv(path)
    first = tmp_path / "first.csv"
    first.write_text("1," * 3_000_000 + "1\n1,2\n")
    with pytest.raises(DataError, match=r"first\.csv line 1 has 3,000,001 fields; mlp reads at most 1,000,000"):
        load_csv(first)


def test_a_missing_column_among_thousands_names_a_few(tmp_path):
    path = tmp_path / "d.csv"
    names = [f"feature_{i}" for i in range(5000)]
    path.write_text(",".join(names) + "\n" + ",".join(["1"] * 5000) + "\n")
    with pytest.raises(DataError) as err:
        load_csv(path, target="label")
    assert "its columns are feature_0, feature_1," in str(err.value) and "(5,000 in all)" in str(err.value)
    assert len(str(err.value)) < MAX_MESSAGE


@pytest.mark.parametrize(("cell", "message"), [
    ("1e39", r"line 3, column 'b': 1e39 is beyond the range of float32 \(largest 3\.4e\+38\), which mlp trains in"),
    ("-4e38", r"line 3, column 'b': -4e38 is beyond the range of float32"),
    ("nan", r"line 3, column 'b': nan is not allowed"),
])
def test_csv_values_that_float32_cannot_hold_are_data_errors(tmp_path, cell, message):
    path = tmp_path / "d.csv"
    path.write_text(f"a,b,c\n1,2,0\n3,{cell},1\n5,6,0\n")
    with pytest.raises(DataError, match=message):
        load_csv(path)
    result = invoke("train", "--set", "data.dataset=csv", "--set", f"data.path={path}", "--set", "data.test_split=0",
                    "--set", "data.validation_split=0", "--epochs", "1", "--out", tmp_path / "runs")
    assert_one_line_error(result, message.replace("\\", "").split(" \\(")[0].split("(largest")[0].strip())


def test_regression_targets_must_be_finite_too(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("x,y\n1,0.5\n2,nan\n3,1.5\n")
    with pytest.raises(DataError, match=r"r\.csv line 3, column 'y': nan is not allowed"):
        load_csv(path, task="regression")


def test_arrays_passed_to_fit_must_be_finite_in_the_models_dtype():
    from mlp import SGD, Dense, Sequential, SoftmaxCrossEntropy, fit

    model = Sequential([Dense(2, 2)], seed=0)
    x, y = np.ones((6, 2)), np.array([0, 1, 0, 1, 0, 1])
    for value, message in ((np.nan, r"fit: x row 3, feature 1 is nan; fill in or drop missing and infinite values"),
                           (1e39, r"fit: x row 3, feature 1 is 1e\+39, beyond the range of float32")):
        bad = x.copy()
        bad[3, 1] = value
        with pytest.raises(ValueError, match=message):
            fit(model, SoftmaxCrossEntropy(), SGD(), bad, y, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"validation_data: x row 0, feature 0 is inf"):
        fit(model, SoftmaxCrossEntropy(), SGD(), x, y, epochs=1, verbose=0,
            validation_data=(np.full((2, 2), np.inf), y[:2]))
    with pytest.raises(ValueError, match=r"fit: y row 2 is nan"):
        fit(model, SoftmaxCrossEntropy(), SGD(), x, np.array([0.0, 1, np.nan, 1, 0, 1]), epochs=1, verbose=0)


def idx_header(*dims: int) -> bytes:
    return bytes([0, 0, 8, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)


def test_a_gzip_that_inflates_past_its_header_is_refused_without_inflating_it(tmp_path):
    path = tmp_path / "bomb.gz"
    with gzip.open(path, "wb") as f:
        f.write(idx_header(3, 28, 28))
        for _ in range(64):  # 64 MB of zeros after the 2,352 bytes the header announces
            f.write(bytes(1 << 20))
    assert path.stat().st_size < 200_000
    with pytest.raises(DataError, match=r"bomb\.gz is longer than its header says: shape \(3, 28, 28\) needs 2,352 "
                                        r"data bytes, and more follow \(reading stopped there\)"):
        read_idx(path)


def test_a_header_with_enormous_sizes_names_the_file_and_does_not_overflow(tmp_path):
    path = tmp_path / "huge-idx3-ubyte"
    path.write_bytes(idx_header(2**31, 2**31, 28) + bytes(100))
    with pytest.raises(DataError, match=r"huge-idx3-ubyte announces 129,127,208,515,966,861,312 bytes of data \(shape "
                                        r"\(2147483648, 2147483648, 28\)\), more than the memory available"):
        read_idx(path)


def test_an_mnist_file_larger_than_the_published_one_is_refused_from_its_header(tmp_path):
    make_files(tmp_path / "d")
    images = tmp_path / "d" / "train-images-idx3-ubyte.gz"
    with gzip.open(images, "wb") as f:
        f.write(idx_header(70000, 28, 28))
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\.gz holds an array of shape \(70000, 28, 28\), not "
                                        r"one of at most \(60000, 28, 28\)"):
        load_idx_dataset(MNIST, tmp_path / "d", cache=tmp_path / "cache")


def test_every_option_that_reads_a_file_reports_a_bomb_in_one_line(tmp_path):
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(alias_bomb() + "\nseed: *a8\n")
    for args in (("train", bomb), ("config", "show", bomb), ("config", "validate", bomb), ("gradcheck", bomb)):
        assert_one_line_error(invoke(*args), "is not a usable config")
    assert invoke("train", SPIRALS, "--epochs", "1", "--out", tmp_path / "runs", "--quiet").exit_code == 0


def test_devices_and_pipes_are_refused_instead_of_read_forever(tmp_path):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    with pytest.raises(DataError, match=r"pipe\.csv is not a regular file; give a CSV file"):
        load_csv(fifo)
    assert_one_line_error(invoke("config", "validate", "/dev/zero"), "/dev/zero is not a regular file; give a YAML "
                                                                     "config file")
    assert_one_line_error(invoke("train", "--set", "data.dataset=csv", "--set", "data.path=/dev/zero", "--epochs",
                                 "1", "--out", tmp_path / "runs"), "/dev/zero is not a regular file")


def test_text_that_is_not_utf8_is_named_by_line_and_a_byte_order_mark_is_not_a_character(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes(b"a,b,c\n1,2,0\n3,caf\xe9,1\n")
    with pytest.raises(DataError, match=r"latin\.csv line 3 is not UTF-8 text; save the file as UTF-8"):
        load_csv(path)
    path.write_bytes(b"\xef\xbb\xbfa,b,label\n1,2,x\n3,4,y\n")  # as spreadsheet programs save "CSV UTF-8"
    x, y, classes = load_csv(path, target="label")
    assert x.tolist() == [[1, 2], [3, 4]] and y.tolist() == [0, 1] and classes == ["x", "y"]
    path.write_bytes(b"a,b,c\n1,2,0\n3,4\x00,1\n")
    with pytest.raises(DataError, match=r"latin\.csv line 3, column 'b': '4\\x00' is not a number"):
        load_csv(path)
