"""The run config (``mlp.runs.config``): defaults, named sections, coercion, every error message, ``--set``
overrides, reading YAML files, and the YAML written back (``to_yaml``)."""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path

import pytest
import yaml
from conftest import CONFIGS

from mlp.files.yamlfile import to_yaml
from mlp.runs.config import (
    DEFAULT_RUN,
    ConfigError,
    apply_override,
    load,
    load_file,
    parse_override,
    resolve,
    resolve_spec,
    set_value,
)
from mlp.train.schedules import StepDecay, Warmup

DEFAULT = {
    "name": "mnist",
    "seed": 0,
    "data": {"dataset": "mnist", "dir": None, "validation_split": 0.2, "normalize": "none", "limit": None,
             "image_shape": None, "augment": None},
    "model": {
        "layers": [
            {"dense": 512, "activation": "relu", "init": "he_normal", "bias": True},
            {"dense": 10, "activation": "linear", "init": "he_normal", "bias": True},
        ],
        "dtype": "float32",
    },
    "loss": "softmax_cross_entropy",
    "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.0,
                  "decay_bias": False, "max_norm": None},
    "schedule": None,
    "training": {"epochs": 20, "batch_size": 128, "shuffle": True, "drop_last": False, "class_weight": None,
                 "micro_batches": 8, "metrics": [], "adversarial": None,
                 "early_stopping": None,
                 "reduce_lr_on_plateau": None, "gradient_norms": None},
    "output": {"dir": "runs", "keep": "last", "monitor": "val_loss", "loggers": [],
               "tensorboard": {"dir": None, "histogram_every": 1},
               "mlflow": {"tracking_uri": None, "experiment": None}},
}
ADAM = {"name": "adam", "lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0,
        "decay_bias": False, "max_norm": None}
ACTIVATIONS = "linear, relu, leaky_relu, elu, sigmoid, tanh, softplus, softmax"
LOSSES = ("softmax_cross_entropy, categorical_crossentropy, binary_crossentropy, mse, half_squared_error, poisson, "
          "multiclass_hinge, bce, mean_squared_error, cross_entropy")


def layers(*specs: dict) -> dict:
    return {"model": {"layers": list(specs)}}


def raises(message: str):
    """``pytest.raises`` for a ``ConfigError`` whose message is exactly ``message``."""
    return pytest.raises(ConfigError, match=f"^{re.escape(message)}$")


# -- defaults and named sections ----------------------------------------------------------------------
def test_an_empty_config_is_the_default_run_with_every_default_filled_in():
    assert resolve({}) == DEFAULT
    assert resolve(None) == DEFAULT
    assert list(resolve({})) == ["name", "seed", "data", "model", "loss", "optimizer", "schedule", "training",
                                 "output"]


def test_empty_sections_mean_the_defaults():
    assert resolve({"data": None, "model": None, "optimizer": None, "training": None, "output": None}) == DEFAULT


def test_resolving_does_not_share_or_change_the_default_run():
    before = copy.deepcopy(DEFAULT_RUN)
    config = resolve({"optimizer": {"lr": 0.1}, "training": {"epochs": 3}})
    config["model"]["layers"][0]["dense"] = 1
    config["optimizer"]["momentum"] = 0.0
    config["data"]["limit"] = 5
    assert before == DEFAULT_RUN
    assert resolve({}) == DEFAULT


@pytest.mark.parametrize("optimizer", ["adam", {"name": "adam"}])
def test_another_optimizer_starts_from_its_own_defaults(optimizer):
    assert resolve({"optimizer": optimizer})["optimizer"] == ADAM


def test_the_same_optimizer_merges_over_the_default_run():
    expected = DEFAULT["optimizer"] | {"lr": 0.1}
    assert resolve({"optimizer": {"lr": 0.1}})["optimizer"] == expected
    assert resolve({"optimizer": {"name": "sgd", "lr": 0.1}})["optimizer"] == expected
    assert resolve({"optimizer": {"name": "adam", "lr": 0.01}})["optimizer"] == ADAM | {"lr": 0.01}


def test_another_dataset_starts_from_its_own_keys():
    assert resolve({"data": "spirals"})["data"] == {
        "dataset": "spirals", "samples": 1000, "test_split": 0.2, "validation_split": 0.2, "normalize": "none",
        "limit": None, "image_shape": None, "augment": None}
    assert resolve({"data": {"validation_split": 0.1}})["data"] == DEFAULT["data"] | {"validation_split": 0.1}


def test_the_same_model_section_keeps_the_default_layers():
    assert resolve({"model": {"dtype": "float64"}})["model"] == DEFAULT["model"] | {"dtype": "float64"}


