"""scikit-learn's ``MLPClassifier`` and ``MLPRegressor``, trained by ``mlp``: change the import line and keep
every other line of scikit-learn code.

    from mlp.sklearn import MLPClassifier   # was: from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(hidden_layer_sizes=(64,), alpha=1e-4, max_iter=50, random_state=0)
    clf.fit(X_train, y_train).score(X_test, y_test)

The parameters, defaults, fitted attributes (``coefs_``, ``loss_curve_``, ...) and methods (``partial_fit``,
``predict_proba``, ...) are scikit-learn's; ``mlp`` adds ``dropout``, ``max_norm``, ``dtype``, ``standardize`` and
``class_weight``, and ``save``/``load`` in its model files (``.npz``, no pickle); the estimators also pickle.
``docs/sklearn.md`` lists what differs from scikit-learn.

Needs the ``sklearn`` extra (scikit-learn, which brings SciPy for the ``lbfgs`` solver); ``import mlp`` does not
import this package.

Modules: ``base`` (the parameters, the network, the solvers), ``stopping`` (scikit-learn's L2 term and stopping
rule, as callbacks of ``mlp.fit``), ``lbfgs`` (the full-batch solver), ``classifier``, ``regressor``,
``persistence`` (the model file's JSON part), ``convergence`` (scikit-learn's ConvergenceWarning).
"""

from mlp.extras import require

require("sklearn", "sklearn", "mlp.sklearn", "scikit-learn")

from mlp.sklearn.classifier import MLPClassifier  # noqa: E402
from mlp.sklearn.regressor import MLPRegressor  # noqa: E402
from mlp.sklearn_onnx import register_when_imported  # noqa: E402

register_when_imported(MLPClassifier, MLPRegressor)  # skl2onnx converts them once it is imported (docs/onnx.md)

__all__ = ["MLPClassifier", "MLPRegressor"]
