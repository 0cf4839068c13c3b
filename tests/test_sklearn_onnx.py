"""``mlp.sklearn_onnx``: ``skl2onnx.to_onnx`` converts whole Pipelines holding mlp's estimators, and onnxruntime
gives the Pipeline's own outputs (to 1e-5) and labels on scikit-learn's bundled sets (wine, iris, diabetes):
multiclass and binary classifiers, string and numeric labels, the zipmap options, a multilabel classifier, a
Poisson regressor, single- and multi-output regressors; the registration waits for skl2onnx's import."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytest.importorskip("sklearn")
skl2onnx = pytest.importorskip("skl2onnx")
ort = pytest.importorskip("onnxruntime")

from sklearn.datasets import load_diabetes, load_iris, load_wine, make_multilabel_classification  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from mlp.export import ExportError  # noqa: E402
from mlp.extras import MissingExtraError  # noqa: E402
from mlp.sklearn import MLPClassifier, MLPRegressor  # noqa: E402
from mlp.sklearn_onnx import _AfterImport, register  # noqa: E402

TOLERANCE = 1e-5
# Short fits reach max_iter, which scikit-learn's estimators say with a ConvergenceWarning (as these do).
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def run_onnx(exported, X):
    """The graph's outputs for ``X``, by name, under onnxruntime."""
    session = ort.InferenceSession(exported.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, {session.get_inputs()[0].name: X}), strict=True))


def convert(pipeline, X, **options):
    """``skl2onnx.to_onnx(pipeline, X[:1])``, with ``options`` for mlp's estimator, run on ``X``."""
    estimator = type(pipeline[-1])
    exported = skl2onnx.to_onnx(pipeline, X[:1], options={estimator: options} if options else None)
    return run_onnx(exported, X)


def classifier(**params):
    return MLPClassifier(**{"hidden_layer_sizes": (16,), "max_iter": 200, "learning_rate_init": 0.01, "random_state": 0}
                         | params)


def loaded(load):
    X, y = load(return_X_y=True)
    return X, y


SETS = {"wine": load_wine, "iris": load_iris}


def assert_same_classifier(pipeline, got, X):
    np.testing.assert_allclose(got["probabilities"], pipeline.predict_proba(X), rtol=TOLERANCE, atol=TOLERANCE)
    np.testing.assert_array_equal(got["label"], pipeline.predict(X))


@pytest.mark.parametrize("labels", ["numbers", "strings"])
@pytest.mark.parametrize("name", SETS)
def test_a_scaler_and_classifier_pipeline_gives_its_probabilities_and_labels(name, labels):
    X, y = loaded(SETS[name])
    if labels == "strings":
        y = np.array(["class a", "class b", "class c"])[y]
    pipeline = make_pipeline(StandardScaler(), classifier()).fit(X, y)
    assert pipeline.score(X, y) > 0.9
    for rows in (X, X.astype(np.float32)):  # the graph takes the type it was converted with
        got = convert(pipeline, rows, zipmap=False)
        assert got["probabilities"].dtype == np.float32
        assert got["label"].dtype == (np.int64 if labels == "numbers" else object)
        assert_same_classifier(pipeline, got, rows)


def test_a_binary_classifier_has_one_logistic_output():
    X, y = loaded(load_wine)
    X, y = X[y < 2], np.where(y[y < 2] == 1, "yes", "no")
    pipeline = make_pipeline(StandardScaler(), classifier()).fit(X, y)
    assert pipeline[-1].model_.output_size(X.shape[1]) == 1 and pipeline[-1].out_activation_ == "logistic"
    got = convert(pipeline, X, zipmap=False)
    assert got["probabilities"].shape == (len(X), 2)
    assert_same_classifier(pipeline, got, X)


def test_the_options_of_skl2onnx_classifiers():
    X, y = loaded(load_iris)
    y = np.array(["setosa", "versicolor", "virginica"])[y]
    pipeline = make_pipeline(StandardScaler(), classifier()).fit(X, y)
    probabilities = pipeline.predict_proba(X)
    got = convert(pipeline, X)  # the default: a list of {label: probability}
    assert list(got) == ["output_label", "output_probability"]
    np.testing.assert_array_equal(got["output_label"], pipeline.predict(X))
    assert list(got["output_probability"][0]) == list(pipeline.classes_)
    np.testing.assert_allclose([[row[c] for c in pipeline.classes_] for row in got["output_probability"]],
                               probabilities, rtol=TOLERANCE, atol=TOLERANCE)
    columns = convert(pipeline, X, zipmap="columns")
    assert list(columns) == ["output_label", "ssetosa", "sversicolor", "svirginica"]
    np.testing.assert_allclose(np.column_stack(list(columns.values())[1:]), probabilities, rtol=TOLERANCE,
                               atol=TOLERANCE)
    indices = convert(pipeline, X, zipmap=False, nocl=True)  # class indices instead of the labels
    np.testing.assert_array_equal(pipeline.classes_[indices["label"]], pipeline.predict(X))
    named = convert(pipeline, X, zipmap=False, output_class_labels=True)  # and the labels as an output
    np.testing.assert_array_equal(named["class_labels"], pipeline.classes_)