def test_training_merges_over_the_default_run():
    assert resolve({"training": {"epochs": 3}})["training"] == DEFAULT["training"] | {"epochs": 3}


def test_callbacks_take_their_defaults():
    training = resolve({"training": {"early_stopping": True, "reduce_lr_on_plateau": {"patience": 1}}})["training"]
    assert training["early_stopping"] == {"monitor": "val_loss", "patience": 5, "mode": "auto", "min_delta": 0.0,
                                          "restore_best_weights": True}
    assert training["reduce_lr_on_plateau"]["patience"] == 1
    assert resolve({"training": {"gradient_norms": True}})["training"]["gradient_norms"] == {"every": 10}
    assert resolve({"training": {"early_stopping": False}})["training"]["early_stopping"] is None


def test_identity_and_no_activation_are_linear():
    assert resolve(layers({"dense": 10, "activation": "identity"})) == resolve(layers({"dense": 10}))
    assert resolve(layers({"dense": 10}))["model"]["layers"] == [DEFAULT["model"]["layers"][1]]


def test_an_activation_with_alpha_takes_its_default():
    layer, _ = resolve(layers({"dense": 10, "activation": "leaky_relu"}, {"dense": 10}))["model"]["layers"]
    assert layer == {"dense": 10, "activation": "leaky_relu", "init": "he_normal", "bias": True, "alpha": 0.01}


def test_loss_aliases_become_the_canonical_names():
    softmax = layers({"dense": 10, "activation": "softmax"})
    assert resolve({"loss": "cross_entropy", **softmax})["loss"] == "categorical_crossentropy"
    assert resolve({"loss": "bce", **layers({"dense": 1})})["loss"] == "binary_crossentropy"
    assert resolve({"loss": "mean_squared_error"})["loss"] == "mse"


def test_losses_that_fit_the_last_layer():
    assert resolve({"loss": "categorical_crossentropy", **layers({"dense": 10, "activation": "softmax"})})
    assert resolve({"loss": "categorical_crossentropy", **layers({"dense": 10}, {"activation": "softmax"})})
    # a dropout after the output layer does not count as the last layer
    assert resolve({"loss": "categorical_crossentropy", **layers({"dense": 10, "activation": "softmax"},
                                                                 {"dropout": 0.1})})
    assert resolve({"loss": "multiclass_hinge", **layers({"dense": 10})})


# -- coercion -----------------------------------------------------------------------------------------
def test_yaml_reads_1e_minus_3_as_a_string_and_it_becomes_a_float():
    raw = yaml.safe_load("optimizer: {lr: 1e-3}\ndata: {validation_split: 1e-1}")
    assert raw["optimizer"]["lr"] == "1e-3"  # PyYAML's YAML 1.1: no dot, no float
    config = resolve(raw)
    assert config["optimizer"]["lr"] == 0.001 and type(config["optimizer"]["lr"]) is float
    assert config["data"]["validation_split"] == 0.1


def test_an_integer_for_a_number_is_accepted_as_a_float():
    config = resolve({"optimizer": {"lr": 1}, "data": {"validation_split": 0}})
    assert config["optimizer"]["lr"] == 1.0 and type(config["optimizer"]["lr"]) is float
    assert type(config["data"]["validation_split"]) is float


@pytest.mark.parametrize(("raw", "message"), [
    ({"training": {"epochs": True}}, "training.epochs must be an integer, got True"),
    ({"seed": False}, "seed must be an integer, got False"),
    ({"training": {"batch_size": 32.0}}, "training.batch_size must be an integer, got 32.0"),
    ({"training": {"batch_size": "1e2"}}, "training.batch_size must be an integer, got '1e2'"),
    ({"optimizer": {"lr": True}}, "optimizer.lr must be a number, got True"),
    ({"optimizer": {"lr": "fast"}}, "optimizer.lr must be a number, got 'fast'"),
    ({"optimizer": {"nesterov": 1}}, "optimizer.nesterov must be true or false, got 1"),
    ({"name": 5}, "name must be a string, got 5"),
    ({"loss": None}, "loss must be a string, got None"),
    ({"data": {"dataset": "csv", "path": "a.csv", "target": 1.5}},
     "data.target must be an integer or a string, got 1.5"),
    (layers({"dense": 3.5}), "model.layers[0].dense must be an integer, got 3.5"),
    (layers({"dense": 8, "activation": ["relu"]}), "model.layers[0].activation must be a string, got ['relu']"),
    (layers({"dense": 8}, {"dropout": "half"}), "model.layers[1].dropout must be a number, got 'half'"),
    (layers({"dense": 8, "bias": "yes"}), "model.layers[0].bias must be true or false, got 'yes'"),
    ({"optimizer": 5}, "optimizer must be a mapping (key: value, ...), got 5"),
    ({"training": {"early_stopping": "yes"}}, "training.early_stopping must be a mapping (key: value, ...), got 'yes'"),
    (layers(5), "model.layers[0] must be a mapping (key: value, ...), got 5"),
    ({"model": {"layers": []}},
     "model.layers must be a non-empty list, e.g. [{dense: 128, activation: relu}, {dense: 10}]"),
])
def test_wrong_types(raw, message):
    with raises(message):
        resolve(raw)


