"""The ``ConvergenceWarning`` of a fit cut short by ``max_iter`` (or ``max_fun``), as scikit-learn's MLP gives it."""

from __future__ import annotations

import sys
import warnings

from sklearn.exceptions import ConvergenceWarning

# Where scikit-learn's MLP raises the warning: filters written for it (``warnings.filterwarnings("ignore",
# category=ConvergenceWarning, module="sklearn")``, as in scikit-learn's own examples) match the module's name, so
# mlp's estimators raise it in that name too, and such filters act on it as they do on scikit-learn's.
MODULE = "sklearn.neural_network._multilayer_perceptron"


def not_converged(message: str) -> None:
    """Warn ``message`` as a ``ConvergenceWarning`` of ``MODULE``, at the line of the caller."""
    caller = sys._getframe(1)
    registry = caller.f_globals.setdefault("__warningregistry__", {})
    warnings.warn_explicit(message, ConvergenceWarning, caller.f_code.co_filename, caller.f_lineno, module=MODULE,
                           registry=registry)
