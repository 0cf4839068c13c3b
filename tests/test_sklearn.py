"""``mlp.sklearn``: scikit-learn's own estimator checks, the same behaviour as scikit-learn's MLP (initial weights,
the stopping rule, schedules, solvers), Pipelines, ColumnTransformer, cross-validation and a parallel grid search,
weights, ``partial_fit``, sparse input, saving, and the messages of bad input."""

from __future__ import annotations

import json
import pickle
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")
pd = pytest.importorskip("pandas")

import sklearn.neural_network as reference  # noqa: E402
from scipy import sparse  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.datasets import load_digits, load_iris, make_multilabel_classification, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: E402
from sklearn.utils._param_validation import InvalidParameterError  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import mlp.sklearn.base  # noqa: E402
import mlp.sklearn.lbfgs  # noqa: E402
from mlp import Sequential  # noqa: E402
from mlp.sklearn import MLPClassifier, MLPRegressor  # noqa: E402
from mlp.sklearn.lbfgs import Objective  # noqa: E402

# Short fits reach max_iter, which scikit-learn's estimators say with a ConvergenceWarning (as these do).
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# Two checks compare floating-point outputs with rtol 1e-7, below float32's resolution (eps = 1.19e-7); the
# float32 networks pass them only to about 1e-6, and the float64 ones (the default for float64 X) as they are.
FLOAT32_ROUNDING = {
    "check_methods_subset_invariance": "float32: BLAS computes a single row (matrix-vector) and a batch (matrix-"
                                       "matrix) in different orders, a few ulps apart; passes with dtype='float64'",
    "check_sample_weight_equivalence_on_dense_data": "float32: a row repeated twice and a row of weight 2 are summed "
                                                     "in different orders, a few ulps apart; passes with "
                                                     "dtype='float64'",
    "check_sample_weight_equivalence_on_sparse_data": "float32: as on dense data",
}
# lbfgs fits the check's random multilabel data exactly: logits beyond 37 give a sigmoid of 1.0 in float64, where the
# check wants < 1. scikit-learn's MLPClassifier(solver="lbfgs") fails it the same way.
LBFGS_SATURATES = {"check_classifiers_multilabel_output_format_predict_proba": "lbfgs: probabilities of 1.0, as "
                                                                              "scikit-learn's own lbfgs MLP"}


def expected_failures(estimator):
    if estimator.solver == "lbfgs":
        return LBFGS_SATURATES
    return FLOAT32_ROUNDING if estimator.dtype == "float32" else {}


@pytest.mark.slow  # some 300 checks
@parametrize_with_checks([MLPClassifier(max_iter=100), MLPRegressor(max_iter=100), MLPClassifier(solver="lbfgs"),
                          MLPRegressor(solver="sgd", max_iter=100), MLPClassifier(dtype="float32", max_iter=100)],
                         expected_failed_checks=expected_failures)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def iris():
    x, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]  # string labels
    order = np.random.default_rng(0).permutation(len(x))
    return x[order], names[order]


def small(**params):
    return MLPClassifier(**{"hidden_layer_sizes": (16,), "max_iter": 60, "learning_rate_init": 0.01,
                            "random_state": 0} | params)


