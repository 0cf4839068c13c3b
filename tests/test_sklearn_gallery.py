"""scikit-learn's gallery examples for its MLP, run on ``mlp.sklearn`` with only the import line changed: the
MNIST filters (``plot_mnist_filters.py``), varying alpha (``plot_mlp_alpha.py``) and the training curves of the
solvers and schedules (``plot_mlp_training_curves.py``), as scikit-learn 1.9.1 ships them, in tests/sklearn_gallery/.

Each runs as a user runs it, every line of it unchanged: matplotlib's Agg backend, ``plt.show()`` a no-op, the
working directory a temporary folder. ``fetch_openml("mnist_784")`` returns mlp's bundled MNIST sample (12,000 of
the 70,000 images) in OpenML's form instead of downloading the full set. The tests then read the example's own
variables and figures and check what the example is there to show.
"""

from __future__ import annotations

import re
import runpy
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")
matplotlib = pytest.importorskip("matplotlib")

import matplotlib.pyplot as plt  # noqa: E402
import sklearn.datasets  # noqa: E402

import mlp.sklearn  # noqa: E402
from mlp.data import FallbackWarning, load_mnist  # noqa: E402

GALLERY = Path(__file__).parent / "sklearn_gallery"
IMPORT = "from mlp.sklearn import MLPClassifier"


@pytest.fixture
def mnist_784(offline_mnist, monkeypatch) -> tuple[np.ndarray, np.ndarray]:
    """``sklearn.datasets.fetch_openml`` gives the bundled MNIST sample as OpenML gives ``mnist_784`` with
    ``as_frame=False``: pixel values 0-255 as float64 ``(12000, 784)``, labels as strings ``(12000,)``; returns
    them."""
    with pytest.warns(FallbackWarning, match="USING THE BUNDLED SAMPLE"):  # offline_mnist: no full set here
        data = load_mnist()
    x = np.rint(np.concatenate([data.x_train, data.x_test]).astype(np.float64) * 255)
    y = np.concatenate([data.y_train, data.y_test]).astype(str).astype(object)

    def fetch_openml(name: str, *, version: int, return_X_y: bool, as_frame: bool) -> tuple[np.ndarray, np.ndarray]:
        assert (name, version, return_X_y, as_frame) == ("mnist_784", 1, True, False)
        return x, y

    monkeypatch.setattr(sklearn.datasets, "fetch_openml", fetch_openml)
    return x, y


def run_example(name: str, tmp_path: Path, monkeypatch) -> tuple[dict, list]:
    """Run tests/sklearn_gallery/``name``.py as a script in ``tmp_path``; return its variables and its figures,
    each saved as a PNG in ``tmp_path`` (as sphinx-gallery saves them)."""
    path = GALLERY / f"{name}.py"
    source = path.read_text()
    assert source.count(IMPORT) == 1 and "sklearn.neural_network" not in source.split(IMPORT)[1]
    monkeypatch.chdir(tmp_path)
    plt.switch_backend("Agg")
    monkeypatch.setattr(plt, "show", lambda *args, **kwargs: None)
    plt.close("all")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")  # recorded, and every one checked below
            variables = runpy.run_path(str(path), run_name="__main__")
        # the examples silence the ConvergenceWarning of the fits they cut short, with a filter on scikit-learn's
        # module: mlp's estimators raise it there too, so nothing gets through
        assert [str(w.message) for w in caught] == []
        figures = [plt.figure(number) for number in plt.get_fignums()]
        for number, figure in enumerate(figures):
            figure.savefig(tmp_path / f"{name}-{number}.png")
            assert (tmp_path / f"{name}-{number}.png").stat().st_size > 10_000
    finally:
        plt.close("all")
    return variables, figures


def printed_numbers(output: str, label: str) -> list[float]:
    """The numbers the example printed after ``label`` (its lines ``"label 0.912345"``)."""
    return [float(number) for number in re.findall(rf"^{re.escape(label)}\s*(\S+)$", output, re.MULTILINE)]


# What scikit-learn 1.9.1's own MLPClassifier gives on each example, here (the example as scikit-learn ships it, on the
# same data, one BLAS thread): mlp's must show the same. Its losses, scores and weights are not bit-identical: rows are
# shuffled in another order and Adam adds epsilon elsewhere (docs/sklearn.md, porting notes).
SKLEARN_MNIST = {"loss": 0.06781140, "train": 0.992500, "test": 0.918452}
SKLEARN_ALPHA_SCORES = [.875, .950, .950, .875, .475, .775, .875, .900, .400, .400, .900, .950, .950, .925, .825]
SKLEARN_CURVES = {  # rows: iris, digits, circles, moons; columns: the example's 7 strategies, in its order
    "score": [[0.98, 0.98, 0.98, 0.36, 0.86, 0.86, 0.98], [0.956, 0.993, 0.994, 0.639, 0.909, 0.913, 0.992],
              [0.84, 0.94, 0.94, 0.5, 0.5, 0.5, 0.94], [0.85, 0.85, 0.85, 0.5, 0.83, 0.83, 0.93]],
    "loss": [[0.097, 0.05, 0.05, 0.978, 0.504, 0.503, 0.045], [0.244, 0.041, 0.043, 1.855, 0.318, 0.291, 0.046],
             [0.601, 0.157, 0.154, 0.692, 0.69, 0.689, 0.151], [0.342, 0.336, 0.336, 0.689, 0.513, 0.513, 0.17]],
}