def test_numeric_labels_are_int64():
    X, y = loaded(load_iris)
    pipeline = make_pipeline(StandardScaler(), classifier()).fit(X, y.astype(np.float64) * 10)
    got = convert(pipeline, X, zipmap=False)
    assert got["label"].dtype == np.int64
    np.testing.assert_array_equal(got["label"], pipeline.predict(X))


def test_a_multilabel_classifier_gives_a_0_1_label_per_output():
    X, y = make_multilabel_classification(100, 6, n_classes=3, random_state=0)
    pipeline = make_pipeline(StandardScaler(), classifier(max_iter=200)).fit(X, y)
    assert pipeline[-1].out_activation_ == "logistic"
    probabilities = pipeline.predict_proba(X)  # an independent sigmoid per output
    got = convert(pipeline, X, zipmap=False)
    np.testing.assert_allclose(got["probabilities"], probabilities, rtol=TOLERANCE, atol=TOLERANCE)
    assert got["label"].shape == (len(X), 3) and got["label"].dtype == np.int64
    np.testing.assert_array_equal(got["label"], pipeline.predict(X))


def test_a_float64_network_and_its_own_standardizer():
    X, y = loaded(load_wine)
    pipeline = make_pipeline(classifier(standardize=True)).fit(X, y)  # float64 X: a float64 network
    assert pipeline[-1].coefs_[0].dtype == np.float64
    assert pipeline[-1].standardizer_ is not None
    assert_same_classifier(pipeline, convert(pipeline, X, zipmap=False), X)


def regressor(**params):
    return MLPRegressor(**{"hidden_layer_sizes": (16,), "max_iter": 200, "learning_rate_init": 0.01, "random_state": 0}
                        | params)


def test_regressors_of_one_and_several_targets():
    X, y = loaded(load_diabetes)
    y = (y - y.mean()) / y.std()
    for targets in (y, np.column_stack([y, y**2, -y])):
        pipeline = make_pipeline(StandardScaler(), regressor()).fit(X, targets)
        for rows in (X, X.astype(np.float32)):
            got = convert(pipeline, rows)
            assert list(got) == ["variable"] and got["variable"].dtype == rows.dtype  # the input's float type
            expected = pipeline.predict(rows).reshape(len(rows), -1)
            np.testing.assert_allclose(got["variable"], expected, rtol=TOLERANCE, atol=TOLERANCE)


def test_a_poisson_regressor_gives_rates_and_an_unknown_activation_is_one_error():
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, (200, 3))
    counts = rng.poisson(np.exp(X.sum(axis=1)))
    pipeline = make_pipeline(StandardScaler(), regressor(loss="poisson")).fit(X, counts)
    assert pipeline[-1].out_activation_ == "exp"
    np.testing.assert_allclose(convert(pipeline, X)["variable"][:, 0], pipeline.predict(X), rtol=TOLERANCE)
    pipeline[-1].out_activation_ = "tanh"
    with pytest.raises(ExportError, match=r"^output activation 'tanh' has no ONNX form in mlp; export works for "
                                          r"identity, softmax, logistic, exp$"):
        convert(pipeline, X)


def test_an_opset_before_13_is_refused_in_one_line():
    X, y = loaded(load_iris)
    pipeline = make_pipeline(StandardScaler(), classifier(max_iter=2)).fit(X, y)
    with pytest.raises(ExportError, match=r"^mlp's estimators convert to ONNX opset 13 or later, not 12; call "
                                          r"skl2onnx.to_onnx with target_opset=13 or more$"):
        skl2onnx.to_onnx(pipeline, X[:1], target_opset=12)


