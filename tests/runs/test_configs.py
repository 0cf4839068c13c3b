"""Every shipped config (configs/*.yaml) is valid, matches what it promises, and trains one short epoch."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import CONFIGS, the_run

from mlp.cli import main
from mlp.runs import config

SHIPPED = sorted(CONFIGS.glob("*.yaml"))
PROMISED = {"mnist", "keras_example", "mnist_fast", "mnist_best", "mnist_elastic", "fashion_mnist", "spirals",
            "csv_example", "deep_sigmoid", "deep_tanh", "deep_relu"}


def test_every_promised_config_is_shipped():
    assert {path.stem for path in SHIPPED} >= PROMISED


def test_mnist_yaml_is_the_default_run():
    # by its name, as `mlp train mnist` reads it: a file's output.dir would be relative to the file's folder
    assert config.load("mnist") == config.resolve({})


def test_keras_example_is_the_classic_code():
    resolved = config.load(CONFIGS / "keras_example.yaml")
    assert [(layer["dense"], layer["activation"], layer["init"]) for layer in resolved["model"]["layers"]] == [
        (512, "relu", "glorot_uniform"), (10, "softmax", "glorot_uniform")]
    assert resolved["loss"] == "categorical_crossentropy"
    assert resolved["optimizer"] == {"name": "sgd", "lr": 0.01, "momentum": 0.0, "nesterov": False,
                                     "weight_decay": 0.0, "decay_bias": False, "max_norm": None}
    assert resolved["schedule"] is None
    assert (resolved["training"]["epochs"], resolved["training"]["batch_size"]) == (20, 128)
    assert resolved["data"]["validation_split"] == 0.2


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_config_trains_one_short_epoch(path, tmp_path, offline_mnist):
    args = ["train", str(path), "--epochs", "1", "--out", str(tmp_path / "runs"), "-q"]
    dataset = config.load(path)["data"]["dataset"]
    if dataset in ("mnist", "fashion-mnist"):
        # Fashion-MNIST has no bundled sample: its network is trained on MNIST's (the same shapes).
        args += ["--set", "data.dataset=mnist", "--set", "data.limit=300"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output + result.stderr
    run_dir = the_run(tmp_path / "runs")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["epochs"] == 1
    assert 0 <= metrics["test"]["accuracy"] <= 1


def test_the_depth_study_varies_only_the_activation():
    studies = {act: config.load(CONFIGS / f"deep_{act}.yaml") for act in ("sigmoid", "tanh", "relu")}
    for act, resolved in studies.items():
        assert [layer["dense"] for layer in resolved["model"]["layers"]] == [256] * 5 + [10]
        assert [layer["activation"] for layer in resolved["model"]["layers"]] == [act] * 5 + ["linear"]
        assert resolved["training"]["gradient_norms"] == {"every": 25}
        others = {key: value for key, value in resolved.items() if key not in ("name", "model")}
        assert others == {key: value for key, value in studies["relu"].items() if key not in ("name", "model")}