# -- every error, by its message -------------------------------------------------------------------------
@pytest.mark.parametrize(("raw", "message"), [
    ({"optimiser": {"lr": 0.1}},
     "unknown key 'optimiser' in the config (top level) (did you mean 'optimizer'?); valid keys: name, seed, "
     "data, model, loss, optimizer, schedule, training, output"),
    ({"optimizer": {"lrr": 0.1}},
     "unknown key 'lrr' in optimizer (sgd) (did you mean 'lr'?); valid keys: name, lr, momentum, nesterov, "
     "weight_decay, decay_bias, max_norm"),
    ({"optimizer": {"name": "adam", "momentum": 0.9}},
     "unknown key 'momentum' in optimizer (adam); valid keys: name, lr, beta1, beta2, eps, weight_decay, "
     "decay_bias, max_norm"),
    ({"data": {"dataset": "spirals", "dir": "x"}},
     "unknown key 'dir' in data (dataset spirals); valid keys: dataset, samples, test_split, validation_split, "
     "normalize, limit, image_shape, augment"),
    ({"training": {"epoch": 3}},
     "unknown key 'epoch' in training (did you mean 'epochs'?); valid keys: epochs, batch_size, shuffle, "
     "drop_last, class_weight, micro_batches, metrics, adversarial, early_stopping, reduce_lr_on_plateau, "
     "gradient_norms"),
    ({"model": {"layer": []}}, "unknown key 'layer' in model (did you mean 'layers'?); valid keys: layers, dtype"),
    ({"output": {"kept": "best"}},
     "unknown key 'kept' in output (did you mean 'keep'?); valid keys: dir, keep, monitor, loggers, tensorboard, "
     "mlflow"),
    (layers({"dense": 8, "activaton": "relu"}),
     "unknown key 'activaton' in model.layers[0] (did you mean 'activation'?); valid keys: dense, activation, "
     "init, bias"),
    (layers({"dense": 8, "activation": "relu", "alpha": 0.1}),
     "unknown key 'alpha' in model.layers[0]; valid keys: dense, activation, init, bias"),
    (layers({"dense": 8}, {"dropout": 0.5, "seed": 1}), "unknown key 'seed' in model.layers[1]; valid keys: dropout"),
    (layers({"units": 8}),
     "model.layers[0] needs one of dense, dropout, activation, e.g. {dense: 128, activation: relu}"),
    (layers({"dense": 8, "dropout": 0.5}),
     "model.layers[0] mixes dropout with dense; put the dropout in a layer entry of its own: {dropout: 0.5}"),
    (layers({"dropout": 0.5}, {"activation": "relu"}), "model.layers has no dense layer; add one, e.g. {dense: 10}"),
])
def test_unknown_keys_and_malformed_layers(raw, message):
    with raises(message):
        resolve(raw)


@pytest.mark.parametrize(("raw", "message"), [
    (layers({"dense": 8}, {"dropout": 1}, {"dense": 10}), "model.layers[1]: Dropout p must be in [0, 1), got 1.0"),
    (layers({"dense": 8}, {"dropout": -0.1}, {"dense": 10}), "model.layers[1]: Dropout p must be in [0, 1), got -0.1"),
    ({"optimizer": {"lr": 0}}, "optimizer: lr must be a number > 0, got 0.0"),
    ({"optimizer": {"lr": -1}}, "optimizer: lr must be a number > 0, got -1.0"),
    ({"optimizer": {"momentum": 1}}, "optimizer: momentum must be in [0, 1), got 1.0"),
    ({"optimizer": {"name": "sgd", "momentum": 0}},
     "optimizer: nesterov=True needs momentum > 0 (e.g. momentum=0.9)"),
    ({"training": {"batch_size": 0}}, "training.batch_size must be >= 1, got 0"),
    ({"training": {"epochs": 0}}, "training.epochs must be >= 1, got 0"),
    ({"seed": -1}, "seed must be >= 0, got -1"),
    ({"name": "my run"}, "name must be made of letters, digits, '_', '-' and '.', got 'my run'"),
    ({"data": {"validation_split": 1}}, "data.validation_split must be in [0, 1), got 1.0"),
    ({"data": {"limit": 0}}, "data.limit must be >= 1, got 0"),
    (layers({"dense": 0}), "model.layers[0].dense must be >= 1, got 0"),
    (layers({"dense": 8, "activation": "leaky_relu", "alpha": -1}),
     "model.layers[0]: LeakyReLU alpha must be >= 0, got -1.0"),
    ({"training": {"early_stopping": {"patience": -1}}},
     "training.early_stopping: EarlyStopping patience must be >= 0, got -1"),
    ({"training": {"reduce_lr_on_plateau": {"factor": 2}}},
     "training.reduce_lr_on_plateau: ReduceLROnPlateau factor must be in (0, 1), got 2.0"),
    ({"training": {"gradient_norms": {"every": 0}}},
     "training.gradient_norms: GradientNorms every must be a positive integer, got 0"),
    ({"schedule": {"name": "step", "step_size": 0}}, "schedule: StepDecay step_size must be >= 1, got 0"),
])
def test_impossible_values(raw, message):
    with raises(message):
        resolve(raw)


