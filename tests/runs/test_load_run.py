"""``mlp.load_run``: a trained run in Python predicts and evaluates raw rows exactly as ``mlp predict`` and
``mlp evaluate`` do (the iris recipe, standardised; MNIST's bundled sample; a regression), and says what to do
with a path that is not a run. ``load_model`` and ``Sequential.load`` warn on a run's model file."""

from __future__ import annotations

import csv
import io
import json
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import CONFIGS, SPIRALS, invoke, the_run

import mlp
from mlp import CheckpointError, Dense, Sequential, load_model
from mlp.data import DataError

IRIS = CONFIGS / "data" / "iris.csv"


def train(out: Path, *args: str | Path) -> Path:
    result = invoke("train", *args, "--out", out, "-q")
    assert result.exit_code == 0, result.output
    return the_run(out)


@pytest.fixture(scope="module")
def iris(tmp_path_factory) -> Path:
    """The csv_example recipe as shipped: iris, standardised, 3 named classes."""
    return train(tmp_path_factory.mktemp("iris") / "runs", CONFIGS / "csv_example.yaml")


@pytest.fixture(scope="module")
def mnist(tmp_path_factory) -> Path:
    """mnist_fast on the bundled sample (offline), 2,000 rows, one epoch."""
    folder = tmp_path_factory.mktemp("mnist")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(folder / "cache"))
        patch.setenv("MLP_OFFLINE", "1")
        return train(folder / "runs", "mnist_fast", "--epochs", "1", "--set", "data.limit=2000")


@pytest.fixture(scope="module")
def regression(tmp_path_factory) -> Path:
    return train(tmp_path_factory.mktemp("regression") / "runs", SPIRALS, "--epochs", "2", "--set", "name=curve",
                 "--set", "data.dataset=regression", "--set", "loss=mse", "--set", "model.layers.2.dense=1")


def iris_rows() -> tuple[np.ndarray, np.ndarray]:
    """Every row of the recipe's CSV as read from the file: measurements (150, 4) and species names."""
    with open(IRIS, newline="") as f:
        rows = list(csv.DictReader(f))
    x = np.array([[float(row[k]) for k in ("sepal_length", "sepal_width", "petal_length", "petal_width")]
                  for row in rows])
    return x, np.array([row["species"] for row in rows])


def write_csv(path: Path, x: np.ndarray, y: np.ndarray | None = None) -> Path:
    lines = [",".join([*(f"f{j}" for j in range(x.shape[1])), *(["species"] if y is not None else [])])]
    lines += [",".join([*(repr(float(v)) for v in row), *([str(y[i])] if y is not None else [])])
              for i, row in enumerate(x)]
    path.write_text("\n".join(lines) + "\n")
    return path


def predicted(*args: str | Path) -> list[dict[str, str]]:
    """The rows of `mlp predict ARGS` (CSV on stdout)."""
    result = invoke("predict", *args)
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.stdout)))


def printed(*args: str | Path) -> str:
    result = invoke("evaluate", *args)
    assert result.exit_code == 0, result.output
    return result.stdout


def assert_printed_as(stdout: str, metrics: dict, classes: list[str] | None) -> None:
    """`mlp evaluate`'s numbers are those of ``metrics``: loss, accuracy (or mae), the confusion matrix."""
    assert re.search(rf"^loss +{metrics['loss']:.4f} \(", stdout, re.M), (stdout, metrics)
    if classes is None:
        assert re.search(rf"^mae +{metrics['mae']:.4f} \(", stdout, re.M), (stdout, metrics)
        return
    matrix = np.asarray(metrics["confusion_matrix"])  # a list of rows, as in --json
    correct, rows = int(np.trace(matrix)), int(matrix.sum())
    assert f"accuracy {metrics['accuracy']:.4f} ({correct:,} of {rows:,} rows)" in stdout
    lines = stdout.split("confusion matrix (rows: true class, columns: predicted class)\n")[1].splitlines()[1:]
    assert [[int(n) for n in line.split()[1:]] for line in lines] == matrix.tolist()