# -- the same behaviour as scikit-learn's MLP ------------------------------------------------------------------------
@pytest.mark.parametrize("activation", ["identity", "logistic", "tanh", "relu"])
def test_the_same_random_state_starts_from_scikit_learns_initial_weights(activation):
    x, y = load_digits(n_class=3, return_X_y=True)
    params = {"max_iter": 1, "random_state": 3, "solver": "sgd", "learning_rate_init": 1e-12}
    ours = MLPClassifier((7, 5), activation, **params).fit(x, y)
    theirs = reference.MLPClassifier((7, 5), activation, **params).fit(x, y)
    for a, b in zip([*ours.coefs_, *ours.intercepts_], [*theirs.coefs_, *theirs.intercepts_], strict=True):
        np.testing.assert_allclose(a, b, atol=1e-9)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_a_full_batch_trajectory_matches_scikit_learns(solver):
    # one batch an epoch, no shuffling: the same steps from the same start, so the same losses and weights
    x, y = load_digits(n_class=4, return_X_y=True)
    x = x / 16
    params = {"hidden_layer_sizes": (12,), "solver": solver, "batch_size": len(x), "shuffle": False, "max_iter": 25,
              "random_state": 0, "alpha": 0.01, "learning_rate_init": 0.05, "n_iter_no_change": 100}
    ours, theirs = MLPClassifier(**params).fit(x, y), reference.MLPClassifier(**params).fit(x, y)
    # Adam: mlp adds epsilon to the bias-corrected root (as PyTorch), scikit-learn before the correction (as Keras)
    tolerance = 1e-6 if solver == "sgd" else 2e-2
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=tolerance)
    np.testing.assert_allclose(ours.coefs_[0], theirs.coefs_[0], atol=tolerance)
    assert ours.n_iter_ == theirs.n_iter_ == 25 and ours.t_ == theirs.t_


def test_lbfgs_matches_scikit_learns_and_its_gradient_is_the_networks():
    x, y = make_regression(80, 4, noise=5.0, random_state=0)
    y = y / y.std()
    params = {"hidden_layer_sizes": (6,), "solver": "lbfgs", "activation": "tanh", "random_state": 0, "max_iter": 20}
    ours, theirs = MLPRegressor(**params).fit(x, y), reference.MLPRegressor(**params).fit(x, y)
    np.testing.assert_allclose(ours.predict(x), theirs.predict(x), rtol=1e-4, atol=1e-4)
    assert abs(ours.loss_ - theirs.loss_) < 1e-6
    # the objective's gradient against centred differences (float64, eps 1e-4)
    objective = Objective(ours.model_, ours._loss(), [*ours.coefs_, *ours.intercepts_], x[:10], y[:10, None], None,
                          alpha=0.1)
    theta = objective.pack()
    _, gradient = objective(theta)
    numeric = np.zeros_like(theta)
    for i in range(len(theta)):
        step = np.zeros_like(theta)
        step[i] = 1e-4
        numeric[i] = (objective(theta + step)[0] - objective(theta - step)[0]) / 2e-4
    assert np.max(np.abs(numeric - gradient) / np.maximum(np.abs(numeric) + np.abs(gradient), 1e-8)) < 1e-6


def test_float32_input_trains_in_float32():
    x, y = load_digits(return_X_y=True)
    clf = MLPClassifier((20,), max_iter=3, random_state=0).fit(x.astype(np.float32), y)
    assert {w.dtype for w in [*clf.coefs_, *clf.intercepts_]} == {np.dtype(np.float32)}
    wide = MLPClassifier((20,), max_iter=3, random_state=0, dtype="float32").fit(x, y)
    assert wide.coefs_[0].dtype == np.float32 and wide.predict_proba(x).dtype == np.float32


def test_coefs_are_the_networks_weights_and_a_replaced_coef_is_used():
    x, y = load_iris(return_X_y=True)
    clf = MLPClassifier((5,), max_iter=5, random_state=0).fit(x, y)
    assert isinstance(clf.model_, Sequential)
    assert clf.model_.layers[0].params["W"] is clf.coefs_[0]
    clf.coefs_[1] = np.zeros_like(clf.coefs_[1])
    clf.intercepts_[1] = np.array([0.0, 5.0, 0.0])
    assert (clf.predict(x) == 1).all()


# -- scikit-learn's workflow -----------------------------------------------------------------------------------------
def test_string_labels_probabilities_and_float32(iris):
    x, y = iris
    clf = small().fit(x.astype(np.float32), y)
    assert clf.classes_.tolist() == ["setosa", "versicolor", "virginica"]
    probabilities = clf.predict_proba(x.astype(np.float32))
    assert probabilities.shape == (150, 3) and probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)
    assert clf.score(x, y) > 0.9