@pytest.mark.parametrize(("raw", "message"), [
    (layers({"dense": 8, "activation": "relux"}),
     f"model.layers[0].activation: unknown value 'relux' (did you mean 'relu'?); valid values: {ACTIVATIONS}"),
    (layers({"dense": 8}, {"activation": "swish"}),
     f"model.layers[1].activation: unknown value 'swish'; valid values: {ACTIVATIONS}"),
    ({"loss": "crossentropy"},
     f"loss: unknown value 'crossentropy' (did you mean 'cross_entropy'?); valid values: {LOSSES}"),
    ({"optimizer": "adamw"},
     "optimizer.name: unknown value 'adamw' (did you mean 'adam'?); valid values: sgd, adam, rmsprop"),
    ({"optimizer": {"name": "lbfgs"}}, "optimizer.name: unknown value 'lbfgs'; valid values: sgd, adam, rmsprop"),
    ({"data": {"dataset": "mnistt"}},
     "data.dataset: unknown value 'mnistt' (did you mean 'mnist'?); valid values: mnist, fashion-mnist, csv, npz, "
     "spirals, xor, blobs, regression"),
    ({"schedule": "cosin"},
     "schedule.name: unknown value 'cosin' (did you mean 'cosine'?); valid values: constant, step, exponential, "
     "cosine"),
    ({"schedule": {"warmup": 2}}, "schedule.name is required; valid values: constant, step, exponential, cosine"),
    (layers({"dense": 8, "init": "heh"}),
     "model.layers[0].init: unknown value 'heh' (did you mean 'he'?); valid values: glorot, glorot_normal, "
     "glorot_uniform, he, he_normal, he_uniform, normal, xavier, xavier_normal, xavier_uniform, zeros"),
    ({"model": {"dtype": "float16"}},
     "model.dtype: unknown value 'float16' (did you mean 'float64'?); valid values: float32, float64"),
    ({"output": {"keep": "bestt"}},
     "output.keep: unknown value 'bestt' (did you mean 'best'?); valid values: last, best"),
    ({"training": {"early_stopping": {"monitor": "val_acc"}}},
     "training.early_stopping.monitor: unknown metric 'val_acc' (did you mean 'val_accuracy'?); valid metrics: "
     "val_loss, val_accuracy, loss, accuracy"),
])
def test_unknown_names_list_the_valid_ones(raw, message):
    with raises(message):
        resolve(raw)


def test_categorical_crossentropy_after_logits_says_how_to_fix_it():
    with raises("loss categorical_crossentropy takes probabilities, but the last layer has `activation: linear`, "
                "not softmax; add `activation: softmax` to the last layer, or use `loss: softmax_cross_entropy` "
                "(the same gradients, computed on logits)"):
        resolve({"loss": "categorical_crossentropy"})
    with pytest.raises(ConfigError, match="the last layer has `activation: relu`, not softmax"):
        resolve({"loss": "cross_entropy", **layers({"dense": 10, "activation": "softmax"}, {"activation": "relu"})})


def test_softmax_cross_entropy_after_a_softmax_says_how_to_fix_it():
    with raises("loss softmax_cross_entropy takes raw scores (logits) and applies softmax itself, but the last "
                "layer has `activation: softmax`; remove it from the last layer or use "
                "`loss: categorical_crossentropy`"):
        resolve(layers({"dense": 10, "activation": "softmax"}))