def assert_predicted_as(rows: list[dict[str, str]], run: mlp.runs.trained.TrainedModel, x: np.ndarray) -> None:
    """`mlp predict`'s CSV rows are ``run.predict(x)`` and ``run.predict_proba(x)`` (to its 6 decimals)."""
    predictions = run.predict(x)
    assert len(rows) == len(x)
    if run.classes is None:
        np.testing.assert_allclose([float(row["prediction"]) for row in rows], predictions, rtol=1e-5, atol=1e-6)
        return
    assert [row["prediction"] for row in rows] == predictions.tolist()
    probabilities = run.predict_proba(x)
    assert [[row[f"p_{name}"] for name in run.classes] for row in rows] == \
        [[f"{p:.6f}" for p in ps] for ps in probabilities.tolist()]


def test_the_iris_recipe_predicts_and_evaluates_raw_rows_as_the_commands_do(iris, tmp_path):
    run = mlp.load_run(iris)
    assert run.classes == ["setosa", "versicolor", "virginica"] and run.standardizer is not None
    x, y = iris_rows()
    test_x, test_y = x[-30:], y[-30:]  # data.test_split 0.2: the last 30 rows are the run's test set
    metrics = run.evaluate(test_x, test_y)
    assert_printed_as(printed(iris), metrics, run.classes)  # the run's own test set, read by `mlp evaluate`
    stored = json.loads((iris / "metrics.json").read_text())["test"]
    assert metrics["accuracy"] == stored["accuracy"] and metrics["loss"] == pytest.approx(stored["loss"], rel=1e-6)
    assert metrics["accuracy"] > 0.9  # not 1/3: the run's standardizer was applied

    # other rows, from files, through both commands
    assert_printed_as(printed(iris, "--data", write_csv(tmp_path / "labelled.csv", x, y)), run.evaluate(x, y),
                      run.classes)
    assert_predicted_as(predicted(iris, write_csv(tmp_path / "rows.csv", x)), run, x)
    assert run.predict([[5.1, 3.5, 1.4, 0.2]]).tolist() == ["setosa"]
    scores = run.scores(x)
    assert scores.shape == (150, 3)
    np.testing.assert_array_equal(np.asarray(run.classes)[scores.argmax(axis=1)], run.predict(x))


def test_mnist_on_the_bundled_sample(mnist, tmp_path, offline_mnist):
    run = mlp.load_run(mnist)
    assert run.classes == [str(d) for d in range(10)] and run.standardizer is None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # offline: the bundled sample, with a warning saying so
        data = mlp.data.load_mnist()
    x, y = data.x_test[:300], data.y_test[:300]
    np.savez(tmp_path / "rows.npz", x=x, y=y)
    np.savez(tmp_path / "x.npz", x=x)
    assert_printed_as(printed(mnist, "--data", tmp_path / "rows.npz"), run.evaluate(x, y), run.classes)
    assert_predicted_as(predicted(mnist, tmp_path / "x.npz"), run, x)
    as_floats, as_ints = run.evaluate(x, y.astype(np.float64)), run.evaluate(x, y)  # 3.0 is the class "3"
    assert as_floats["loss"] == as_ints["loss"] and as_floats["accuracy"] == as_ints["accuracy"]
    np.testing.assert_array_equal(as_floats["confusion_matrix"], as_ints["confusion_matrix"])


def test_a_regression_run(regression, tmp_path):
    run = mlp.load_run(regression)
    assert run.classes is None
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((40, run.num_features)).astype(np.float32), rng.standard_normal(40).astype(np.float32)
    np.savez(tmp_path / "rows.npz", x=x, y=y)
    np.savez(tmp_path / "x.npz", x=x)
    metrics = run.evaluate(x, y)
    assert set(metrics) == {"loss", "mae"}
    assert_printed_as(printed(regression, "--data", tmp_path / "rows.npz"), metrics, None)
    assert_predicted_as(predicted(regression, tmp_path / "x.npz"), run, x)
    assert run.predict(x).shape == (40,) and run.scores(x).shape == (40, 1)
    with pytest.raises(DataError, match=r"^curve is a regression model \(loss mse\): it gives values, not class "
                                        r"probabilities; use predict\(x\)$"):
        run.predict_proba(x)


