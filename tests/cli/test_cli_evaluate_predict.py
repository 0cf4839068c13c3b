"""``mlp evaluate`` and ``mlp predict`` on tiny runs trained once per module: spirals (classes "0", "1"),
a CSV of flowers with class names and a standardizer, and a regression run."""

from __future__ import annotations

import csv
import io
import json
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from click.testing import Result
from conftest import SPIRALS, assert_one_line_error, invoke

import mlp.runs.run
import mlp.runs.trained
from mlp import Dense, Sequential, save_model
from mlp.data import FallbackWarning, Standardizer, blobs
from mlp.nn.losses import SoftmaxCrossEntropy

FLOWERS = ["setosa", "versicolor", "virginica"]
FLOWERS_CONFIG = """\
name: flowers
seed: 0
data: {dataset: csv, path: flowers.csv, target: species, test_split: 0.2, normalize: standardize}
model:
  layers:
    - {dense: 16, activation: relu}
    - {dense: 3}
loss: softmax_cross_entropy
optimizer: {name: adam, lr: 0.01}
training: {epochs: 3, batch_size: 16}
"""


def train(*args: str | Path) -> Path:
    """Train a tiny run quietly and return its run directory."""
    result = invoke("train", *args, "-q")
    assert result.exit_code == 0, result.output
    return Path(result.stdout.split()[0])