def test_binary_crossentropy_after_a_sigmoid():
    with raises("loss binary_crossentropy takes raw scores (logits) and applies sigmoid itself, but the last layer "
                "has `activation: sigmoid`; remove it from the last layer"):
        resolve({"loss": "bce", **layers({"dense": 1, "activation": "sigmoid"})})


def test_hinge_after_a_relu():
    with raises("loss multiclass_hinge takes raw scores (logits), but the last layer has `activation: relu`; remove it "
                "from the last layer"):
        resolve({"loss": "multiclass_hinge", **layers({"dense": 10}, {"activation": "relu"})})


def test_monitoring_validation_metrics_needs_a_validation_split():
    with raises("training.early_stopping.monitor is val_loss, but data.validation_split is 0 so there is no "
                "validation set; set data.validation_split (e.g. 0.2) or monitor loss"):
        resolve({"training": {"early_stopping": {"monitor": "val_loss"}}, "data": {"validation_split": 0}})
    with pytest.raises(ConfigError, match=r"^training\.reduce_lr_on_plateau\.monitor is val_accuracy, .* or monitor "
                                          r"accuracy$"):
        resolve({"training": {"reduce_lr_on_plateau": {"monitor": "val_accuracy"}}, "data": {"validation_split": 0}})
    with pytest.raises(ConfigError, match=r"^output\.monitor is val_loss, but data\.validation_split is 0"):
        resolve({"output": {"keep": "best"}, "data": {"validation_split": 0}})
    # output.monitor only matters when the best model is kept
    assert resolve({"output": {"keep": "last"}, "data": {"validation_split": 0}})["output"]["monitor"] == "val_loss"


def test_monitoring_accuracy_needs_classes():
    with raises("output.monitor is accuracy, but loss mse has no accuracy; monitor a loss instead"):
        resolve({"output": {"keep": "best", "monitor": "accuracy"}, "loss": "mse"})
    with raises("training.early_stopping.monitor is val_accuracy, but loss mse has no accuracy; monitor a loss "
                "instead"):
        resolve({"training": {"early_stopping": {"monitor": "val_accuracy"}}, "loss": "mse"})


# -- schedules and data sections --------------------------------------------------------------------------
def test_a_step_schedule_needs_its_step_size():
    with raises("schedule.step_size is required (step)"):
        resolve({"schedule": "step"})
    assert resolve({"schedule": {"name": "step", "step_size": 5}})["schedule"] == {
        "name": "step", "step_size": 5, "gamma": 0.1, "warmup": 0}


def test_cosine_anneals_over_the_whole_run_unless_told_otherwise():
    assert resolve({"schedule": "cosine", "training": {"epochs": 7}})["schedule"] == {
        "name": "cosine", "epochs": 7, "min_lr": 0.0, "warmup": 0}
    assert resolve({"schedule": "cosine"})["schedule"]["epochs"] == 20
    assert resolve({"schedule": {"name": "cosine", "epochs": 3}, "training": {"epochs": 7}})["schedule"]["epochs"] == 3


def test_warmup_before_a_schedule():
    config = resolve({"schedule": {"name": "step", "step_size": 5, "warmup": 2}})
    assert config["schedule"] == {"name": "step", "step_size": 5, "gamma": 0.1, "warmup": 2}
    schedule = resolve_spec({"schedule": {"name": "step", "step_size": 5, "warmup": 2}}).schedule
    assert isinstance(schedule, Warmup)
    assert isinstance(resolve_spec({"schedule": {"name": "step", "step_size": 5}}).schedule, StepDecay)
    with raises("schedule.warmup must be >= 0, got -1"):
        resolve({"schedule": {"name": "step", "step_size": 5, "warmup": -1}})
    with raises("unknown key 'warmpu' in schedule (constant) (did you mean 'warmup'?); valid keys: name, warmup"):
        resolve({"schedule": {"name": "constant", "warmpu": 2}})


@pytest.mark.parametrize("dataset", ["csv", "npz"])
def test_a_file_dataset_needs_its_path(dataset):
    with raises(f"data.path is required (dataset {dataset})"):
        resolve({"data": dataset})


def test_a_csv_dataset_and_its_defaults():
    assert resolve({"data": {"dataset": "csv", "path": "a.csv", "target": "label"}})["data"] == {
        "dataset": "csv", "path": os.path.abspath("a.csv"), "test_path": None, "test_split": 0.2, "task": "auto",
        "target": "label", "header": None, "delimiter": ",", "weight": None, "validation_split": 0.2,
        "normalize": "none",
        "limit": None, "image_shape": None, "augment": None}


