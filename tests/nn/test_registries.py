"""Every registered layer, activation and loss is gradient-checked and round-tripped through a YAML config,
``mlp train`` and a model file, found by iterating the registries (no list to keep in step here); so is every
optimizer, through a resume. A test registers an activation whose parameter is not called ``alpha`` and an
optimizer under a name that is not its class's, and both go the whole way."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import invoke
from shared_examples import ScaledTanh, example, example_batch, train_yaml

from mlp.nn.activations import activation_names
from mlp.nn.gradcheck import check_layer, check_loss
from mlp.nn.layer import LAYERS
from mlp.nn.losses import LOSSES
from mlp.nn.optim import OPTIMIZERS, Optimizer, add_scaled
from mlp.runs.config import resolve
from mlp.runs.trained import load_trained
from mlp.train.checkpoint import load_checkpoint

ACTIVATIONS = activation_names()
OTHER_LAYERS = [name for name in LAYERS if name not in ACTIVATIONS]


@pytest.mark.parametrize("name", [*ACTIVATIONS, *OTHER_LAYERS])
def test_every_registered_layer_is_gradient_checked(name, rng):
    layer = example(LAYERS.get(name), rng)
    width = layer.in_features or 4
    x = rng.standard_normal((6, width))
    x += np.sign(x) * 0.1  # away from the kinks of the ReLU family
    result = check_layer(layer, x, training=True)  # dropout with its mask held fixed
    assert result.passed, f"{name}:\n{result}"


@pytest.mark.parametrize("name", LOSSES.names())
def test_every_registered_loss_is_gradient_checked(name, rng):
    loss = LOSSES.get(name)()
    output, target = example_batch(loss, rng)
    assert check_loss(loss, output, target).passed


@pytest.mark.parametrize("name", LOSSES.names())
def test_every_registered_loss_is_gradient_checked_with_row_weights(name, rng):
    loss = LOSSES.get(name)()
    output, target = example_batch(loss, rng)
    weights = np.array([0.5, 0.0, 2.0, 1.0, 3.5])  # a zero weight: that row's delta must be 0
    result = check_loss(loss, output, target, weights)
    assert result.passed, f"{name}:\n{result}"
    assert not loss.backward()[1].any()


def last_layer(loss_name, tmp_path):
    """The output layer a loss needs (what it takes), for the spirals' two classes or a regression target
    (counts, for a loss that takes targets >= 0 only)."""
    loss = LOSSES.get(loss_name)
    if loss_name == "poisson":
        rng = np.random.default_rng(0)
        x = rng.uniform(0, 1, (200, 2))
        counts = rng.poisson(np.exp(x.sum(axis=1)))
        path = tmp_path / "counts.csv"
        path.write_text("a,b,count\n" + "".join(f"{a},{b},{c}\n" for (a, b), c in zip(x, counts, strict=True)))
        return "{dense: 1}", f"csv, path: {path}, target: count, task: regression"
    if not loss.classification:
        return "{dense: 1}", "regression"
    return ("{dense: 2, activation: softmax}" if loss.takes == "probabilities" else "{dense: 2}"), "spirals"


def assert_round_trip(run, expected_types):
    """The model file holds the layers configured, reads back, and predicts as ``mlp evaluate`` sees it."""
    trained = load_trained(run)
    assert [type(layer) for layer in trained.model] == expected_types
    assert invoke("evaluate", run).exit_code == 0


@pytest.mark.parametrize("name", [*ACTIVATIONS, *OTHER_LAYERS])
def test_every_registered_layer_goes_through_yaml_training_and_a_model_file(tmp_path, name):
    entry = {"dense": "{dense: 8, activation: relu}", "dropout": "{dropout: 0.1}"}.get(name, f"{{activation: {name}}}")
    run = train_yaml(tmp_path, f"data: {{dataset: spirals, samples: 200}}\n"
                               f"model: {{layers: [{{dense: 8}}, {entry}, {{dense: 2}}]}}\n"
                               f"training: {{epochs: 2, batch_size: 32}}\n")
    layers = load_trained(run).model.layers
    assert LAYERS.name_of(layers[1]) == LAYERS.canonical(name) or name == "dense"


@pytest.mark.parametrize("name", LOSSES.names())
def test_every_registered_loss_goes_through_yaml_training_and_a_model_file(tmp_path, name):
    output, dataset = last_layer(name, tmp_path)
    samples = "" if dataset.startswith("csv") else ", samples: 200"
    run = train_yaml(tmp_path, f"data: {{dataset: {dataset}{samples}}}\nloss: {name}\n"
                               f"model: {{layers: [{{dense: 8, activation: tanh}}, {output}]}}\n"
                               f"training: {{epochs: 2, batch_size: 32}}\n")
    assert load_trained(run).config["loss"] == name


@pytest.mark.parametrize("name", OPTIMIZERS.names())
def test_every_registered_optimizer_goes_through_yaml_and_a_resume(tmp_path, name):
    text = ("data: {dataset: spirals, samples: 200}\nmodel: {layers: [{dense: 8, activation: relu}, {dense: 2}]}\n"
            f"optimizer: {name}\ntraining: {{epochs: 2, batch_size: 32}}\n")
    run = train_yaml(tmp_path, text)
    checkpoint = load_checkpoint(run / "last.npz")
    # 128 training rows in batches of 32: 4 steps an epoch
    assert OPTIMIZERS.name_of(checkpoint.optimizer) == name and checkpoint.optimizer.iterations == 2 * 4
    assert invoke("train", "--resume", run, "--epochs", "3", "--quiet").exit_code == 0
    assert load_checkpoint(run / "last.npz").optimizer.iterations == 3 * 4


class AdaGrad(Optimizer):
    """AdaGrad (Duchi et al. 2011): ``s <- s + g^2``, ``w <- w - lr g / (sqrt(s) + eps)``."""

    slots = ("sum_of_squares",)

    def __init__(self, lr: float = 0.01, eps: float = 1e-8, **kwargs) -> None:
        super().__init__(lr, **kwargs)
        self.eps = float(eps)

    def update(self, name, w, g):
        s = self._slot("sum_of_squares", name, w)
        s += g * g
        add_scaled(w, -self.lr, g / (np.sqrt(s) + self.eps))

    def get_config(self):
        return super().get_config() | {"eps": self.eps}


@pytest.fixture
def registered():
    """ScaledTanh as "scaled_tanh" and AdaGrad as "adagrad_v2" (not its class's name), for one test."""
    LAYERS.add("scaled_tanh", ScaledTanh)
    OPTIMIZERS.add("adagrad_v2", AdaGrad)
    yield
    LAYERS.remove("scaled_tanh")
    OPTIMIZERS.remove("adagrad_v2")


def test_a_new_activation_and_optimizer_go_the_whole_way(tmp_path, registered, rng):
    assert check_layer(ScaledTanh(beta=2.0), rng.standard_normal((4, 3))).passed
    config = resolve({"model": {"layers": [{"dense": 8, "activation": "scaled_tanh", "beta": 2.0}, {"dense": 2}]},
                      "optimizer": {"name": "adagrad_v2", "lr": 0.1}})
    assert config["model"]["layers"][0]["beta"] == 2.0 and config["optimizer"]["eps"] == 1e-8
    with pytest.raises(ValueError, match=r"model\.layers\[0\]: ScaledTanh beta must be > 0, got -1\.0"):
        resolve({"model": {"layers": [{"dense": 8, "activation": "scaled_tanh", "beta": -1}, {"dense": 2}]}})
    run = train_yaml(tmp_path, "data: {dataset: spirals, samples: 200}\n"
                               "model: {layers: [{dense: 8, activation: scaled_tanh, beta: 2.5}, {dense: 2}]}\n"
                               "optimizer: {name: adagrad_v2, lr: 0.1}\ntraining: {epochs: 2, batch_size: 32}\n")
    trained = load_trained(run)
    assert trained.model[1].beta == 2.5  # built with the value configured, not a default
    checkpoint = load_checkpoint(run / "last.npz")
    assert isinstance(checkpoint.optimizer, AdaGrad) and "sum_of_squares" in checkpoint.optimizer.state
    resumed = invoke("train", "--resume", run, "--epochs", "3", "--quiet")
    assert resumed.exit_code == 0, resumed.output
    assert load_checkpoint(run / "last.npz").optimizer.iterations == 3 * 4
    shown = invoke("config", "show", run / "config.yaml")
    assert "activation: scaled_tanh, init: he_normal, bias: true, beta: 2.5" in shown.stdout
    assert "name: adagrad_v2" in shown.stdout