def write_flowers(path: Path, x: np.ndarray, y: np.ndarray, header: bool = True, target: bool = True) -> Path:
    """Rows ``x`` with the flower names of labels ``y`` as a last ``species`` column."""
    names = [f"f{i}" for i in range(x.shape[1])] + ["species"] * target
    lines = [",".join(names)] * header
    lines += [",".join([*(f"{v:.4f}" for v in row), *([FLOWERS[label]] * target)])
              for row, label in zip(x, y, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def spirals(tmp_path_factory) -> Path:
    return train(SPIRALS, "--epochs", "2", "--out", tmp_path_factory.mktemp("spirals"))


@pytest.fixture(scope="module")
def flowers(tmp_path_factory) -> Path:
    """A run on a CSV of 3 blobs named after iris species, standardised (features far from 0 and 1)."""
    folder = tmp_path_factory.mktemp("flowers")
    x, y = blobs(n=200, centers=3, features=2, seed=1)
    write_flowers(folder / "flowers.csv", x * 3 + 10, y)
    (folder / "flowers.yaml").write_text(FLOWERS_CONFIG)
    return train(folder / "flowers.yaml", "--out", folder / "runs")


@pytest.fixture(scope="module")
def regression(tmp_path_factory) -> Path:
    return train(SPIRALS, "--epochs", "1", "--out", tmp_path_factory.mktemp("regression"), "--set", "name=curve",
                 "--set", "data.dataset=regression", "--set", "loss=mse", "--set", "model.layers.2.dense=1")


def test_metrics(run: Path) -> dict[str, float]:
    return json.loads((run / "metrics.json").read_text())["test"]


test_metrics.__test__ = False  # a helper, not a test


def parse_evaluation(result: Result) -> dict:
    """The numbers `mlp evaluate` prints: loss, accuracy, the class table (support, recall: each class's
    accuracy; the full rows in ``scores``) and the confusion matrix."""
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    out = {"loss": float(re.search(r"^loss +([\d.]+)", result.stdout, re.M).group(1))}
    accuracy = re.search(r"^accuracy ([\d.]+) \(([\d,]+) of ([\d,]+) rows\)", result.stdout, re.M)
    if accuracy is None:
        return out
    out["accuracy"], out["rows"] = float(accuracy.group(1)), int(accuracy.group(3).replace(",", ""))
    start = lines.index(next(line for line in lines if line.startswith("class ")))
    assert lines[start].split() == ["class", "support", "precision", "recall", "f1"]
    out["table"], out["scores"] = {}, {}
    for line in lines[start + 1 :]:
        if not line:
            break
        name, support, precision, recall, f1 = line.rsplit(None, 4)
        out["scores"][name.strip()] = {"precision": float(precision), "recall": float(recall), "f1-score": float(f1),
                                       "support": int(support.replace(",", ""))}
        if name.strip() not in ("macro avg", "weighted avg"):
            out["table"][name.strip()] = (int(support.replace(",", "")), float(recall))
    start = lines.index("confusion matrix (rows: true class, columns: predicted class)")
    out["header"] = lines[start + 1].split()
    out["matrix"] = {line.split()[0]: [int(n) for n in line.split()[1:]] for line in lines[start + 2 :]}
    return out


def assert_consistent(evaluation: dict) -> None:
    """Confusion matrix rows sum to the supports, its diagonal over them is each class's accuracy, its
    trace over all rows the accuracy."""
    table, matrix = evaluation["table"], evaluation["matrix"]
    assert list(matrix) == list(table) == evaluation["header"]
    for i, (name, (support, accuracy)) in enumerate(table.items()):
        assert sum(matrix[name]) == support
        if support:
            assert accuracy == pytest.approx(matrix[name][i] / support, abs=5e-5)
    assert sum(s for s, _ in table.values()) == evaluation["rows"]
    trace = sum(matrix[name][i] for i, name in enumerate(matrix))
    assert evaluation["accuracy"] == pytest.approx(trace / evaluation["rows"], abs=5e-5)


def parse_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


# -- mlp evaluate ----------------------------------------------------------------------------------------


def test_evaluate_run_dir_reproduces_the_runs_test_metrics(spirals):
    result = invoke("evaluate", spirals)
    evaluation = parse_evaluation(result)
    assert result.stdout.startswith(f"model    {spirals / 'model.npz'}: spirals run, epoch 2: 2-64-64-2 (")
    assert "data     spirals from synthetic (seed 0): test set, 400 rows\n" in result.stdout
    expected = test_metrics(spirals)
    assert evaluation["loss"] == pytest.approx(expected["loss"], abs=5e-5)
    assert evaluation["accuracy"] == pytest.approx(expected["accuracy"], abs=5e-5)
    assert evaluation["rows"] == 400 and list(evaluation["table"]) == ["0", "1"]
    assert_consistent(evaluation)
    assert result.stderr == ""


def test_evaluate_model_file_and_training_split(spirals):
    assert invoke("evaluate", spirals / "model.npz").stdout == invoke("evaluate", spirals).stdout
    evaluation = parse_evaluation(invoke("evaluate", spirals / "last.npz", "--split", "train"))
    assert evaluation["rows"] == 1280  # 2000 samples: 1600 training rows, of which fit trained on 80%
    assert_consistent(evaluation)


def test_evaluate_on_another_dataset(spirals):
    result = invoke("evaluate", spirals, "--data", "xor")
    assert "data     xor from synthetic (seed 0): test set, 200 rows\n" in result.stdout
    assert_consistent(parse_evaluation(result))


def test_evaluate_class_names_and_the_runs_standardizer(flowers):
    result = invoke("evaluate", flowers)
    evaluation = parse_evaluation(result)
    assert list(evaluation["table"]) == FLOWERS and evaluation["rows"] == 40
    assert "test set, 40 rows, standardised with the run's mean and std" in result.stdout
    assert evaluation["loss"] == pytest.approx(test_metrics(flowers)["loss"], abs=5e-5)
    assert_consistent(evaluation)


def test_evaluate_on_a_file_maps_its_labels_onto_the_models_classes(flowers, tmp_path):
    # Two of the three classes, shifted away from the training data: a standardizer fitted on these
    # rows would give other numbers than the run's.
    x, y = blobs(n=30, centers=3, features=2, seed=1)
    keep = y != 1
    x, y = x[keep] * 3 + 11, y[keep]
    path = write_flowers(tmp_path / "new.csv", x, y)
    evaluation = parse_evaluation(result := invoke("evaluate", flowers, "--data", path))
    assert f"data     new from file {path}: the whole file, {len(x)} rows" in result.stdout
    assert evaluation["table"]["versicolor"] == (0, 0.0)  # no rows: its recall is 0/0, given as 0 (scikit-learn's)
    assert evaluation["table"]["setosa"][0] == (y == 0).sum()
    assert_consistent(evaluation)

    checkpoint = mlp.runs.trained.load_trained(flowers / "model.npz").checkpoint
    output = checkpoint.model.predict(Standardizer.from_state(checkpoint.extra["standardizer"]).transform(x))
    assert evaluation["loss"] == pytest.approx(SoftmaxCrossEntropy().forward(output, y), abs=5e-5)


@pytest.fixture(scope="module")
def twelve(tmp_path_factory) -> Path:
    """A run on an NPZ file of 12 classes (blobs), which gets a top-5 accuracy."""
    folder = tmp_path_factory.mktemp("twelve")
    x, y = blobs(n=600, centers=12, features=4, seed=2)
    np.savez(folder / "twelve.npz", x=x, y=y)
    return train(SPIRALS, "--epochs", "2", "--out", folder / "runs", "--set", "name=twelve",
                 "--set", f"data={{dataset: npz, path: {folder / 'twelve.npz'}, test_split: 0.5}}",
                 "--set", "model.layers.2.dense=12")


def sklearn_numbers(run: Path) -> tuple[dict, float, list[str]]:
    """scikit-learn's classification report and top-5 accuracy of the run's predictions on its test set."""
    metrics = pytest.importorskip("sklearn.metrics")
    trained = mlp.runs.trained.load_trained(run)
    rows = mlp.runs.trained.load_rows(trained, None, None, "test")
    output = trained.outputs(rows.x)
    labels = list(range(len(trained.classes)))
    with warnings.catch_warnings():  # a class never predicted: its default zero_division warns, then gives 0
        warnings.simplefilter("ignore")
        report = metrics.classification_report(rows.y, trained.loss.predicted_classes(output), labels=labels,
                                               target_names=trained.classes, output_dict=True)
    top5 = metrics.top_k_accuracy_score(rows.y, output, k=5, labels=labels) if len(labels) > 5 else None
    return report, top5, trained.classes


@pytest.mark.parametrize("name", ["spirals", "flowers", "twelve"])
def test_evaluate_text_and_json_are_scikit_learns_numbers(name, request):
    run = request.getfixturevalue(name)
    report, top5, classes = sklearn_numbers(run)
    text, result = parse_evaluation(invoke("evaluate", run)), invoke("evaluate", run, "--json")
    assert result.exit_code == 0 and result.stderr == ""
    assert len(result.stdout.splitlines()) == 1
    numbers = json.loads(result.stdout)
    assert list(numbers["classes"]) == classes == list(text["table"])
    for key in [*classes, "macro avg", "weighted avg"]:
        ours = numbers["classes"][key] if key in classes else numbers[key]
        assert ours == pytest.approx(report[key], abs=1e-12), key
        assert text["scores"][key] == pytest.approx(ours, abs=5e-5), key  # the text shows the JSON's numbers
    assert numbers["accuracy"] == pytest.approx(report["accuracy"], abs=1e-12)
    assert numbers["accuracy"] == pytest.approx(text["accuracy"], abs=5e-5) and numbers["loss"] == pytest.approx(
        text["loss"], abs=5e-5)
    assert numbers["rows"] == text["rows"] and numbers["confusion_matrix"] == list(text["matrix"].values())
    assert numbers["loss"] == pytest.approx(test_metrics(run)["loss"], rel=1e-6)
    shown = re.search(r"^top-5 +([\d.]+) \(the true class among the 5 highest scores\)$",
                      invoke("evaluate", run).stdout, re.M)
    if top5 is None:
        assert "top_5_accuracy" not in numbers and shown is None
    else:
        assert numbers["top_5_accuracy"] == pytest.approx(top5, abs=1e-12)
        assert float(shown.group(1)) == pytest.approx(top5, abs=5e-5)


def test_evaluate_json_of_a_regression_and_of_a_file(regression, flowers, tmp_path):
    numbers = json.loads(invoke("evaluate", regression, "--json").stdout)
    text = invoke("evaluate", regression).stdout
    assert set(numbers) == {"model", "data", "standardised", "loss", "loss_name", "mae"}
    assert f"mae      {numbers['mae']:.4f} (mean absolute error)" in text
    x, y = blobs(n=30, centers=3, features=2, seed=1)
    path = write_flowers(tmp_path / "new.csv", x * 3 + 11, y)
    numbers = json.loads(invoke("evaluate", flowers, "--data", path, "--json").stdout)
    assert numbers["data"] == {"name": "new", "source": f"file {path}", "part": "the whole file", "rows": 30}
    assert numbers["standardised"] is True and numbers["classes"].keys() == set(FLOWERS)


def test_evaluate_regression_prints_no_class_tables(regression):
    result = invoke("evaluate", regression)
    assert parse_evaluation(result)["loss"] == pytest.approx(test_metrics(regression)["loss"], abs=5e-5)
    assert re.search(r"^mae +[\d.]+ \(mean absolute error\)$", result.stdout, re.M)
    assert "accuracy" not in result.stdout and "confusion" not in result.stdout


def test_evaluate_says_data_warnings_on_one_line(spirals, monkeypatch):
    load_data = mlp.runs.run.load_data

    def with_fallback(*args):
        warnings.warn("MNIST NOT FOUND, USING THE BUNDLED SAMPLE", FallbackWarning, stacklevel=2)
        return load_data(*args)

    monkeypatch.setattr(mlp.runs.run, "load_data", with_fallback)
    result = invoke("evaluate", spirals)
    assert result.exit_code == 0, result.output
    assert result.stderr == "warning: MNIST NOT FOUND, USING THE BUNDLED SAMPLE\n"


# -- mlp predict -----------------------------------------------------------------------------------------


def test_predict_a_csv_to_stdout(flowers, tmp_path):
    x, y = blobs(n=25, centers=3, features=2, seed=2)
    result = invoke("predict", flowers, write_flowers(tmp_path / "rows.csv", x * 3 + 10, y, target=False))
    assert result.exit_code == 0, result.output
    rows = parse_csv(result.stdout)
    assert list(rows[0]) == ["row", "prediction", "p_setosa", "p_versicolor", "p_virginica"]
    assert [int(row["row"]) for row in rows] == list(range(25))
    for row in rows:
        probabilities = [float(row[f"p_{name}"]) for name in FLOWERS]
        assert sum(probabilities) == pytest.approx(1, abs=1e-5)
        assert row["prediction"] == FLOWERS[int(np.argmax(probabilities))]
        assert re.fullmatch(r"0\.\d{6}|1\.0{6}", row["p_setosa"])


def test_predict_a_headerless_csv_and_an_npz_alike(flowers, tmp_path):
    x, y = blobs(n=10, centers=3, features=2, seed=3)
    x = x * 3 + 10
    from_csv = invoke("predict", flowers, write_flowers(tmp_path / "rows.csv", x, y, header=False, target=False))
    np.savez(tmp_path / "rows.npz", features=x)  # the only array, whatever its name
    from_npz = invoke("predict", flowers, tmp_path / "rows.npz")
    assert from_csv.exit_code == from_npz.exit_code == 0, from_csv.output + from_npz.output
    predictions = [[row["prediction"] for row in parse_csv(result.stdout)] for result in (from_csv, from_npz)]
    assert predictions[0] == predictions[1]


def test_predict_a_dataset_to_a_file(spirals, tmp_path):
    out = tmp_path / "predictions.csv"
    result = invoke("predict", spirals, "spirals", "--out", out)
    assert result.exit_code == 0, result.output
    accuracy = test_metrics(spirals)["accuracy"]
    assert result.stdout == f"wrote 400 predictions to {out} (spirals test set: accuracy {accuracy:.4f})\n"
    rows = parse_csv(out.read_text())
    assert len(rows) == 400 and list(rows[0]) == ["row", "prediction", "p_0", "p_1"]
    for row in rows:
        assert row["prediction"] == ("1" if float(row["p_1"]) > float(row["p_0"]) else "0")
    assert [path.name for path in tmp_path.iterdir()] == ["predictions.csv"]  # no temporary file left


def test_predict_limit_and_regression(regression):
    result = invoke("predict", regression, "regression", "--limit", "3")
    assert result.exit_code == 0, result.output
    rows = parse_csv(result.stdout)
    assert len(rows) == 3 and list(rows[0]) == ["row", "prediction"]
    float(rows[0]["prediction"])


def test_predict_json_lines_are_the_csvs_predictions(flowers, regression, tmp_path):
    x, y = blobs(n=25, centers=3, features=2, seed=2)
    path = write_flowers(tmp_path / "rows.csv", x * 3 + 10, y, target=False)
    rows, result = parse_csv(invoke("predict", flowers, path).stdout), invoke("predict", flowers, path, "--json")
    assert result.exit_code == 0 and result.stderr == ""
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == len(rows) == 25
    for line, row in zip(lines, rows, strict=True):
        assert list(line) == ["row", "prediction", "probabilities"] and line["row"] == int(row["row"])
        assert line["prediction"] == row["prediction"] and list(line["probabilities"]) == FLOWERS
        for name, p in line["probabilities"].items():
            assert float(row[f"p_{name}"]) == pytest.approx(p, abs=5e-7)  # the CSV rounds to 6 decimals
    out = tmp_path / "predictions.jsonl"
    written = invoke("predict", flowers, path, "--json", "--out", out)
    assert written.stdout == f"wrote 25 predictions to {out}\n" and out.read_text() == result.stdout
    values = parse_csv(invoke("predict", regression, "regression", "--limit", "3").stdout)
    lines = [json.loads(line) for line in invoke("predict", regression, "regression", "--limit", "3",
                                                  "--json").stdout.splitlines()]
    assert [line["row"] for line in lines] == [0, 1, 2]
    assert [float(row["prediction"]) for row in values] == pytest.approx([line["prediction"] for line in lines],
                                                                         rel=1e-5)


# -- errors ----------------------------------------------------------------------------------------------


def test_errors_about_the_model_file(tmp_path):
    save_model(tmp_path / "plain.npz", Sequential([Dense(2, 2)], seed=0))
    (tmp_path / "empty").mkdir()
    for command in (["evaluate"], ["predict"]):
        extra = ["spirals"] if command == ["predict"] else []
        assert_one_line_error(invoke(*command, tmp_path / "nowhere", *extra), "nowhere: no such run directory")
        assert_one_line_error(invoke(*command, tmp_path / "empty", *extra), "has no model.npz", "mlp train")
        assert_one_line_error(invoke(*command, tmp_path / "plain.npz", *extra),
                              "plain.npz holds no run config", "give a run directory or a model file from one")


def test_errors_about_the_input(flowers, spirals, tmp_path):
    x, y = blobs(n=5, centers=3, features=2, seed=4)
    with_target = write_flowers(tmp_path / "labelled.csv", x, y)
    assert_one_line_error(invoke("predict", flowers, with_target),
                          "labelled.csv has 3 columns, the model takes 2 features; drop the target column")
    np.savez(tmp_path / "wide.npz", x=np.ones((2, 5)))
    line = assert_one_line_error(invoke("predict", flowers, tmp_path / "wide.npz"), "has 5 columns, the model takes 2")
    assert "target" not in line
    (tmp_path / "rows.txt").write_text("1,2\n")
    assert_one_line_error(invoke("predict", flowers, tmp_path / "rows.txt"), "unknown input file type .txt",
                          "a .csv or .npz file or a dataset name")
    assert_one_line_error(invoke("predict", flowers, "sprials"), "unknown dataset 'sprials'", "spirals")
    assert_one_line_error(invoke("evaluate", flowers, "--data", "sprials"), "unknown dataset 'sprials'")
    assert_one_line_error(invoke("evaluate", spirals, "--data", "blobs"),
                          "blobs has classes that the model does not: 2")
    assert_one_line_error(invoke("evaluate", spirals, "--data-dir", tmp_path), "--data-dir applies to mnist")


def test_help_has_examples():
    for command in ("evaluate", "predict"):
        result = invoke(command, "--help")
        assert result.exit_code == 0 and "\n  Examples:\n    mlp " + command in result.stdout