def test_random_state_makes_fits_reproducible(iris):
    x, y = iris
    a, b = small().fit(x, y), small().fit(x, y)
    np.testing.assert_array_equal(a.coefs_[0], b.coefs_[0])
    assert a.loss_curve_ == b.loss_curve_


def test_pipeline_column_transformer_and_feature_names(iris):
    x, y = iris
    frame = pd.DataFrame(x, columns=["sl", "sw", "pl", "pw"]).assign(colour=np.where(x[:, 0] > 5.8, "red", "blue"))
    columns = ColumnTransformer([("numbers", StandardScaler(), ["sl", "sw", "pl", "pw"]),
                                 ("words", OneHotEncoder(), ["colour"])])
    pipeline = make_pipeline(columns, small()).fit(frame, y)
    assert pipeline.score(frame, y) > 0.9
    clf = small().fit(frame[["sl", "sw", "pl", "pw"]], y)
    assert clf.feature_names_in_.tolist() == ["sl", "sw", "pl", "pw"]


@pytest.mark.slow
def test_cross_validation_and_a_parallel_grid_search(iris):
    x, y = iris
    scores = cross_val_score(small(), x, y, cv=3)
    assert scores.mean() > 0.85
    search = GridSearchCV(small(), {"alpha": [1e-4, 1e-2], "hidden_layer_sizes": [(8,), (16,)]}, cv=3, n_jobs=2)
    search.fit(x, y)
    assert search.best_score_ > 0.85 and set(search.best_params_) == {"alpha", "hidden_layer_sizes"}


def test_pickle_and_clone(iris):
    x, y = iris
    clf = small().fit(x, y)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(x), clf.predict_proba(x))
    assert again.model_.layers[0].params["W"] is again.coefs_[0]  # still one set of weights
    assert clone(clf).get_params() == clf.get_params()


def test_partial_fit_is_one_epoch_and_checks_classes(iris):
    x, y = iris
    clf = small(solver="sgd")
    for _ in range(3):
        clf.partial_fit(x[:100], y[:100], classes=["setosa", "versicolor", "virginica"])
    assert clf.n_iter_ == 1 and len(clf.loss_curve_) == 3 and clf.t_ == 300
    assert clf.loss_curve_[2] < clf.loss_curve_[0]
    with pytest.raises(ValueError, match=r"^`classes=array\(\['a', 'b'\]"):
        clf.partial_fit(x, y, classes=["a", "b"])
    with pytest.raises(ValueError, match=r"^`y` has classes not in `self.classes_`"):
        clf.partial_fit(x[:2], ["other", "setosa"])
    with pytest.raises(ValueError, match=r"^classes must be passed on the first call to partial_fit"):
        small().partial_fit(x, y)
    assert not hasattr(small(solver="lbfgs"), "partial_fit")


def test_warm_start_trains_on_from_the_last_fit(iris):
    x, y = iris
    clf = small(warm_start=True, max_iter=5).fit(x, y)
    before = clf.coefs_[0].copy()
    clf.fit(x, y)
    assert len(clf.loss_curve_) == 10 and clf.n_iter_ == 5
    assert not np.array_equal(before, clf.coefs_[0])
    cold = small(max_iter=5).fit(x, y)
    np.testing.assert_array_equal(before, cold.coefs_[0])


def test_sample_and_class_weights(iris):
    x, y = iris
    balanced = small(class_weight="balanced").fit(x[:80], y[:80])
    counts = {label: np.sum(y[:80] == label) for label in np.unique(y[:80])}
    weights = np.array([80 / (3 * counts[label]) for label in y[:80]])
    per_row = small().fit(x[:80], y[:80], sample_weight=weights)
    np.testing.assert_array_equal(balanced.predict_proba(x), per_row.predict_proba(x))
    with pytest.raises(ValueError, match=r"^class_weight names class 'daisy', which y does not have"):
        small(class_weight={"daisy": 2}).fit(x, y)


