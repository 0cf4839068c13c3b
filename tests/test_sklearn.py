"""``mlp.sklearn``: scikit-learn's own estimator checks, Pipelines, ColumnTransformer, cross-validation and a
parallel grid search, reproducibility, weights, ``partial_fit``, saving, and the config's messages."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

pytest.importorskip("sklearn")
pd = pytest.importorskip("pandas")

from sklearn.base import clone  # noqa: E402
from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.datasets import load_iris, make_regression  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from mlp import Sequential  # noqa: E402
from mlp.runs.config import ConfigError, resolve  # noqa: E402
from mlp.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

# Two checks compare floating-point outputs with rtol 1e-7, below float32's resolution (eps = 1.19e-7); the
# float32 networks (the default) pass them only to about 1e-6, and the float64 ones pass them as they are.
FLOAT32_ROUNDING = {
    "check_methods_subset_invariance": "float32: BLAS computes a single row (matrix-vector) and a batch (matrix-"
                                       "matrix) in different orders, a few ulps apart; passes with dtype='float64'",
    "check_sample_weight_equivalence_on_dense_data": "float32: a row repeated twice and a row of weight 2 are summed "
                                                     "in different orders, a few ulps apart; passes with "
                                                     "dtype='float64'",
}


def expected_failures(estimator):
    return FLOAT32_ROUNDING if estimator.dtype == "float32" else {}


@pytest.mark.slow  # some 280 checks: 14 s in all
@parametrize_with_checks([MLPClassifier(), MLPRegressor(), MLPClassifier(dtype="float64"),
                          MLPRegressor(dtype="float64")], expected_failed_checks=expected_failures)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def iris():
    x, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]  # string labels
    order = np.random.default_rng(0).permutation(len(x))
    return x[order], names[order]


def small(**params):
    return MLPClassifier(**{"hidden_layer_sizes": (16,), "epochs": 60, "learning_rate": 0.01, "random_state": 0}
                         | params)


def test_string_labels_probabilities_and_float32(iris):
    x, y = iris
    clf = small().fit(x, y)
    assert list(clf.classes_) == ["setosa", "versicolor", "virginica"]
    assert clf.score(x, y) > 0.9
    assert set(clf.predict(x)) <= set(clf.classes_)
    proba = clf.predict_proba(x)
    assert proba.shape == (150, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(x))
    np.testing.assert_allclose(clf.predict_log_proba(x), np.log(proba), rtol=1e-6)
    assert isinstance(clf.model_, Sequential)
    assert all(p.dtype == np.float32 for p in clf.model_.params.values())
    assert clf.predict_proba(x.astype(np.float32)).dtype == np.float32
    assert len(clf.loss_curve_) == 60 == len(clf.history_) == clf.n_iter_
    assert clf.loss_curve_ == clf.history_["loss"]
    assert clf.n_features_in_ == 4


def test_random_state_makes_fits_reproducible(iris):
    x, y = iris
    first, second = small().fit(x, y), small().fit(x, y)
    for key, value in first.model_.params.items():
        np.testing.assert_array_equal(value, second.model_.params[key])
    other = small(random_state=1).fit(x, y)
    assert not np.array_equal(first.model_.params["0.W"], other.model_.params["0.W"])


def test_pipeline_column_transformer_and_feature_names(iris):
    x, y = iris
    frame = pd.DataFrame(x, columns=["sepal_l", "sepal_w", "petal_l", "petal_w"])
    frame["colour"] = np.where(np.arange(150) % 2, "red", "blue")
    columns = ColumnTransformer([("numbers", StandardScaler(), ["sepal_l", "sepal_w", "petal_l", "petal_w"]),
                                 ("words", OneHotEncoder(), ["colour"])])
    pipe = make_pipeline(columns, small()).fit(frame, y)
    assert pipe.score(frame, y) > 0.9
    assert pipe[-1].n_features_in_ == 6
    direct = small().fit(frame[["sepal_l", "petal_l"]], y)
    assert list(direct.feature_names_in_) == ["sepal_l", "petal_l"]


@pytest.mark.slow
def test_cross_validation_and_a_parallel_grid_search(iris):
    x, y = iris
    scores = cross_val_score(make_pipeline(StandardScaler(), small()), x, y, cv=3)
    assert len(scores) == 3 and scores.min() > 0.8
    grid = GridSearchCV(small(), {"hidden_layer_sizes": [(8,), (16,)], "learning_rate": [0.01, 0.03]}, cv=3, n_jobs=2)
    grid.fit(x, y)
    assert len(grid.cv_results_["params"]) == 4
    assert grid.best_estimator_.score(x, y) > 0.9
    serial = GridSearchCV(small(), grid.param_grid, cv=3, n_jobs=1).fit(x, y)
    np.testing.assert_array_equal(grid.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"])


def test_pickle_and_clone(iris):
    x, y = iris
    clf = small().fit(x, y)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(x), clf.predict_proba(x))
    assert clone(clf).get_params() == clf.get_params()


def test_save_and_load_without_pickle(tmp_path, iris):
    x, y = iris
    clf = small(class_weight={"setosa": 2.0}, standardize=True).fit(x, y)
    clf.save(tmp_path / "clf.npz")
    with np.load(tmp_path / "clf.npz", allow_pickle=False) as f:  # plain arrays and JSON
        assert "__meta__" in f.files
    loaded = MLPClassifier.load(tmp_path / "clf.npz")
    assert loaded.get_params() == clf.get_params()
    np.testing.assert_array_equal(loaded.classes_, clf.classes_)
    np.testing.assert_array_equal(loaded.predict_proba(x), clf.predict_proba(x))
    # training on after loading is training on without it: weights, optimizer state and seeds were kept
    loaded.partial_fit(x, y)
    clf.partial_fit(x, y)
    for key, value in clf.model_.params.items():
        np.testing.assert_array_equal(loaded.model_.params[key], value)
    with pytest.raises(ValueError, match=r"holds MLPClassifier, not an MLPRegressor; load it with the class that"):
        MLPRegressor.load(tmp_path / "clf.npz")


def rewrite_state(path, change):
    """A model file whose estimator state ``change`` altered, with its checksum made to match: a hostile file."""
    from mlp.nn.modelfile import META
    from mlp.nn.modelfile import digest as _digest

    with np.load(path, allow_pickle=False) as f:
        arrays = {key: f[key] for key in f.files}
    meta = json.loads(str(arrays.pop(META)))
    change(meta["extra"]["sklearn"])
    meta["sha256"] = _digest(meta, arrays)
    np.savez(path, **arrays, **{META: np.array(json.dumps(meta))})


@pytest.mark.parametrize(("change", "message"), [
    (lambda state: state["params"].update(layers=3), "TypeError"),
    (lambda state: state.update(n_features_in=7), "ValueError: 7 features, but the network takes 4"),
    (lambda state: state.update(classes=["a"]), "ValueError: 1 classes, but the network has 3 outputs"),
    (lambda state: state.pop("rng"), "KeyError"),
    (lambda state: state.update(loss="nonsense"), "unknown loss 'nonsense'"),
])
def test_a_hostile_estimator_file_is_one_error(tmp_path, iris, change, message):
    x, y = iris
    small(epochs=2).fit(x, y).save(tmp_path / "clf.npz")
    rewrite_state(tmp_path / "clf.npz", change)
    with pytest.raises(ValueError, match=r"clf\.npz holds an MLPClassifier whose saved state cannot be read") as err:
        MLPClassifier.load(tmp_path / "clf.npz")
    assert message in str(err.value) and "save the estimator again" in str(err.value)


def test_partial_fit_continues_and_checks_classes(iris):
    x, y = iris
    clf = small()
    for _ in range(3):
        clf.partial_fit(x[:100], y[:100], classes=["setosa", "versicolor", "virginica"])
    assert clf.n_iter_ == 1 and len(clf.loss_curve_) == 3
    assert clf.loss_curve_[2] < clf.loss_curve_[0]
    with pytest.raises(ValueError, match=r"^classes \['a', 'b'\] differ from those of the first call"):
        clf.partial_fit(x, y, classes=["a", "b"])
    with pytest.raises(ValueError, match=r"^y holds labels the estimator does not know: \['other'\]"):
        clf.partial_fit(x[:2], ["other", "setosa"])


def test_warm_start_trains_on_from_the_last_fit(iris):
    x, y = iris
    clf = small(warm_start=True, epochs=5).fit(x, y)
    before = clf.model_.params["0.W"].copy()
    clf.fit(x, y)
    assert len(clf.loss_curve_) == 10
    assert not np.array_equal(before, clf.model_.params["0.W"])
    cold = small(epochs=5).fit(x, y)
    np.testing.assert_array_equal(before, cold.model_.params["0.W"])


def test_sample_and_class_weights(iris):
    x, y = iris
    balanced = small(class_weight="balanced").fit(x[:80], y[:80])
    per_row = small()
    counts = {label: np.sum(y[:80] == label) for label in np.unique(y[:80])}
    weights = np.array([80 / (3 * counts[label]) for label in y[:80]])
    per_row.fit(x[:80], y[:80], sample_weight=weights)
    np.testing.assert_array_equal(balanced.predict_proba(x), per_row.predict_proba(x))
    with pytest.raises(ValueError, match=r"^class_weight names class 'daisy', which y does not have"):
        small(class_weight={"daisy": 2}).fit(x, y)


def test_early_stopping_holds_out_a_stratified_validation_set(iris):
    x, y = iris
    clf = small(early_stopping=True, validation_fraction=0.2, patience=3, epochs=500).fit(x, y)
    assert "val_loss" in clf.history_
    assert clf.n_iter_ < 500


def test_layer_specs_dropout_and_other_losses(iris):
    x, y = iris
    specs = small(hidden_layer_sizes=[{"dense": 12, "activation": "tanh"}, {"dropout": 0.1}]).fit(x, y)
    assert [type(layer).__name__ for layer in specs.model_] == ["Dense", "Tanh", "Dropout", "Dense"]
    dropped = small(dropout=0.2).fit(x, y)
    assert [type(layer).__name__ for layer in dropped.model_] == ["Dense", "ReLU", "Dropout", "Dense"]
    hinge = small(loss="multiclass_hinge").fit(x, y)
    assert not hasattr(hinge, "predict_proba") and hinge.score(x, y) > 0.8
    two = y != "setosa"
    binary = small(loss="binary_crossentropy").fit(x[two], y[two])
    assert binary.model_.layers[-1].params["W"].shape[1] == 1  # one output: the probability of class 1
    assert binary.predict_proba(x[two]).shape == (100, 2)
    softmax = small(loss="categorical_crossentropy").fit(x, y)
    assert type(softmax.model_.layers[-1]).__name__ == "Softmax"


def test_a_regressor_with_one_and_several_targets():
    x, y = make_regression(200, 5, n_targets=2, noise=0.1, random_state=0)
    y = y / y.std(axis=0)
    reg = MLPRegressor(hidden_layer_sizes=(32,), epochs=100, learning_rate=0.01, random_state=0)
    assert reg.fit(x, y).predict(x).shape == (200, 2)
    assert reg.score(x, y) > 0.9
    assert clone(reg).fit(x, y[:, 0]).predict(x).shape == (200,)


@pytest.mark.parametrize(("params", "raw"), [
    ({"learning_rate": -1.0}, {"optimizer": {"name": "adam", "lr": -1.0}}),
    ({"activation": "relux"}, {"model": {"layers": [{"dense": 100, "activation": "relux"}, {"dense": 3}]}}),
    ({"optimizer": "adamw"}, {"optimizer": "adamw"}),
    ({"epochs": 0}, {"training": {"epochs": 0}}),
    ({"dropout": 1.5}, {"model": {"layers": [{"dense": 100, "activation": "relu"}, {"dropout": 1.5}, {"dense": 3}]}}),
    ({"loss": "mse"}, None),
    ({"optimizer_options": {"beta3": 0.5}}, {"optimizer": {"name": "adam", "beta3": 0.5}}),
])
def test_a_bad_parameter_gets_the_message_it_gets_in_yaml(iris, params, raw):
    x, y = iris
    with pytest.raises(ValueError) as caught:
        MLPClassifier(**params).fit(x, y)
    if raw is not None:
        with pytest.raises(ConfigError) as yaml_error:
            resolve(raw)
        assert str(caught.value) == str(yaml_error.value)
    else:
        assert str(caught.value) == ("loss mse is not a classification loss; MLPClassifier takes "
                                     "softmax_cross_entropy, categorical_crossentropy, binary_crossentropy, "
                                     "multiclass_hinge")


@pytest.mark.parametrize(("params", "message"), [
    ({"hidden_layer_sizes": "wide"}, "hidden_layer_sizes must be a width, a tuple of widths or a list of layer specs "
                                     "(e.g. (100,) or [{'dense': 64, 'activation': 'tanh'}]), got 'wide'"),
    ({"batch_size": "big"}, "batch_size must be 'auto' or an integer >= 1, got 'big'"),
    ({"batch_size": 0}, "training.batch_size must be >= 1, got 0"),
    ({"early_stopping": "yes"}, "early_stopping must be True or False, got 'yes'"),
    ({"early_stopping": True, "validation_fraction": 0.0},
     "training.early_stopping.monitor is val_loss, but data.validation_split is 0 so there is no validation set; "
     "set data.validation_split (e.g. 0.2) or monitor loss"),
    ({"init": "glorot_uniformm"}, "model.layers[0].init: unknown value 'glorot_uniformm' (did you mean"),
])
def test_other_bad_parameters_are_named(iris, params, message):
    x, y = iris
    with pytest.raises(ValueError) as caught:
        MLPClassifier(**params).fit(x, y)
    assert str(caught.value).startswith(message)


def test_a_regressor_refuses_a_classification_loss_and_class_weights():
    x, y = make_regression(20, 3, random_state=0)
    with pytest.raises(ValueError, match=r"^class_weight applies to classification losses, not to MeanSquaredError; "
                                         r"give sample_weight instead$"):
        MLPRegressor(class_weight="balanced").fit(x, y)
    with pytest.raises(ValueError, match=r"^loss softmax_cross_entropy is a classification loss; MLPRegressor takes "
                                         r"mse$"):
        MLPRegressor(loss="softmax_cross_entropy").fit(x, y)


def test_values_beyond_float32_are_named_in_fit_and_predict(iris):
    x, y = iris
    big = x.copy()
    big[3, 1] = 1e39
    with pytest.raises(ValueError, match=r"^X row 3, feature 1 is 1e\+39, beyond the range of float32"):
        small().fit(big, y)
    with pytest.raises(ValueError, match=r"^X row 3, feature 1 is 1e\+39, beyond the range of float32"):
        small(epochs=1).fit(x, y).predict(big)


def test_one_class_is_refused_with_a_message(iris):
    x, _ = iris
    with pytest.raises(ValueError, match=r"^MLPClassifier needs at least 2 classes in y, got 1 class: 'a'$"):
        MLPClassifier().fit(x, ["a"] * 150)
