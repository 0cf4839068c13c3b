"""scikit-learn's own tests of its MLP estimators (``sklearn/neural_network/tests/test_mlp.py``, as installed), run
on ``mlp.sklearn``'s with only the import line changed: the proof that changing the import is all a user does."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

sklearn = pytest.importorskip("sklearn")

IMPORT = "from sklearn.neural_network import MLPClassifier, MLPRegressor"
# The tests left out, and why: each reaches into scikit-learn's private internals, not its public behaviour.
EXCLUDED = {
    "test_gradient": "calls the private method _loss_grad_lbfgs(packed, X, Y, ...) with scikit-learn's internal "
                     "activation and delta buffers; mlp's lbfgs objective is gradient-checked in tests/test_sklearn.py",
}


@pytest.mark.slow  # about 60 fits, some 10-20 s
def test_scikit_learns_own_mlp_tests_pass_with_only_the_import_changed(tmp_path):
    source = Path(sklearn.__file__).parent / "neural_network" / "tests" / "test_mlp.py"
    text = source.read_text()
    assert text.count(IMPORT) == 1, "scikit-learn's test module imports its estimators differently now"
    module = tmp_path / "test_mlp_upstream.py"
    module.write_text(text.replace(IMPORT, "from mlp.sklearn import MLPClassifier, MLPRegressor"))
    deselect = [arg for name in EXCLUDED for arg in ("--deselect", f"{module.name}::{name}")]
    # scikit-learn's conftest gives its fixtures (global_random_seed); one BLAS thread, as scikit-learn's CI runs
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "sklearn.conftest",
                             *deselect, module.name], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                            env=os.environ | {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"})
    summary = result.stdout.strip().splitlines()[-1]
    assert result.returncode == 0, result.stdout[-5000:]
    passed, deselected = (int(re.search(rf"(\d+) {word}", summary).group(1)) for word in ("passed", "deselected"))
    assert deselected == len(EXCLUDED) and passed >= 50, summary
