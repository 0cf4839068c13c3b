"""CSV and NPZ files, standardisation, synthetic sets."""

from __future__ import annotations

import numpy as np
import pytest

from mlp.data import DataError, Standardizer, from_file, load_csv, load_dataset, load_npz, synthetic
from mlp.data.tabular import check_feature_count, load_features_csv, load_features_npz, map_classes


def write(tmp_path, text, name="d.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_with_header_and_named_string_target(tmp_path):
    path = write(tmp_path, "a,b,species\n1,2,setosa\n3,4,virginica\n5,6.5,setosa\n")
    x, y, classes = load_csv(path, target="species")
    np.testing.assert_array_equal(x, [[1, 2], [3, 4], [5, 6.5]])
    assert x.dtype == np.float32
    assert y.tolist() == [0, 1, 0] and classes == ["setosa", "virginica"]


def test_csv_without_header_target_by_index_and_integer_labels(tmp_path):
    path = write(tmp_path, "7,1,2\n3,3,4\n7,5,6\n")
    x, y, classes = load_csv(path, target=0)
    np.testing.assert_array_equal(x, [[1, 2], [3, 4], [5, 6]])
    assert y.tolist() == [1, 0, 1] and classes == ["3", "7"]
    assert load_csv(path, target="0")[2] == ["3", "7"]  # an index given as text (as from the command line)


def test_csv_regression_target(tmp_path):
    path = write(tmp_path, "x,y\n1,0.5\n2,1.25\n")
    _, y, classes = load_csv(path)
    assert classes is None and y.dtype == np.float32 and y.tolist() == [0.5, 1.25]
    assert load_csv(write(tmp_path, "x,y\n1,1\n2,2\n"), task="regression")[1].dtype == np.float32


@pytest.mark.parametrize(
    ("text", "kwargs", "message"),
    [
        ("a,b,c\n1,2,0\n3,4,1\n", {"target": "label"}, r"d\.csv has no column 'label'; its columns are a, b, c"),
        ("1,2,0\n3,4,1\n", {"target": 5}, r"d\.csv has 3 columns, so there is no target column 5"),
        ("a,b,c\n1,x,0\n3,4,1\n", {}, r"d\.csv line 2, column 'b': 'x' is not a number"),
        ("a,b,c\n1,nan,0\n3,4,1\n", {}, r"d\.csv line 2, column 'b': nan is not allowed; fill in or drop missing"),
        ("a,b,c\n1,2,0\n3,inf,1\n", {}, r"d\.csv line 3, column 'b': inf is not allowed"),
        ("a,b,c\n1,2,0\n3,4\n", {}, r"d\.csv line 3 has 2 fields, but the first line has 3"),
        ("", {}, r"d\.csv is empty"),
        ("a,b,c\n", {}, r"d\.csv has a header but no data rows"),
        ("a,b,c\n1,2,x\n3,4,y\n", {"task": "regression"}, r"'c' holds non-numbers, so it cannot"),
    ],
)
def test_csv_errors(tmp_path, text, kwargs, message):
    with pytest.raises(DataError, match=message):
        load_csv(write(tmp_path, text), **kwargs)


def test_csv_missing_file(tmp_path):
    with pytest.raises(DataError, match=r"nope\.csv: no such file"):
        load_csv(tmp_path / "nope.csv")


def test_npz_happy_path_with_custom_names(tmp_path):
    np.savez(tmp_path / "d.npz", features=np.arange(6).reshape(3, 2), labels=np.array(["b", "a", "b"]))
    x, y, classes = load_npz(tmp_path / "d.npz", x_key="features", y_key="labels")
    assert x.dtype == np.float32 and x.shape == (3, 2)
    assert y.tolist() == [1, 0, 1] and classes == ["a", "b"]


def test_npz_regression(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.ones((3, 1)), y=np.array([0.5, 1.5, 2.0]))
    assert load_npz(tmp_path / "d.npz")[2] is None


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"x": np.ones((3, 2))}, r"d\.npz has no array 'y'; it has x \(choose others with x_key= / y_key=\)"),
        ({"x": np.ones((3, 2)), "y": np.array([0, 1])}, r"d\.npz: 'x' has 3 rows but 'y' has 2"),
        ({"x": np.ones(3), "y": np.array([0, 1, 0])}, r"d\.npz: 'x' must be 2-D \(samples, features\), got"),
        ({"x": np.array([[1.0], [np.nan]]), "y": np.array([0, 1])}, r"d\.npz: row 1, feature 0 is nan"),
        ({"x": np.array([[1], [2]], dtype=object), "y": np.array([0, 1])}, r"d\.npz holds arrays that cannot be read"),
    ],
)
def test_npz_errors(tmp_path, arrays, message):
    np.savez(tmp_path / "d.npz", **arrays)
    with pytest.raises(DataError, match=message):
        load_npz(tmp_path / "d.npz")


def test_npz_missing_and_corrupt(tmp_path):
    with pytest.raises(DataError, match=r"nope\.npz: no such file"):
        load_npz(tmp_path / "nope.npz")
    (tmp_path / "bad.npz").write_bytes(b"garbage")
    with pytest.raises(DataError, match=r"bad\.npz is not a readable \.npz file"):
        load_npz(tmp_path / "bad.npz")