# -- --set -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "path", "value"), [
    ("optimizer.lr=0.05", ["optimizer", "lr"], 0.05),
    ("optimizer.lr=1e-3", ["optimizer", "lr"], "1e-3"),  # a string to YAML; resolve makes it a float
    ("optimizer.nesterov=false", ["optimizer", "nesterov"], False),
    ("data.limit=", ["data", "limit"], None),
    ("data.limit=null", ["data", "limit"], None),
    (" name = run-2", ["name"], "run-2"),
    ("training.early_stopping={patience: 3}", ["training", "early_stopping"], {"patience": 3}),
    ("model.layers=[{dense: 16}, {dense: 2}]", ["model", "layers"], [{"dense": 16}, {"dense": 2}]),
    ("data.delimiter=;", ["data", "delimiter"], ";"),
    ("data.path=a=b.csv", ["data", "path"], "a=b.csv"),
    ("name=[", ["name"], "["),  # not YAML: meant as that string
])
def test_set_values_are_read_as_yaml(text, path, value):
    assert parse_override(text) == (path, value)


@pytest.mark.parametrize("text", ["optimizer.lr", "=0.1", " =0.1", "optimizer..lr=0.1", ".lr=0.1", "optimizer.=1"])
def test_a_malformed_set(text):
    with raises(f"--set {text!r}: expected KEY.PATH=VALUE, e.g. --set optimizer.lr=0.05"):
        parse_override(text)


def test_set_creates_sections_and_resolves_as_if_written_in_the_file():
    raw: dict = {}
    for text in ["optimizer.lr=1e-3", "training.early_stopping.patience=2", "schedule.name=cosine", "seed=3"]:
        apply_override(raw, text)
    assert raw == {"optimizer": {"lr": "1e-3"}, "training": {"early_stopping": {"patience": 2}},
                   "schedule": {"name": "cosine"}, "seed": 3}
    config = resolve(raw)
    assert config["optimizer"]["lr"] == 0.001 and config["training"]["early_stopping"]["patience"] == 2
    assert config["schedule"]["epochs"] == 20 and config["seed"] == 3


def test_setting_one_layer_without_a_file_copies_the_default_layers():
    raw: dict = {}
    apply_override(raw, "model.layers.0.dense=256")
    assert raw == {"model": {"layers": [{"dense": 256, "activation": "relu"}, {"dense": 10}]}}
    assert DEFAULT_RUN["model"]["layers"][0]["dense"] == 512  # a copy
    assert [layer["dense"] for layer in resolve(raw)["model"]["layers"]] == [256, 10]
    apply_override(raw, "model.layers.1={dense: 10, activation: softmax}")
    apply_override(raw, "loss=categorical_crossentropy")
    assert resolve(raw)["model"]["layers"][1]["activation"] == "softmax"


def test_setting_a_layer_of_a_file_keeps_its_layers():
    raw = {"model": {"layers": [{"dense": 8}, {"dense": 8}, {"dense": 2}]}}
    apply_override(raw, "model.layers.2.dense=3")
    assert raw == {"model": {"layers": [{"dense": 8}, {"dense": 8}, {"dense": 3}]}}


@pytest.mark.parametrize("text", ["model.layers.2.dense=3", "model.layers.x.dense=3", "model.layers.-1.dense=3"])
def test_a_list_index_out_of_range_names_the_valid_range(text):
    with raises(f"--set {text}: model.layers is a list of 2 entries; use an index from 0 to 1 (e.g. "
                f"model.layers.0)"):
        apply_override({}, text)


def test_a_list_index_out_of_range_as_the_last_part():
    with raises("--set model.layers.5={dense: 3}: model.layers is a list of 2 entries; use an index from 0 to 1 "
                "(e.g. model.layers.0)"):
        apply_override({}, "model.layers.5={dense: 3}")


@pytest.mark.parametrize(("raw", "text", "where"), [
    ({"optimizer": {"lr": 0.1}}, "optimizer.lr.x=1", "optimizer.lr"),
    ({}, "optimizer.lr.x=1", "optimizer.lr"),  # below a value of the default run
    ({}, "seed.x=1", "seed"),
    ({}, "loss.name=mse", "loss"),
    ({}, "model.layers.0.dense.units=3", "model.layers.0.dense"),
])
def test_setting_below_a_value(raw, text, where):
    with raises(f"--set {text}: {where} is a value, not a section; set it with --set {where}=..."):
        apply_override(raw, text)


def test_set_goes_below_a_shorthand():
    raw = {"optimizer": "adam", "data": "spirals", "training": {"early_stopping": True}}
    for text in ["optimizer.lr=0.01", "data.samples=100", "training.early_stopping.patience=2"]:
        apply_override(raw, text)
    config = resolve(raw)
    assert config["optimizer"] == ADAM | {"lr": 0.01}
    assert config["data"]["samples"] == 100 and config["training"]["early_stopping"]["patience"] == 2


