"""Data that silently gave wrong answers: features constant in the training rows, a test file with other
columns, and a test split that a test file made meaningless."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_one_line_error, invoke, the_run

from mlp.data import DataError, Standardizer, from_file
from mlp.runs.config import ConfigError, resolve


def test_a_feature_constant_in_training_keeps_its_scale_on_test_rows():
    train = np.array([[0.0, 1.0], [0.0, 2.0], [0.0, 3.0]], dtype=np.float32)  # feature 0: always 0, as border pixels
    scaler = Standardizer.fit(train)
    assert scaler.std[0] == 1.0
    test = np.array([[1.0, 2.0]], dtype=np.float32)
    np.testing.assert_allclose(scaler.transform(test), [[1.0, 0.0]])  # was 1e8 with a std floored at 1e-8
    np.testing.assert_array_equal(scaler.transform(train)[:, 0], 0.0)


def test_nearly_constant_is_constant_within_rounding_only():
    rows = np.full((1000, 2), 0.1)
    rows[:, 1] += np.linspace(0, 1e-6, 1000)  # tiny but real variation is kept as it is
    scaler = Standardizer.fit(rows)
    assert scaler.std[0] == 1.0 and scaler.std[1] == pytest.approx(2.89e-7, rel=1e-2)


def test_model_files_of_earlier_versions_read_a_floored_std_as_one():
    restored = Standardizer.from_state({"mean": [0.0, 5.0], "std": [1e-8, 2.0]})
    np.testing.assert_array_equal(restored.std, [1.0, 2.0])


def test_predictions_on_test_rows_that_differ_from_a_constant_are_not_blown_up(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 4))
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    x[:, 3] = 0.0  # constant in every training row
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    np.savetxt(train, np.column_stack([x, y]), delimiter=",", fmt="%.6f", header="a,b,c,edge,label", comments="")
    x_test = x[:50].copy()
    x_test[:, 3] = 1.0  # the "border pixel" lights up at test time
    np.savetxt(test, np.column_stack([x_test, y[:50]]), delimiter=",", fmt="%.6f", header="a,b,c,edge,label",
               comments="")
    result = invoke("train", "--set", "data.dataset=csv", "--set", f"data.path={train}", "--set",
                    f"data.test_path={test}", "--set", "data.normalize=standardize", "--set",
                    "model.layers=[{dense: 16, activation: relu}, {dense: 2}]", "--epochs", "20", "--out",
                    tmp_path / "runs", "--quiet")
    assert result.exit_code == 0, result.output
    run = the_run(tmp_path / "runs")
    evaluated = invoke("evaluate", run)
    loss = float(next(line for line in evaluated.stdout.splitlines() if line.startswith("loss")).split()[1])
    assert loss < 1.0  # 1e5 when the constant feature was divided by 1e-8


def test_a_test_file_with_other_columns_is_refused_when_loaded(tmp_path):
    (tmp_path / "train.csv").write_text("a,b,label\n1,2,x\n3,4,y\n")
    (tmp_path / "test.csv").write_text("a,b,c,label\n1,2,3,x\n4,5,6,y\n")
    with pytest.raises(DataError, match=r"test\.csv has 3 feature columns, but .*train\.csv has 2; the test file must "
                                        r"have the training file's columns"):
        from_file(tmp_path / "train.csv", test_path=tmp_path / "test.csv", target="label")


def test_a_test_split_with_a_test_file_is_refused(tmp_path):
    data = {"dataset": "csv", "path": "train.csv", "test_path": "test.csv", "test_split": 0.3}
    with pytest.raises(ConfigError, match=r"data.test_split and data.test_path are both given, but the test file is "
                                          r"the test set \(nothing is split off\); remove data.test_split"):
        resolve({"data": data})
    resolved = resolve({"data": data | {"test_split": None}})["data"]
    assert resolved["test_split"] is None and resolved["test_path"].endswith("test.csv")
    assert resolve({"data": {"dataset": "csv", "path": "train.csv"}})["data"]["test_split"] == 0.2
    assert_one_line_error(invoke("config", "show", "--set", "data.dataset=csv", "--set", "data.path=a.csv", "--set",
                                 "data.test_path=b.csv", "--set", "data.test_split=0.1"), "remove data.test_split")


def test_files_of_a_single_class_are_read_and_evaluated_but_not_trained_on(tmp_path):
    (tmp_path / "train.csv").write_text("a,b,label\n1,2,x\n3,4,y\n5,1,x\n2,2,y\n")
    (tmp_path / "all_x.csv").write_text("a,b,label\n1,2,x\n5,1,x\n")  # a test file may hold one class
    data = from_file(tmp_path / "train.csv", test_path=tmp_path / "all_x.csv", target="label")
    assert data.y_test.tolist() == [0, 0]
    run_args = ["--set", "data.dataset=csv", "--set", "data.test_split=0", "--set", "data.validation_split=0",
                "--set", "model.layers=[{dense: 2}]", "--epochs", "1", "--out", tmp_path / "runs", "--quiet"]
    assert invoke("train", "--set", f"data.path={tmp_path / 'train.csv'}", *run_args).exit_code == 0
    run = the_run(tmp_path / "runs")
    assert invoke("evaluate", run, "--data", tmp_path / "all_x.csv").exit_code == 0
    assert_one_line_error(invoke("train", "--set", f"data.path={tmp_path / 'all_x.csv'}", *run_args),
                          "the data (all_x) has a single class (x); a classifier needs at least two")