def test_early_stopping_keeps_the_best_validation_score(iris):
    x, y = iris
    clf = small(early_stopping=True, validation_fraction=0.2, n_iter_no_change=3, max_iter=500).fit(x, y)
    assert clf.n_iter_ < 500 and len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_) and clf.best_loss_ is None


def test_dropout_and_max_norm(iris):
    x, y = iris
    dropped = small(dropout=0.2, max_norm=2.0).fit(x, y)
    assert [type(layer).__name__ for layer in dropped.model_] == ["Dense", "ReLU", "Dropout", "Dense"]
    assert np.sqrt((dropped.coefs_[0] ** 2).sum(axis=0)).max() <= 2.0 + 1e-6
    with pytest.raises(ValueError, match=r"^dropout needs a stochastic solver"):
        small(dropout=0.2, solver="lbfgs").fit(x, y)


def test_multilabel_sparse_and_multi_output():
    x, y = make_multilabel_classification(60, 8, n_classes=4, random_state=0)
    clf = MLPClassifier((30,), solver="lbfgs", random_state=0).fit(x, y)
    assert clf.out_activation_ == "logistic" and clf.predict(x).shape == (60, 4) and clf.score(x, y) > 0.9
    dense = MLPClassifier((15,), solver="lbfgs", random_state=1).fit(x, y)
    thin = MLPClassifier((15,), solver="lbfgs", random_state=1).fit(sparse.csr_array(x), y)
    np.testing.assert_allclose(dense.predict_proba(x), thin.predict_proba(sparse.csc_array(x)), rtol=1e-6)
    xr, yr = make_regression(100, 5, n_targets=3, random_state=0)
    reg = MLPRegressor(hidden_layer_sizes=(20,), solver="lbfgs", random_state=0, max_iter=400).fit(xr, yr / yr.std())
    assert reg.predict(xr).shape == (100, 3) and reg.score(xr, yr / yr.std()) > 0.9


def test_poisson_regression_predicts_rates():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (300, 2))
    y = rng.poisson(np.exp(1 + x.sum(axis=1)))
    reg = MLPRegressor(loss="poisson", hidden_layer_sizes=(4,), solver="lbfgs", random_state=0).fit(x, y)
    assert reg.out_activation_ == "exp" and (reg.predict(x) > 0).all()
    assert np.corrcoef(reg.predict(x), np.exp(1 + x.sum(axis=1)))[0, 1] > 0.95


# -- saving ----------------------------------------------------------------------------------------------------------
def test_save_and_load_without_pickle(tmp_path, iris):
    x, y = iris
    clf = small(class_weight={"setosa": 2.0}, standardize=True, solver="sgd").fit(x, y)
    clf.save(tmp_path / "clf.npz")
    with np.load(tmp_path / "clf.npz", allow_pickle=False) as f:  # plain arrays and JSON
        assert "__meta__" in f.files
    loaded = MLPClassifier.load(tmp_path / "clf.npz")
    assert loaded.get_params() == clf.get_params()
    np.testing.assert_array_equal(loaded.classes_, clf.classes_)
    np.testing.assert_array_equal(loaded.predict_proba(x), clf.predict_proba(x))
    assert loaded.loss_curve_ == clf.loss_curve_ and loaded.best_loss_ == clf.best_loss_
    # training on after loading is training on without it: weights and optimizer state were kept
    loaded.partial_fit(x, y)
    clf.partial_fit(x, y)
    for a, b in zip(loaded.coefs_, clf.coefs_, strict=True):
        np.testing.assert_array_equal(a, b)
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
    (lambda state: state["fitted"].update(n_features_in_=7), "ValueError: 7 features, but the network takes 4"),
    (lambda state: state.pop("fitted"), "KeyError"),
    (lambda state: state["classes"].update(dtype="nonsense"), "TypeError"),
])
def test_a_hostile_estimator_file_is_one_error(tmp_path, iris, change, message):
    x, y = iris
    small(max_iter=2).fit(x, y).save(tmp_path / "clf.npz")
    rewrite_state(tmp_path / "clf.npz", change)
    with pytest.raises(ValueError, match=r"clf\.npz holds an MLPClassifier whose saved state cannot be read") as err:
        MLPClassifier.load(tmp_path / "clf.npz")
    assert message in str(err.value) and "save the estimator again" in str(err.value)