def test_set_value_names_its_option_in_errors():
    with raises("--epochs: training.epochs is a value, not a section; set it with --set training.epochs=..."):
        set_value({"training": {"epochs": 3}}, ["training", "epochs", "x"], 1, "--epochs")


# -- config files ------------------------------------------------------------------------------------------
def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_a_file_is_read_and_named_after_its_stem(tmp_path):
    path = write(tmp_path / "small-run.yaml", "optimizer: {lr: 1e-3}\ntraining: {epochs: 3}\n")
    assert load_file(path) == {"optimizer": {"lr": "1e-3"}, "training": {"epochs": 3}, "name": "small-run"}
    assert load(path) == DEFAULT | {"name": "small-run", "optimizer": DEFAULT["optimizer"] | {"lr": 0.001},
                                    "training": DEFAULT["training"] | {"epochs": 3}}
    assert load_file(write(tmp_path / "other.yaml", "name: mine\n"))["name"] == "mine"


def test_overrides_apply_over_the_file(tmp_path):
    path = write(tmp_path / "run.yaml", "optimizer: {name: adam, lr: 0.01}\n")
    config = load(path, ["optimizer.lr=0.02", "training.epochs=2"])
    assert config["optimizer"] == ADAM | {"lr": 0.02} and config["training"]["epochs"] == 2


def test_an_empty_file_is_the_default_run_named_after_it(tmp_path):
    path = write(tmp_path / "nothing.yaml", "# only a comment\n")
    assert load_file(path) == {"name": "nothing"}
    assert load(path) == DEFAULT | {"name": "nothing"}
    assert load(write(tmp_path / "empty.yaml", "")) == DEFAULT | {"name": "empty"}


def test_relative_data_paths_are_relative_to_the_file(tmp_path):
    folder = tmp_path / "configs"
    folder.mkdir()
    path = write(folder / "csv.yaml", "data: {dataset: csv, path: data/train.csv, test_path: /abs/test.csv}\n")
    data = load(path)["data"]
    assert data["path"] == str(folder / "data" / "train.csv")
    assert data["test_path"] == "/abs/test.csv"
    assert load_file(write(folder / "home.yaml", "data: {dir: ~/mnist}\n"))["data"]["dir"] == str(Path.home() / "mnist")
    assert load_file(write(folder / "mnist.yaml", "data: {dir: mnist}\n"))["data"]["dir"] == str(folder / "mnist")


def test_malformed_yaml_names_the_file_line_and_column(tmp_path):
    path = write(tmp_path / "bad.yaml", "data: {dataset: mnist\nmodel: [")
    # the flow mapping opened on line 1 meets `model:` on line 2: the ':' at column 6 cannot be there
    with raises(f"{path}:2:6: malformed YAML: expected ',' or '}}', but got ':'"):
        load_file(path)
    path = write(tmp_path / "indent.yaml", "seed: 1\ndata:\n  dataset: spirals\n   samples: 3\n")
    with raises(f"{path}:4:11: malformed YAML: mapping values are not allowed here"):
        load_file(path)
    path = write(tmp_path / "tab.yaml", "seed: 1\n\tdata: 2\n")
    with raises(f"{path}:2:1: malformed YAML: found character '\\t' that cannot start any token"):
        load_file(path)


@pytest.mark.parametrize(("text", "kind"), [("- dense: 10\n- dense: 2\n", "list"), ("just words\n", "str")])
def test_a_file_that_is_not_a_mapping(tmp_path, text, kind):
    path = write(tmp_path / "run.yaml", text)
    with raises(f"{path} must hold a mapping of sections (data:, model:, ...), not a {kind}"):
        load_file(path)


def test_a_missing_or_unreadable_config_file(tmp_path):
    with raises(f"{tmp_path / 'nope.yaml'}: no such config file"):
        load(tmp_path / "nope.yaml")
    with raises(f"{tmp_path} is not a regular file; give a YAML config file"):
        load_file(tmp_path)
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match=f"^{re.escape(str(binary))} is not a readable YAML file"):
        load_file(binary)


# -- the YAML written back -------------------------------------------------------------------------------------
SHIPPED = sorted(CONFIGS.glob("*.yaml"))
ROUND_TRIPS = [
    {},
    {"optimizer": {"name": "adam", "lr": "1e-3", "max_norm": 3}, "schedule": {"name": "cosine", "warmup": 2}},
    {"data": {"dataset": "csv", "path": "data/iris.csv", "target": "species", "delimiter": ";"},
     "training": {"early_stopping": {"patience": 3}, "reduce_lr_on_plateau": True},
     "output": {"keep": "best", "monitor": "val_accuracy"}},
    {"loss": "mse", "data": "regression", "model": {"layers": [{"dense": 16, "activation": "elu", "alpha": 0.5},
                                                                {"dropout": 0.25}, {"dense": 1}], "dtype": "float64"}},
    {"name": "123", "data": {"dataset": "csv", "path": "yes", "target": "1"}},  # strings that look like other types
]