def test_from_file_maps_test_labels_to_the_training_classes(tmp_path):
    train = write(tmp_path, "a,label\n1,cat\n2,dog\n3,cat\n", "train.csv")
    test = write(tmp_path, "a,label\n4,dog\n5,dog\n6,cat\n", "test.csv")
    data = from_file(train, test_path=test, target="label")
    assert data.classes == ["cat", "dog"] and data.y_test.tolist() == [1, 1, 0]
    assert data.source == f"file {train}"
    write(tmp_path, "a,label\n4,dog\n5,bird\n", "other.csv")
    with pytest.raises(DataError, match=r"other\.csv has classes that .*train\.csv does not: bird"):
        from_file(train, test_path=tmp_path / "other.csv", target="label")


def test_standardizer_is_fitted_on_training_rows_only():
    data = synthetic("blobs", n=100, test_size=0.2, seed=1)
    train_before = data.x_train.copy()
    data.standardize(validation_split=0.25)  # fit on the first 60 of 80 training rows
    fitted = Standardizer.fit(train_before[:60])
    np.testing.assert_allclose(data.standardizer.mean, fitted.mean)
    assert data.x_train.dtype == np.float32
    np.testing.assert_allclose(data.x_train[:60].mean(axis=0), 0, atol=1e-5)
    restored = Standardizer.from_state(data.standardizer.get_state())
    np.testing.assert_array_equal(restored.transform(train_before), data.x_train)
    assert "standardized" in repr(data)


def test_constant_features_do_not_divide_by_zero():
    x = np.array([[1.0, 5.0], [2.0, 5.0]], dtype=np.float32)
    assert np.all(np.isfinite(Standardizer.fit(x).transform(x)))


@pytest.mark.parametrize(("name", "features", "classes"), [("spirals", 2, 2), ("xor", 2, 2), ("blobs", 2, 3),
                                                           ("regression", 1, None)])
def test_synthetic_sets(name, features, classes):
    data = load_dataset(name, n=200, seed=3)
    assert data.x_train.shape == (160, features) and data.x_test.shape == (40, features)
    assert data.x_train.dtype == np.float32
    assert data.num_classes == classes
    np.testing.assert_array_equal(load_dataset(name, n=200, seed=3).x_train, data.x_train)
    assert not np.array_equal(load_dataset(name, n=200, seed=4).x_train, data.x_train)


def test_unknown_dataset_names():
    with pytest.raises(ValueError, match="unknown dataset 'cifar'; valid names: mnist, fashion-mnist, csv, npz"):
        load_dataset("cifar")


def test_features_only_csv(tmp_path):
    with_header = write(tmp_path, "a,b\n1,2\n3,4.5\n")
    np.testing.assert_array_equal(load_features_csv(with_header), [[1, 2], [3, 4.5]])
    assert load_features_csv(write(tmp_path, "1;2\n3;4\n", "semi.csv"), delimiter=";").shape == (2, 2)
    assert load_features_csv(with_header, features=2).dtype == np.float32
    with pytest.raises(DataError, match=r"d\.csv has 2 columns, the model takes 3 features$"):
        load_features_csv(with_header, features=3)
    labelled = write(tmp_path, "a,b,species\n1,2,setosa\n", "labelled.csv")  # the count is checked before the cells
    with pytest.raises(DataError, match=r"has 3 columns, the model takes 2 features; drop the target column$"):
        load_features_csv(labelled, features=2)
    with pytest.raises(DataError, match=r"labelled\.csv line 2, column 'species': 'setosa' is not a number"):
        load_features_csv(labelled)


def test_features_only_npz(tmp_path):
    np.savez(tmp_path / "x.npz", x=np.ones((3, 2)), y=np.zeros(3))
    np.savez(tmp_path / "only.npz", rows=np.ones((2, 4), dtype=np.int64))
    np.savez(tmp_path / "two.npz", a=np.ones((2, 2)), b=np.ones((2, 2)))
    assert load_features_npz(tmp_path / "x.npz").shape == (3, 2)
    only = load_features_npz(tmp_path / "only.npz")
    assert only.shape == (2, 4) and only.dtype == np.float32
    assert load_features_npz(tmp_path / "two.npz", x_key="b").shape == (2, 2)
    with pytest.raises(DataError, match=r"two\.npz has no array 'x'; it has a, b"):
        load_features_npz(tmp_path / "two.npz")
    np.savez(tmp_path / "flat.npz", v=np.ones(3))
    with pytest.raises(DataError, match=r"'v' must be 2-D"):
        load_features_npz(tmp_path / "flat.npz")


def test_map_classes_by_name():
    assert map_classes(np.array([0, 1, 1]), ["a", "c"], ["a", "b", "c"], "f.csv", "the model").tolist() == [0, 2, 2]
    with pytest.raises(DataError, match=r"^f\.csv has classes that the model does not: d$"):
        map_classes(np.array([0]), ["a", "d"], ["a", "b"], "f.csv", "the model")
    with pytest.raises(DataError, match=r"^f\.csv has real-valued targets, not the classes of the model \(a, b\)$"):
        map_classes(np.array([0.5]), None, ["a", "b"], "f.csv", "the model")


def test_check_feature_count():
    check_feature_count("f.csv", 4, 4)
    with pytest.raises(DataError, match=r"^mnist has 784 features, the model takes 1 feature$"):
        check_feature_count("mnist", 784, 1, table=False)
