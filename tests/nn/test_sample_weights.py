"""Sample and class weights: every loss is a weighted mean whose delta carries the weights, ``fit`` and
``evaluate`` weigh rows and metrics, integer weights equal repeated rows, ``"balanced"`` is scikit-learn's rule,
and a config weighs rows with ``training.class_weight`` and a CSV's ``data.weight`` column."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import invoke, the_run
from shared_examples import example_batch

from mlp import SGD, Dense, ReLU, Sequential, SoftmaxCrossEntropy, Tanh, evaluate, fit
from mlp.data import two_spirals
from mlp.nn.losses import LOSSES, MeanSquaredError
from mlp.nn.sample_weights import class_weights
from mlp.train.position import Position


@pytest.mark.parametrize("name", LOSSES.names())
def test_every_loss_is_the_weighted_mean_of_its_rows(name, rng):
    loss = LOSSES.get(name)()
    output, target = example_batch(loss, rng)
    weights = np.array([0.5, 0.0, 2.0, 1.0, 3.5])
    rows = np.array([loss.forward(output[i : i + 1], target[i : i + 1]) for i in range(len(output))])
    assert loss.forward(output, target, weights) == pytest.approx(float(weights @ rows / weights.sum()), rel=1e-12)
    assert loss.forward(output, target, np.ones(5)) == pytest.approx(loss.forward(output, target), rel=1e-12)
    doubled = loss.forward(output, target, 2 * weights)  # only the proportions count
    assert doubled == pytest.approx(loss.forward(output, target, weights), rel=1e-12)


def test_a_batch_whose_weights_are_all_zero_teaches_nothing(rng):
    loss = SoftmaxCrossEntropy()
    assert loss.forward(rng.standard_normal((3, 4)), np.array([0, 1, 2]), np.zeros(3)) == 0
    assert not loss.backward().any()


def train(x, y, weights=None, epochs=25, dtype=np.float64, **kwargs):
    model = Sequential([Dense(2, 8, dtype=dtype), Tanh(), Dense(8, 2, dtype=dtype)], seed=1)
    history = fit(model, SoftmaxCrossEntropy(), SGD(0.5), x, y, epochs=epochs, batch_size=len(x), shuffle=False,
                  verbose=0, sample_weight=weights, **kwargs)
    return model, history


def test_integer_weights_equal_repeated_rows_with_full_batch_gradient_descent():
    x, y = two_spirals(60, noise=0.1, seed=0)
    counts = np.random.default_rng(0).integers(0, 4, len(x))
    weighted, history = train(x, y, counts)
    repeated, repeated_history = train(np.repeat(x, counts, axis=0), np.repeat(y, counts))
    for key, value in weighted.params.items():
        np.testing.assert_allclose(value, repeated.params[key], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(history["loss"], repeated_history["loss"], rtol=1e-10)
    np.testing.assert_allclose(history["accuracy"], repeated_history["accuracy"], rtol=1e-12)


def test_a_regression_loss_with_integer_weights_equals_repeated_rows(rng):
    x, y = rng.standard_normal((40, 3)), rng.standard_normal((40, 2))
    counts = rng.integers(0, 3, 40)

    def run(x, y, w=None):
        model = Sequential([Dense(3, 6, dtype=np.float64), ReLU(), Dense(6, 2, dtype=np.float64)], seed=2)
        fit(model, MeanSquaredError(), SGD(0.1), x, y, epochs=10, batch_size=len(x), verbose=0, sample_weight=w)
        return model

    weighted, repeated = run(x, y, counts), run(np.repeat(x, counts, axis=0), np.repeat(y, counts, axis=0))
    for key, value in weighted.params.items():
        np.testing.assert_allclose(value, repeated.params[key], rtol=1e-10, atol=1e-12)


def test_balanced_class_weights_follow_scikit_learn():
    utils = pytest.importorskip("sklearn.utils")
    labels = np.array([0, 0, 0, 0, 1, 2, 2, 0, 1, 0])
    expected = utils.compute_class_weight("balanced", classes=np.arange(3), y=labels)
    np.testing.assert_allclose(class_weights(labels, "balanced", 3), expected, rtol=1e-15)
    np.testing.assert_allclose(class_weights(labels, {1: 4.0}, 3), [1, 4, 1])


def test_class_weights_are_sample_weights_of_every_row_of_the_class():
    x, y = two_spirals(40, noise=0.1, seed=0)
    by_class, history = train(x, y, class_weight={0: 3.0}, epochs=5, validation_split=0.25)
    per_row, per_row_history = train(x, y, np.where(y == 0, 3.0, 1.0), epochs=5, validation_split=0.25)
    for key, value in by_class.params.items():
        np.testing.assert_array_equal(value, per_row.params[key])
    assert history["val_loss"] == per_row_history["val_loss"]


def test_balanced_weights_make_each_class_count_the_same(rng):
    x, y = two_spirals(60, noise=0.1, seed=0)
    keep = (y == 1) | (rng.random(len(y)) < 0.25)  # class 0 is rare
    x, y = x[keep], y[keep]
    balanced = class_weights(y, "balanced", 2)
    counts = np.bincount(y)
    np.testing.assert_allclose(balanced * counts, [len(y) / 2, len(y) / 2])
    _, history = train(x, y, class_weight="balanced", epochs=3)
    _, same = train(x, y, balanced[y], epochs=3)
    assert history["loss"] == same["loss"]


def test_validation_metrics_are_weighted_as_the_training_rows_are():
    x, y = two_spirals(50, noise=0.1, seed=0)
    w = np.linspace(0.1, 2, len(x))
    model, history = train(x, y, w, epochs=3, validation_split=0.4)
    cut = 30  # ceil(50 * (1 - 0.4)) rows train
    expected = evaluate(model, SoftmaxCrossEntropy(), x[cut:], y[cut:], sample_weight=w[cut:])
    assert history["val_loss"][-1] == expected["loss"]
    assert history["val_accuracy"][-1] == expected["accuracy"]
    assert expected["loss"] != evaluate(model, SoftmaxCrossEntropy(), x[cut:], y[cut:])["loss"]
    hits = model.predict(x[cut:]).argmax(axis=1) == y[cut:]
    assert expected["accuracy"] == pytest.approx(np.average(hits, weights=w[cut:]), rel=1e-12)
    _, given = train(x[:cut], y[:cut], w[:cut], epochs=3, validation_data=(x[cut:], y[cut:], w[cut:]))
    assert given["val_loss"] == history["val_loss"]


def test_the_running_training_metrics_are_weighted():
    x, y = two_spirals(50, noise=0.1, seed=0)
    w = np.linspace(0.1, 2, len(x))
    _, history = train(x, y, w, epochs=1, dtype=np.float64)
    # one full batch: the epoch's loss is the batch's weighted loss before the step
    before = Sequential([Dense(2, 8, dtype=np.float64), Tanh(), Dense(8, 2, dtype=np.float64)], seed=1)
    assert history["loss"][0] == pytest.approx(evaluate(before, SoftmaxCrossEntropy(), x, y, sample_weight=w)["loss"])
    assert history["accuracy"][0] == pytest.approx(evaluate(before, SoftmaxCrossEntropy(), x, y, sample_weight=w)[
        "accuracy"])


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"sample_weight": np.ones(3)}, r"^sample_weight must hold one weight per row \(50\), got shape \(3,\)$"),
    ({"sample_weight": -np.ones(50)}, r"^sample_weight must be finite and >= 0; row 0 is -1.0$"),
    ({"sample_weight": np.full(50, np.nan)}, r"^sample_weight must be finite and >= 0; row 0 is nan$"),
    ({"sample_weight": np.zeros(50)}, r"^fit: the training rows' weights sum to 0; give some row a positive weight$"),
    ({"sample_weight": np.array(["a"] * 50)}, r"^sample_weight must be real numbers, got <U1$"),
    ({"class_weight": "even"}, r"^class_weight must be 'balanced' or a mapping \{class: weight\}, got 'even'$"),
    ({"class_weight": {0: -2}}, r"^class_weight\[0\] must be a number >= 0, got -2$"),
    ({"class_weight": {5: 1.0}}, r"^class_weight names class 5, but the classes are 0 to 1$"),
])
def test_bad_weights_are_named(kwargs, message):
    x, y = two_spirals(50, noise=0.1, seed=0)
    with pytest.raises(ValueError, match=message):
        train(x, y, kwargs.pop("sample_weight", None), epochs=1, **kwargs)


def test_class_weights_need_classes(rng):
    model = Sequential([Dense(3, 2)])
    with pytest.raises(ValueError, match=r"^class_weight applies to classification losses, not to MeanSquaredError"):
        fit(model, MeanSquaredError(), SGD(0.1), rng.standard_normal((8, 3)), rng.standard_normal((8, 2)), epochs=1,
            verbose=0, class_weight="balanced")


def test_a_position_saved_before_rows_had_weights_counts_each_row_once():
    position = Position.from_dict({"epoch": 1, "batch": 2, "shuffle_state": None, "loss_sum": 6.0, "correct": 3,
                                   "counted": 4, "seen": 4, "elapsed": 0.5})
    assert position.weight == 4


# -- configs ------------------------------------------------------------------------------------------------
def weighted_csv(tmp_path, weights=True):
    """A spirals CSV with a weight column (class "right" rows count 3), or without one."""
    x, y = two_spirals(100, noise=0.1, seed=0)
    lines = [f"{a},{b},{'right' if c else 'left'}" + (f",{3 if c else 1}" if weights else "")
             for (a, b), c in zip(x, y, strict=True)]
    path = tmp_path / ("data.csv" if weights else "plain.csv")
    path.write_text("\n".join(["a,b,label" + (",w" if weights else ""), *lines]) + "\n")
    return path


def write_config(tmp_path, training="", data="", name="run", csv="data.csv"):
    config = tmp_path / f"{name}.yaml"
    config.write_text(f"data: {{dataset: csv, path: {csv}, target: label{data}}}\n"
                      "model: {layers: [{dense: 16, activation: tanh}, {dense: 2}]}\n"
                      f"optimizer: {{name: adam, lr: 0.01}}\ntraining: {{epochs: 3, batch_size: 32{training}}}\n"
                      f"output: {{dir: {tmp_path / 'runs'}}}\n")
    return config


def losses(run):
    return [(r["loss"], r["val_loss"], r["val_accuracy"]) for r in json.loads((run / "history.json").read_text())]


def test_a_csv_weight_column_weighs_rows_as_class_weights_do(tmp_path):
    weighted_csv(tmp_path)
    weighted_csv(tmp_path, weights=False)
    assert invoke("train", write_config(tmp_path, data=", weight: w"), "-q").exit_code == 0
    run = the_run(tmp_path / "runs")
    assert "2 features" in (run / "train.log").read_text()  # the weight column is not a feature
    assert invoke("train", write_config(tmp_path, ", class_weight: {right: 3}", name="by_class", csv="plain.csv"),
                  "-q").exit_code == 0
    by_class = next((tmp_path / "runs").glob("by_class-*"))
    assert losses(run) == losses(by_class)
    assert invoke("train", write_config(tmp_path, name="plain", csv="plain.csv"), "-q").exit_code == 0
    assert losses(next((tmp_path / "runs").glob("plain-*"))) != losses(run)


@pytest.mark.parametrize(("training", "data", "message"), [
    (", class_weight: {maybe: 2}", "", "training.class_weight names class 'maybe', which the data does not have; "
                                       "its classes are left, right"),
    (", class_weight: {no: 2}", "", "training.class_weight names class False, which the data does not have; its "
                                    "classes are left, right (YAML reads an unquoted yes, no, on, off as true or "
                                    "false: quote the name, 'no')"),
    (", class_weight: heavy", "", "training.class_weight must be balanced or a mapping {class: weight >= 0}, "
                                  "got 'heavy'"),
    ("", ", weight: label", "column 'label' cannot be both the target and the weight"),
    ("", ", weight: z", "has no column 'z'; its columns are a, b, label, w"),
])
def test_bad_weights_in_a_config_are_one_line(tmp_path, training, data, message):
    weighted_csv(tmp_path)
    result = invoke("train", write_config(tmp_path, training, data))
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()


def test_a_negative_weight_in_a_csv_is_named(tmp_path):
    path = weighted_csv(tmp_path)
    path.write_text(path.read_text().replace(",right,3\n", ",right,-3\n", 1))
    result = invoke("train", write_config(tmp_path, data=", weight: w"))
    assert result.exit_code == 2
    assert "column 'w': the weight of data row" in result.stderr and "is -3; weights must be >= 0" in result.stderr