def test_a_loss_without_probabilities_says_what_to_use(tmp_path):
    run = mlp.load_run(train(tmp_path / "runs", SPIRALS, "--epochs", "1", "--set", "loss=multiclass_hinge"))
    x = np.zeros((3, 2))
    assert run.predict(x).tolist()[0] in ("0", "1") and run.scores(x).shape == (3, 2)
    with pytest.raises(DataError, match=r"^the loss multiclass_hinge gives no class probabilities; use predict\(x\) "
                                        r"for the classes or scores\(x\) for the outputs$"):
        run.predict_proba(x)


def test_a_run_opens_from_its_directory_latest_or_a_model_file(iris):
    history = json.loads((iris / "history.json").read_text())
    for path in (iris, iris.parent / "latest", iris / "model.npz", str(iris / "last.npz")):
        run = mlp.load_run(path)
        assert run.config["name"] == "iris" and run.config["data"]["normalize"] == "standardize"
        assert run.history.records == history and len(run.history) == 100
        assert isinstance(run.model, Sequential) and run.model.in_features == 4
    assert mlp.load_run(iris.parent / "latest").path.resolve() == (iris / "model.npz").resolve()


def test_the_bare_network_loaders_warn_on_a_runs_model_file(iris, tmp_path):
    for load in (load_model, Sequential.load):
        with pytest.warns(UserWarning) as caught:
            network = load(iris / "model.npz")
        (warning,) = caught
        assert warning.filename == __file__  # the line that called it, so each call site is told
        assert str(warning.message) == (
            f"{iris / 'model.npz'} was written by `mlp train`: this is its bare network, which expects inputs "
            f"standardised with the run's mean and std and gives scores, not the run's class names; use "
            f"mlp.load_run(path) to predict as `mlp predict` does")
        np.testing.assert_array_equal(network.predict(np.ones((2, 4), np.float32)),
                                      mlp.load_run(iris).model.predict(np.ones((2, 4), np.float32)))
    Sequential([Dense(4, 3)], seed=0).save(tmp_path / "plain.npz")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_model(tmp_path / "plain.npz")  # a bare network's file: nothing to say


def test_errors_say_what_to_give(iris, tmp_path):
    Sequential([Dense(4, 3)], seed=0).save(tmp_path / "plain.npz")
    (tmp_path / "empty").mkdir()
    for path, message in [
        (tmp_path / "nowhere", "nowhere: no such run directory or model file"),
        (tmp_path / "empty", "empty has no model.npz; is it a run directory written by `mlp train`?"),
        (tmp_path / "plain.npz", "plain.npz holds no run config (it was not written by `mlp train`); open a bare "
                                 "network with mlp.Sequential.load(path), or give a run directory or a model file "
                                 "from one"),
    ]:
        with pytest.raises(CheckpointError) as err:
            mlp.load_run(path)
        assert str(err.value).endswith(message) and "\n" not in str(err.value)

    run = mlp.load_run(iris)
    x, y = iris_rows()
    for call, message in [
        (lambda: run.predict(np.hstack([x, x[:, :1]])), "x has 5 columns, the model takes 4 features; drop the "
                                                        "target column"),
        (lambda: run.predict(x[0]), "x must be 2-D (rows, features), got shape (4,); give one row as [row]"),
        (lambda: run.predict([["a", "b", "c", "d"]]), "x is not numeric (<U1); give the feature columns only"),
        (lambda: run.predict([[np.nan, 1, 2, 3]]), "x: row 0, column 0 is nan"),
        (lambda: run.evaluate(x, np.where(y == "setosa", "rose", y)), "y has classes that the model does not: rose"),
        (lambda: run.evaluate(x, y[:10]), "x has 150 rows but y has 10"),
        (lambda: run.evaluate(x, np.unique(y, return_inverse=True)[1]), "y holds numbers (0, 1, 2), but the run's "
                                                                        "classes are setosa, versicolor, virginica; "
                                                                        "give y as class names"),
        (lambda: run.evaluate(x, np.zeros((150, 3))), "y must be 1-D class labels (names or numbers), got shape "
                                                      "(150, 3)"),
    ]:
        with pytest.raises(DataError) as err:
            call()
        assert str(err.value).startswith(message), (str(err.value), message)