# -- bad input -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("params", "message"), [
    ({"activation": "relux"}, "The 'activation' parameter of MLPClassifier must be a str among"),
    ({"solver": "adamw"}, "The 'solver' parameter of MLPClassifier must be a str among"),
    ({"learning_rate": 0.01}, "The 'learning_rate' parameter of MLPClassifier must be a str among"),
    ({"max_iter": 0}, "The 'max_iter' parameter of MLPClassifier must be an int in the range [1, inf)"),
    ({"dropout": 1.5}, "The 'dropout' parameter of MLPClassifier must be a float in the range [0.0, 1.0)"),
    ({"dtype": "float16"}, "The 'dtype' parameter of MLPClassifier must be None or a str among"),
])
def test_a_bad_parameter_is_named_as_scikit_learn_names_it(iris, params, message):
    x, y = iris
    with pytest.raises(InvalidParameterError) as caught:
        MLPClassifier(**params).fit(x, y)
    assert str(caught.value).startswith(message)


def test_other_bad_input_is_named(iris):
    x, y = iris
    with pytest.raises(ValueError, match=r"^hidden_layer_sizes must be > 0, got \[8, 0\]"):
        MLPClassifier((8, 0)).fit(x, y)
    with pytest.raises(ValueError, match=r"^partial_fit does not support early_stopping=True"):
        small(early_stopping=True).partial_fit(x, y, classes=np.unique(y))
    with pytest.raises(ValueError, match=r"^The validation set is too small"):
        MLPRegressor(early_stopping=True).fit(x[:3], x[:3, 0])
    with pytest.raises(ValueError, match=r"^standardize=True needs dense X"):
        small(standardize=True).fit(sparse.csr_array(x), y)
    with pytest.raises(ValueError, match=r"^the poisson loss takes targets >= 0"):
        MLPRegressor(loss="poisson", max_iter=2).fit(x, x[:, 0] - 6)
    with pytest.raises(ValueError, match=r"^class_weight is for one class per row"):
        small(class_weight="balanced").fit(x, np.eye(3)[np.arange(150) % 3])


def test_values_beyond_float32_are_named_in_fit_and_predict(iris):
    x, y = iris
    big = x.copy()
    big[3, 1] = 1e39
    with pytest.raises(ValueError, match=r"^X row 3, feature 1 is 1e\+39, beyond the range of float32"):
        small(dtype="float32").fit(big, y)
    with pytest.raises(ValueError, match=r"^X row 3, feature 1 is 1e\+39, beyond the range of float32"):
        small(max_iter=1, dtype="float32").fit(x, y).predict(big)


def test_a_diverging_fit_is_scikit_learns_error():
    x = np.finfo(np.float64).max * np.random.default_rng(0).uniform(size=(10, 2))
    with pytest.raises(ValueError, match=r"^Solver produced non-finite parameter weights\. The input data may contain "
                                         r"large values and need to be preprocessed\. \(training diverged"):
        MLPRegressor().fit(x, np.arange(10.0))


@pytest.mark.filterwarnings("default::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_the_convergence_warning_is_scikit_learns_and_its_filters_silence_it(iris, solver):
    x, y = iris
    with pytest.warns(ConvergenceWarning, match=r"^(Stochastic Optimizer: Maximum iterations \(2\) reached|lbfgs "
                                                r"failed to converge after 2 iteration)") as caught:
        small(max_iter=2, solver=solver).fit(x, y)
    assert caught[0].filename == (mlp.sklearn.base.__file__ if solver == "adam" else mlp.sklearn.lbfgs.__file__)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", category=ConvergenceWarning, module="sklearn")  # as scikit-learn's examples
        small(max_iter=2, solver=solver).fit(x, y)