@pytest.mark.slow  # 8 epochs on 3,600 MNIST images: 3 s
def test_mnist_filters(mnist_784, tmp_path, monkeypatch, capsys):
    variables, (figure,) = run_example("plot_mnist_filters", tmp_path, monkeypatch)
    model = variables["mlp"]
    assert isinstance(model, mlp.sklearn.MLPClassifier)
    assert [w.shape for w in model.coefs_] == [(784, 40), (40, 10)] and model.n_iter_ == 8
    assert len(variables["X_train"]) == 3600  # 30% of the 12,000 rows the example asked OpenML for
    output = capsys.readouterr().out
    # verbose=10: a line per epoch, as scikit-learn's: "Iteration 1, loss = 1.10524817"
    losses = [float(loss) for loss in re.findall(r"^Iteration \d+, loss = (\S+)$", output, re.MULTILINE)]
    assert losses == pytest.approx(model.loss_curve_, abs=1e-8) and len(losses) == 8
    assert all(np.diff(losses) < 0) and losses[-1] == pytest.approx(SKLEARN_MNIST["loss"], abs=0.02)
    (train_score,), (test_score,) = (printed_numbers(output, f"{part} set score:") for part in ("Training", "Test"))
    assert train_score == pytest.approx(SKLEARN_MNIST["train"], abs=0.01)
    assert test_score == pytest.approx(SKLEARN_MNIST["test"], abs=0.01)
    # the 16 filters drawn are the first 16 columns of the first layer's weights, each as a 28x28 image
    images = [ax.get_images()[0].get_array() for ax in figure.axes]
    assert len(images) == 16
    for image, column in zip(images, model.coefs_[0].T, strict=False):
        np.testing.assert_array_equal(image, column.reshape(28, 28))


@pytest.mark.slow  # 15 lbfgs fits and their decision surfaces: 30 s
def test_varying_alpha(tmp_path, monkeypatch):
    variables, (figure,) = run_example("plot_mlp_alpha", tmp_path, monkeypatch)
    assert len(figure.axes) == 3 * 6
    titles = [ax.get_title() for ax in figure.axes]
    assert titles == 3 * ["", "alpha 0.10", "alpha 0.32", "alpha 1.00", "alpha 3.16", "alpha 10.00"]
    # each classifier's accuracy on its 40 test points, as the example writes it in its panel (".925"): within
    # two points of scikit-learn's; a large alpha underfits the circles (.400) in both
    scores = [float(ax.texts[0].get_text()) for ax in figure.axes if ax.texts]
    assert scores == pytest.approx(SKLEARN_ALPHA_SCORES, abs=0.051)
    # what the example shows: a larger alpha, smaller weights (the pipelines hold the last dataset's fits)
    assert all(isinstance(pipeline[-1], mlp.sklearn.MLPClassifier) for pipeline in variables["classifiers"])
    norms = [sum(float(np.sum(w**2)) for w in pipeline[-1].coefs_) for pipeline in variables["classifiers"]]
    assert norms == sorted(norms, reverse=True) and norms[0] > 10 * norms[-1], norms


@pytest.mark.slow  # 28 fits of up to 400 epochs: 30 s
def test_training_curves(tmp_path, monkeypatch, capsys):
    variables, (figure,) = run_example("plot_mlp_training_curves", tmp_path, monkeypatch)
    labels, axes = variables["labels"], figure.axes
    assert [ax.get_title() for ax in axes] == ["iris", "digits", "circles", "moons"]
    output = capsys.readouterr().out
    scores, losses = printed_numbers(output, "Training set score:"), printed_numbers(output, "Training set loss:")
    assert np.reshape(scores, (4, 7)) == pytest.approx(np.array(SKLEARN_CURVES["score"]), abs=0.02)
    assert np.reshape(losses, (4, 7)) == pytest.approx(np.array(SKLEARN_CURVES["loss"]), abs=0.01)
    for ax, final_losses in zip(axes, np.reshape(losses, (4, 7)), strict=True):
        curves = {line.get_label(): line.get_ydata() for line in ax.get_lines()}
        assert list(curves) == labels  # the loss curve of each strategy, drawn
        for curve, loss in zip(curves.values(), final_losses, strict=True):
            assert 1 <= len(curve) <= (15 if ax.get_title() == "digits" else 400)
            assert np.all(np.isfinite(curve)) and curve[-1] == pytest.approx(loss, abs=1e-6)
    assert [text.get_text() for text in figure.legends[0].get_texts()] == labels