# -- registration -------------------------------------------------------------------------------------------------
def python(*code: str) -> str:
    """What the pieces of ``code`` print, run by a fresh interpreter (this one has imported skl2onnx already)."""
    result = subprocess.run([sys.executable, "-c", "".join(textwrap.dedent(piece) for piece in code)],
                            capture_output=True, text=True, timeout=300)
    if result.returncode:
        raise RuntimeError(result.stderr)  # not the AssertionError of a wrong output
    return result.stdout


CONVERT = """
    from sklearn.datasets import load_iris
    X, y = load_iris(return_X_y=True)
    clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=2).fit(X, y)
    print(skl2onnx.to_onnx(clf, X[:1]).graph.output[0].name)
"""


@pytest.mark.slow  # a fresh interpreter imports scikit-learn and skl2onnx: seconds
def test_registration_waits_for_skl2onnx_to_be_imported():
    assert python("""
        import sys
        from mlp.sklearn import MLPClassifier, MLPRegressor
        from mlp.sklearn_onnx import register_when_imported
        register_when_imported(MLPClassifier, MLPRegressor)
        print("skl2onnx" in sys.modules, "onnx" in sys.modules)
        import skl2onnx
        print(type(skl2onnx.__spec__.loader).__name__, [f for f in sys.meta_path if "AfterImport" in repr(f)])
    """, CONVERT) == "False False\nSourceFileLoader []\noutput_label\n"


@pytest.mark.slow  # a fresh interpreter imports scikit-learn and skl2onnx: seconds
def test_registration_is_at_once_where_skl2onnx_is_imported_already():
    assert python("""
        import skl2onnx
        from mlp.sklearn import MLPClassifier, MLPRegressor
        from mlp.sklearn_onnx import register_when_imported
        register_when_imported(MLPClassifier, MLPRegressor)
    """, CONVERT) == "output_label\n"


def test_without_skl2onnx_nothing_is_registered_and_register_says_how_to_install_it(monkeypatch):
    from mlp.sklearn_onnx import register_when_imported

    monkeypatch.setitem(sys.modules, "skl2onnx", None)  # `import skl2onnx` fails as if it were not installed
    finders = list(sys.meta_path)
    register_when_imported(MLPClassifier, MLPRegressor)
    assert sys.meta_path == finders
    with pytest.raises(MissingExtraError, match=r"^mlp.sklearn_onnx needs skl2onnx, which is not installed; install "
                                                r"it with: pip install .*skl2onnx>=1.18.*  \(the skl2onnx extra\)$"):
        register(MLPClassifier, MLPRegressor)


@pytest.mark.slow  # a fresh interpreter imports scikit-learn and skl2onnx: seconds
def test_importing_mlp_sklearn_is_all_it_takes():
    assert python("""
        import skl2onnx
        from skl2onnx.common.exceptions import MissingShapeCalculator
        from mlp.sklearn import MLPClassifier
        from sklearn.datasets import load_iris
        X, y = load_iris(return_X_y=True)
        clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=2).fit(X, y)
        try:
            print(skl2onnx.to_onnx(clf, X[:1]).graph.output[0].name)
        except MissingShapeCalculator:
            print("not registered")
    """) == "output_label\n"


@pytest.fixture
def module_to_import(tmp_path, monkeypatch):
    (tmp_path / "fresh_module_for_mlp.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    yield "fresh_module_for_mlp"
    sys.modules.pop("fresh_module_for_mlp", None)


def test_the_hook_runs_once_after_the_module_ran_and_leaves_its_loader(module_to_import):
    import importlib

    seen = []
    finder = _AfterImport(module_to_import, lambda: seen.append(sys.modules[module_to_import].VALUE))
    sys.meta_path.insert(0, finder)
    importlib.util.find_spec(module_to_import)  # a look without an import runs nothing
    assert seen == [] and finder in sys.meta_path
    module = importlib.import_module(module_to_import)
    assert seen == [1] and finder not in sys.meta_path
    assert type(module.__loader__).__name__ == "SourceFileLoader" and module.__spec__.loader is module.__loader__


def test_a_failed_registration_warns_and_the_import_goes_on(module_to_import):
    import importlib

    def fail():
        raise TypeError("an incompatible skl2onnx")

    sys.meta_path.insert(0, _AfterImport(module_to_import, fail))
    with pytest.warns(RuntimeWarning, match=r"^mlp.sklearn's estimators could not be registered with skl2onnx "
                                            r"\(TypeError: an incompatible skl2onnx\); call "
                                            r"mlp.sklearn_onnx.register\(MLPClassifier, MLPRegressor\) to see why$"):
        assert importlib.import_module(module_to_import).VALUE == 1