@pytest.mark.parametrize("raw", ROUND_TRIPS)
def test_to_yaml_reads_back_to_the_same_config(raw):
    config = resolve(raw)
    assert resolve(yaml.safe_load(to_yaml(config))) == config


@pytest.mark.parametrize("path", SHIPPED, ids=[path.name for path in SHIPPED])
def test_every_shipped_config_is_valid_and_round_trips(path):
    config = load(path)
    assert resolve(yaml.safe_load(to_yaml(config))) == config


def test_the_shipped_configs_include_spirals():
    assert CONFIGS / "spirals.yaml" in SHIPPED


def test_to_yaml_writes_sections_in_order_and_one_line_per_layer():
    text = to_yaml(resolve({}))
    assert [line.split(":")[0] for line in text.splitlines() if not line.startswith(" ")] == list(DEFAULT)
    assert "  - {dense: 512, activation: relu, init: he_normal, bias: true}\n" in text
    assert "  - {dense: 10, activation: linear, init: he_normal, bias: true}\n" in text


def test_a_file_name_that_is_no_run_name_is_made_one(tmp_path):
    assert load(write(tmp_path / "my first run.yaml", ""))["name"] == "my-first-run"


def test_a_callback_given_as_a_number_is_an_error_not_off():
    with pytest.raises(ConfigError, match=r"^training.early_stopping must be a mapping \(key: value, ...\), got 0$"):
        resolve({"training": {"early_stopping": 0}})
    assert resolve({"training": {"early_stopping": False}})["training"]["early_stopping"] is None


def test_an_override_into_an_empty_list_says_so():
    raw = {"model": {"layers": []}}
    with pytest.raises(ConfigError, match=r"model.layers is an empty list; write the whole list"):
        apply_override(raw, "model.layers.0.dense=3")


# -- training.metrics ------------------------------------------------------------------------------------------


def test_training_metrics_are_checked_names_and_can_be_monitored():
    config = resolve({"training": {"metrics": ["f1_macro", "recall_weighted"],
                                   "early_stopping": {"monitor": "val_f1_macro"}},
                      "output": {"keep": "best", "monitor": "f1_macro"}})
    assert config["training"]["metrics"] == ["f1_macro", "recall_weighted"]
    assert config["output"]["monitor"] == "f1_macro"
    spec = resolve_spec({"training": {"metrics": ["f1_macro"], "reduce_lr_on_plateau": {"monitor": "val_f1_macro"}}})
    assert spec.callbacks[0].monitor.mode == "max"  # inferred: higher is better


@pytest.mark.parametrize(("raw", "message"), [
    ({"training": {"metrics": ["f1_macr"]}},
     "training.metrics: unknown metric 'f1_macr' (did you mean 'f1_macro'?); valid names: precision_macro, "
     "recall_macro, f1_macro, precision_weighted, recall_weighted, f1_weighted"),
    ({"training": {"metrics": "f1_macro"}}, "training.metrics must be a list, got 'f1_macro'"),
    ({"training": {"metrics": ["f1_macro", "f1_macro"]}},
     "training.metrics: metrics names f1_macro twice; name each once"),
    ({"training": {"metrics": ["f1_macro"]}, "loss": "mse"},
     "training.metrics f1_macro need classes, but loss mse has none; remove them"),
    ({"output": {"keep": "best", "monitor": "val_f1_macro"}},
     "output.monitor is val_f1_macro, but the run does not record it; add it to training.metrics, e.g. "
     "training.metrics: [f1_macro]"),
    ({"training": {"early_stopping": {"monitor": "f1_weighted"}, "metrics": ["f1_macro"]}},
     "training.early_stopping.monitor is f1_weighted, but the run does not record it; add it to training.metrics, "
     "e.g. training.metrics: [f1_weighted]"),
    ({"output": {"monitor": "val_f1"}, "training": {"metrics": ["f1_macro"]}},
     "output.monitor: unknown metric 'val_f1' (did you mean 'val_f1_macro'?); valid metrics: val_loss, "
     "val_accuracy, loss, accuracy, val_f1_macro, f1_macro"),
])
def test_training_metrics_errors(raw, message):
    with raises(message):
        resolve(raw)
