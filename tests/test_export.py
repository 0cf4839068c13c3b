"""ONNX export, checked with onnxruntime: for every registered activation and every loss head, the exported graph
gives ``mlp``'s outputs, probabilities and predicted classes on random inputs; a trained MNIST run exported
gives the test accuracy the run measured; ``mlp export`` refuses what it cannot export, in one line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import FULL_MNIST, assert_one_line_error, invoke, needs_full_mnist, the_run
from shared_examples import ScaledTanh, example, train_yaml

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

from mlp import Dense, Dropout, Sequential  # noqa: E402
from mlp.data import Standardizer  # noqa: E402
from mlp.export import OPSET, ExportError, to_onnx  # noqa: E402
from mlp.nn.activations import Activation, activation_names  # noqa: E402
from mlp.nn.layer import LAYERS  # noqa: E402
from mlp.nn.losses import LOSSES  # noqa: E402
from mlp.runs.run import Console, load_run_data  # noqa: E402
from mlp.runs.trained import data_section, load_trained  # noqa: E402

TOLERANCE = 1e-5


def run_onnx(exported, x):
    session = ort.InferenceSession(exported.SerializeToString(), providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in session.get_outputs()], session.run(None, {"input": x}), strict=True))


def heads():
    """Every loss with the output widths it takes: several classes, and one output where the loss is binary."""
    for name, cls in LOSSES.items():
        yield name, 3
        if cls.binary:
            yield name, 1


@pytest.mark.parametrize("activation", activation_names())
@pytest.mark.parametrize(("loss_name", "outputs"), list(heads()))
def test_every_activation_and_loss_head_gives_mlps_outputs(activation, loss_name, outputs, rng):
    loss = LOSSES.get(loss_name)()
    hidden = example(LAYERS.get(activation), rng)
    last = [LAYERS.get("softmax")()] if loss.takes == "probabilities" else []
    model = Sequential([Dense(5, 7), hidden, Dropout(0.3), Dense(7, outputs), *last], seed=3)
    x = (rng.standard_normal((64, 5)) * 4 + 2).astype(np.float32)
    standardizer = Standardizer.fit(x[:40])
    exported = to_onnx(model, standardizer, loss=loss, classes=[f"c{i}" for i in range(max(outputs, 2))])
    for rows in (x, x[:1]):  # the batch dimension is dynamic
        got = run_onnx(exported, rows)
        output = model.predict(standardizer.transform(rows))
        if not loss.classification:
            np.testing.assert_allclose(got["output"], output, rtol=TOLERANCE, atol=TOLERANCE)
            continue
        np.testing.assert_allclose(got["scores"], output, rtol=TOLERANCE, atol=TOLERANCE)
        probabilities = loss.class_probabilities(output)
        assert ("probabilities" in got) == (probabilities is not None)
        if probabilities is not None:
            np.testing.assert_allclose(got["probabilities"], probabilities, rtol=TOLERANCE, atol=TOLERANCE)
        np.testing.assert_array_equal(got["label"], loss.predicted_classes(output))


def test_the_graph_states_its_opset_names_and_classes(rng):
    model = Sequential([Dense(4, 3)], seed=0)
    exported = to_onnx(model, loss="softmax_cross_entropy", classes=["cat", "dog", "eel"], name="pets")
    assert [o.version for o in exported.opset_import if o.domain == ""] == [OPSET]
    assert [i.name for i in exported.graph.input] == ["input"]
    assert [o.name for o in exported.graph.output] == ["scores", "probabilities", "label"]
    dims = exported.graph.input[0].type.tensor_type.shape.dim
    assert (dims[0].dim_param, dims[1].dim_value) == ("batch", 4)
    metadata = {p.key: p.value for p in exported.metadata_props}
    assert json.loads(metadata["classes"]) == ["cat", "dog", "eel"] and metadata["loss"] == "softmax_cross_entropy"
    regression = to_onnx(model, loss="mse")
    assert [o.name for o in regression.graph.output] == ["output"]


def exported_accuracy(run: Path, out: Path) -> tuple[float, float]:
    """The run's test accuracy as it measured it, and that of ``mlp export``'s file under onnxruntime."""
    result = invoke("export", run, "-o", out)
    assert result.exit_code == 0, result.output
    assert f"wrote    {out}: input (batch, 784) -> scores (batch, 10)" in result.stdout
    trained = load_trained(run)
    # the test rows as they are in the data: the graph standardises them itself
    dataset = load_run_data(data_section(trained, None, None), trained.config["seed"], Console())
    got = run_onnx(onnx.load(out), dataset.x_test)
    measured = json.loads((run / "metrics.json").read_text())["test"]["accuracy"]
    return measured, float(np.mean(got["label"] == dataset.y_test))


def test_an_exported_mnist_run_gives_the_same_test_accuracy(tmp_path, offline_mnist):
    run = train_yaml(tmp_path, "data: {dataset: mnist, normalize: standardize}\n"
                               "model: {layers: [{dense: 64, activation: relu}, {dropout: 0.2}, {dense: 10}]}\n"
                               "training: {epochs: 2}\n")
    measured, exported = exported_accuracy(run, tmp_path / "mnist.onnx")
    assert exported == measured


@pytest.mark.slow  # reads the full set when MLP_DATA_DIR has it
@needs_full_mnist
def test_an_exported_run_on_the_full_mnist_set_gives_the_same_test_accuracy(tmp_path, monkeypatch):
    monkeypatch.setenv("MLP_DATA_DIR", str(FULL_MNIST))
    run = train_yaml(tmp_path, f"data: {{dataset: mnist, dir: {FULL_MNIST}}}\n"
                               "model: {layers: [{dense: 128, activation: relu}, {dense: 10}]}\n"
                               "training: {epochs: 1}\n")
    measured, exported = exported_accuracy(run, tmp_path / "mnist.onnx")
    assert exported == measured


@pytest.fixture
def scaled_tanh():
    LAYERS.add("scaled_tanh", ScaledTanh)
    yield
    LAYERS.remove("scaled_tanh")


def test_a_layer_onnx_cannot_express_is_refused_in_one_line(tmp_path, scaled_tanh):
    run = train_yaml(tmp_path, "data: {dataset: spirals, samples: 100}\n"
                               "model: {layers: [{dense: 8, activation: scaled_tanh, beta: 2.0}, {dense: 2}]}\n"
                               "training: {epochs: 1}\n")
    assert_one_line_error(invoke("export", run), "layer 1 (ScaledTanh(beta=2.0)) has no ONNX form in mlp; export "
                                                 "works for")
    assert not (run / "model.onnx").exists()
    with pytest.raises(ExportError, match=r"^layer 0 \(ScaledTanh"):
        to_onnx(Sequential([ScaledTanh(), Dense(3, 2)]))
    assert issubclass(ScaledTanh, Activation)


def test_a_network_without_a_dense_layer_has_no_input_width():
    with pytest.raises(ExportError, match=r"^the model has no dense layer, so its input width is unknown$"):
        to_onnx(Sequential([LAYERS.get("relu")()]))


def test_export_without_the_onnx_package_says_how_to_install_it(tmp_path, monkeypatch):
    run = train_yaml(tmp_path, "data: {dataset: spirals, samples: 100}\ntraining: {epochs: 1}\n"
                               "model: {layers: [{dense: 8, activation: relu}, {dense: 2}]}\n")
    monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` fails as if it were not installed
    monkeypatch.delitem(sys.modules, "mlp.export")
    assert_one_line_error(invoke("export", run), "mlp export needs onnx, which is not installed; install it with: "
                                                 "pip install 'onnx>=1.14'  (the onnx extra)")


def test_the_default_output_is_beside_the_model_file(tmp_path):
    run = train_yaml(tmp_path, "data: {dataset: spirals, samples: 100}\ntraining: {epochs: 1}\n"
                               "model: {layers: [{dense: 8, activation: relu}, {dense: 2}]}\n")
    assert invoke("export", run).exit_code == 0
    assert (run / "model.onnx").is_file()
    assert the_run(tmp_path / "runs") == run
