"""Run configs: the YAML schema, its defaults, ``--set`` overrides and validation.

A config is a YAML mapping with the sections below. Every key is optional: an omitted key takes
the value of the default run (``DEFAULT_RUN``, printed by ``mlp config show``). A section chosen
by a name (``data.dataset``, ``optimizer.name``, ``schedule.name``) that names something else than
the default starts from that thing's own defaults, e.g. ``optimizer: {name: adam}`` is Adam with
``lr: 0.001``. ``resolve`` turns a config into the complete, checked form used to train::

    name: mnist                    # run folder prefix: runs/<name>-<timestamp>/
    seed: 0                        # weights, dropout masks, shuffling, synthetic data
    data: {dataset: mnist, dir: null, validation_split: 0.2, normalize: none, limit: null}
    model:
      layers:                      # the input width comes from the data
        - {dense: 512, activation: relu, init: he_normal, bias: true}
        - {dense: 10, activation: linear, init: he_normal, bias: true}
    loss: softmax_cross_entropy
    optimizer: {name: sgd, lr: 0.05, momentum: 0.9, nesterov: true, weight_decay: 0.0, ...}
    schedule: null                 # or {name: step | exponential | cosine | constant, ..., warmup: 0}
    training: {epochs: 20, batch_size: 128, shuffle: true, drop_last: false,
               early_stopping: null, reduce_lr_on_plateau: null, gradient_norms: null}
    output: {dir: runs, keep: last, monitor: val_loss}

Validation is declared as data (a ``Key`` per setting: default, type, rule, choices); the keys of
optimizers, schedules and callbacks come from their classes' signatures, and their values are
checked by building them, so the rules live in one place. Every problem is a ``ConfigError`` of
one line naming the key, the value and the fix.
"""

from __future__ import annotations

import copy
import difflib
import inspect
import os
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mlp.activations import ACTIVATIONS
from mlp.callbacks import EarlyStopping, ReduceLROnPlateau
from mlp.data import GENERATORS
from mlp.data.tabular import is_number
from mlp.diagnostics import GradientNorms
from mlp.dropout import Dropout
from mlp.init import ALIASES, INITIALIZERS
from mlp.losses import LOSSES
from mlp.messages import quoted, shorten
from mlp.optim import OPTIMIZERS, Optimizer
from mlp.schedules import SCHEDULES


class ConfigError(ValueError):
    """A config that cannot be used: the message names the key, the problem and the fix."""


DEFAULT_RUN: dict[str, Any] = {
    "name": "mnist",
    "seed": 0,
    "data": {"dataset": "mnist"},
    "model": {"layers": [{"dense": 512, "activation": "relu"}, {"dense": 10}]},
    "loss": "softmax_cross_entropy",
    "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": True},
    "schedule": None,
    "training": {"epochs": 20, "batch_size": 128},
    "output": {"dir": "runs"},
}

REQUIRED = object()  # the default of a key that has none


@dataclass(frozen=True)
class Rule:
    """A condition on a value and how to say it: ``Rule(lambda v: v > 0, "> 0")``."""

    test: Callable[[Any], bool]
    text: str


POSITIVE = Rule(lambda v: v > 0, "> 0")
AT_LEAST_ONE = Rule(lambda v: v >= 1, ">= 1")
FRACTION = Rule(lambda v: 0 <= v < 1, "in [0, 1)")
NON_NEGATIVE = Rule(lambda v: v >= 0, ">= 0")
RUN_NAME = Rule(lambda v: re.fullmatch(r"[\w.-]+", v) is not None, "made of letters, digits, '_', '-' and '.'")


@dataclass(frozen=True)
class Key:
    """One setting: its default (``REQUIRED`` if none), accepted types, and a rule or a list of choices.

    ``None`` is accepted when the default is ``None`` or ``nullable`` is set.
    """

    default: Any
    kind: type | tuple[type, ...]
    rule: Rule | None = None
    choices: tuple[str, ...] = ()
    nullable: bool = False


# -- sections with a fixed set of keys -------------------------------------------------------------
COMMON_DATA_KEYS = {
    "validation_split": Key(0.2, float, FRACTION),
    "normalize": Key("none", str, choices=("none", "standardize")),
    "limit": Key(None, int, AT_LEAST_ONE),
}
FILE_KEYS = {
    "path": Key(REQUIRED, str),
    "test_path": Key(None, str),
    "test_split": Key(None, float, FRACTION),  # 0.2 unless there is a test_path
    "task": Key("auto", str, choices=("auto", "classification", "regression")),
}
DATA_KEYS: dict[str, dict[str, Key]] = {
    "mnist": {"dir": Key(None, str)},
    "fashion-mnist": {"dir": Key(None, str)},
    "csv": FILE_KEYS | {"target": Key(-1, (int, str)), "header": Key(None, bool), "delimiter": Key(",", str)},
    "npz": FILE_KEYS | {"x_key": Key("x", str), "y_key": Key("y", str)},
    **{name: {"samples": Key(1000, int, AT_LEAST_ONE), "test_split": Key(0.2, float, FRACTION)}
       for name in GENERATORS},
}
PATH_KEYS = ("dir", "path", "test_path")  # relative paths in a config file are relative to the file

TRAINING_KEYS = {
    "epochs": Key(REQUIRED, int, AT_LEAST_ONE),
    "batch_size": Key(REQUIRED, int, AT_LEAST_ONE),
    "shuffle": Key(True, bool),
    "drop_last": Key(False, bool),
}
MONITORS = ("val_loss", "val_accuracy", "loss", "accuracy")
OUTPUT_KEYS = {
    "dir": Key("runs", str),
    "keep": Key("last", str, choices=("last", "best")),
    "monitor": Key("val_loss", str, choices=MONITORS),
}
INIT_NAMES = tuple(sorted([*INITIALIZERS, *ALIASES]))
ACTIVATION_NAMES = tuple(name for name in ACTIVATIONS if name != "identity")  # "linear" is the one name
DENSE_KEYS = {
    "dense": Key(REQUIRED, int, AT_LEAST_ONE),
    "activation": Key("linear", str, choices=ACTIVATION_NAMES),
    "init": Key("he_normal", str, choices=INIT_NAMES),
    "bias": Key(True, bool),
}
LAYER_KINDS = ("dense", "dropout", "activation")

# -- losses and what the last layer must give them --------------------------------------------------
LOSS_NAMES = tuple(LOSSES)
LOSS_ALIASES = {"bce": "binary_crossentropy", "mean_squared_error": "mse", "cross_entropy": "categorical_crossentropy"}
LOGIT_LOSSES = {  # losses that take raw scores, and the activation they apply themselves
    "softmax_cross_entropy": "softmax", "binary_crossentropy": "sigmoid", "multiclass_hinge": None,
}

# -- sections whose keys are a class's arguments -----------------------------------------------------
CALLBACKS = {"early_stopping": EarlyStopping, "reduce_lr_on_plateau": ReduceLROnPlateau,
             "gradient_norms": GradientNorms}


def _kind_of(hint: Any) -> tuple[type, ...]:
    """The config types a parameter annotation accepts: ``float | None`` -> ``(float,)``."""
    args = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    return tuple(a for a in args if a in (int, float, bool, str))


def keys_from_signature(*functions: Callable[..., Any], skip: tuple[str, ...] = ()) -> dict[str, Key]:
    """A ``Key`` for each keyword argument of ``functions`` with a plain type (number, bool, string)."""
    keys: dict[str, Key] = {}
    for function in functions:
        hints = typing.get_type_hints(function)
        for name, param in inspect.signature(function).parameters.items():
            kind = _kind_of(hints.get(name))
            if name in skip or name in keys or not kind or param.kind is param.VAR_KEYWORD:
                continue
            default = REQUIRED if param.default is param.empty else param.default
            keys[name] = Key(default, kind[0] if len(kind) == 1 else kind)
    return keys


OPTIMIZER_KEYS = {name: keys_from_signature(cls.__init__, Optimizer.__init__) for name, cls in OPTIMIZERS.items()}
SCHEDULE_KEYS = {name: keys_from_signature(cls.__init__) | {"warmup": Key(0, int, NON_NEGATIVE)}
                 for name, cls in SCHEDULES.items()}
CALLBACK_KEYS = {name: keys_from_signature(cls.__init__) for name, cls in CALLBACKS.items()}


# -- reading and overriding ------------------------------------------------------------------------
MAX_CONFIG_BYTES = 1 << 20  # configs are a few kilobytes
MAX_YAML_VALUES = 100_000  # values a document may expand to through its aliases


class YAMLTooLargeError(yaml.YAMLError):
    """A YAML document that expands (through aliases) or nests beyond what a config can need."""


def _expanded_size(node: yaml.Node, sizes: dict[int, int], active: set[int]) -> int:
    """How many values ``node`` stands for once every alias in it is expanded; counted once per node, so
    in time linear in the document however far its aliases would expand."""
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in active:
        raise YAMLTooLargeError("an alias (*name) refers to the value that contains it")
    active.add(key)
    children = ([item for pair in node.value for item in pair] if isinstance(node, yaml.MappingNode)
                else node.value if isinstance(node, yaml.SequenceNode) else [])
    total = 1
    for child in children:
        total += _expanded_size(child, sizes, active)
        if total > MAX_YAML_VALUES:
            raise YAMLTooLargeError(f"its aliases (*name) expand it to more than {MAX_YAML_VALUES:,} values; "
                                    f"write the values out")
    active.discard(key)
    sizes[key] = total
    return total


class _BoundedLoader(yaml.SafeLoader):
    """``yaml.safe_load``'s loader, refusing a document whose aliases would expand it past ``MAX_YAML_VALUES``
    values (an "alias bomb" of a few hundred bytes can stand for billions) or make it contain itself."""

    def compose_document(self) -> yaml.Node:
        node = super().compose_document()
        _expanded_size(node, {}, set())
        return node


def safe_load(text: str) -> Any:
    """``yaml.safe_load`` within bounds: ``YAMLTooLargeError`` for alias bombs and absurd nesting."""
    try:
        return yaml.load(text, Loader=_BoundedLoader)  # a SafeLoader: no Python objects
    except RecursionError:
        raise YAMLTooLargeError("it is nested too deeply") from None


def load_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML config; relative data paths in it are made relative to the file's folder (and absolute),
    and the run ``name`` defaults to the file's stem (``configs/spirals.yaml`` -> ``spirals``)."""
    path = Path(path)
    if path.exists() and not path.is_file() and not path.is_dir():  # a device or a pipe: /dev/zero never ends
        raise ConfigError(f"{path} is not a regular file; give a YAML config file")
    try:
        if path.is_file() and path.stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path} is {path.stat().st_size:,} bytes, too large for a config "
                              f"(at most {MAX_CONFIG_BYTES:,})")
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except (IsADirectoryError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path} is not a readable YAML file ({err})") from None
    try:
        raw = safe_load(text)
    except YAMLTooLargeError as err:
        raise ConfigError(f"{path} is not a usable config: {err}") from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError(f"{where}: malformed YAML: {err.problem or err.context}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: malformed YAML: {err}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must hold a mapping of sections (data:, model:, ...), not a {type(raw).__name__}")
    raw.setdefault("name", re.sub(r"[^\w.-]+", "-", path.stem))  # "my run.yaml" -> "my-run"
    data = raw.get("data")
    if isinstance(data, dict):
        for key in PATH_KEYS:
            if isinstance(data.get(key), str):  # an absolute path stays as it is
                data[key] = os.path.abspath(path.parent / Path(data[key]).expanduser())
    return raw


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"optimizer.lr=0.05"`` -> ``(["optimizer", "lr"], 0.05)``; the value is read as YAML."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip() or any(not part for part in key.strip().split(".")):
        raise ConfigError(f"--set {quoted(text)}: expected KEY.PATH=VALUE, e.g. --set optimizer.lr=0.05")
    try:
        parsed = safe_load(value) if value.strip() else None
    except YAMLTooLargeError as err:
        raise ConfigError(f"--set {quoted(key)}: the value is not usable: {err}") from None
    except yaml.YAMLError:
        parsed = value  # an unquoted string YAML cannot read is meant as that string
    return key.strip().split("."), parsed


def apply_override(raw: dict[str, Any], text: str) -> None:
    """Apply one ``--set KEY.PATH=VALUE`` to ``raw`` (in place), as if it were written in the file."""
    path, value = parse_override(text)
    set_value(raw, path, value, f"--set {text}")


def set_value(raw: dict[str, Any], path: list[str], value: Any, label: str) -> None:
    """``raw[path[0]][path[1]]... = value``; ``label`` names the option in errors.

    Missing sections are created; a list (``model.layers.0.dense``) missing from ``raw`` is first
    copied from the default run, so its other entries keep their values.
    """
    node: Any = raw
    default: Any = DEFAULT_RUN
    for depth, part in enumerate(path[:-1]):
        where = ".".join(path[: depth + 1])
        default = _child(default, part)
        if isinstance(node, dict):
            if node.get(part) is None:  # a copy of the default list, a new section, or a value (an error below)
                node[part] = (copy.deepcopy(default) if isinstance(default, list)
                              else {} if default is None or isinstance(default, dict) else default)
            node[part] = _expand_shorthand(where, node[part])
            node = node[part]
        elif isinstance(node, list):
            node = node[_index(node, part, where, label)]
        if not isinstance(node, dict | list):
            raise ConfigError(f"{label}: {where} is a value, not a section; set it with --set {where}=...")
    last = path[-1]
    if isinstance(node, list):
        node[_index(node, last, ".".join(path), label)] = value
    else:
        node[last] = value


SHORTHANDS = {"data": "dataset", "optimizer": "name", "schedule": "name"}  # `optimizer: adam` is {name: adam}


def _expand_shorthand(where: str, value: Any) -> Any:
    """The section a shorthand stands for, so that ``--set`` can go below it: ``optimizer: adam`` is
    ``{name: adam}``, ``training.early_stopping: true`` is ``{}`` (every default)."""
    if where in SHORTHANDS and isinstance(value, str):
        return {SHORTHANDS[where]: value}
    if where in {f"training.{name}" for name in CALLBACKS} and value is True:
        return {}
    return value


def _child(node: Any, part: str) -> Any:
    if isinstance(node, dict):
        return node.get(part)
    if isinstance(node, list) and part.isdigit() and int(part) < len(node):
        return node[int(part)]
    return None


def _index(items: list[Any], part: str, where: str, label: str) -> int:
    if not part.isdigit() or int(part) >= len(items):
        parent = where.rpartition(".")[0]
        if not items:
            raise ConfigError(f"{label}: {parent} is an empty list; write the whole list, e.g. --set '{parent}=[...]'")
        raise ConfigError(f"{label}: {parent} is a list of {len(items)} entries; "
                          f"use an index from 0 to {len(items) - 1} (e.g. {parent}.0)")
    return int(part)


# -- validation ------------------------------------------------------------------------------------
def _type_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}
    return " or ".join(names[k] for k in kinds)


def _coerce(where: str, value: Any, key: Key) -> Any:
    """Check ``value`` against ``key``; numbers written as strings (YAML reads ``1e-3`` so) become floats."""
    if value is None and (key.default is None or key.nullable):
        return None
    kinds = key.kind if isinstance(key.kind, tuple) else (key.kind,)
    if float in kinds and isinstance(value, str) and is_number(value):
        value = float(value)
    ok = any(
        (isinstance(value, kind) and not (isinstance(value, bool) and kind is not bool))
        or (kind is float and isinstance(value, int) and not isinstance(value, bool))
        for kind in kinds
    )
    if not ok:
        raise ConfigError(f"{where} must be {_type_name(key.kind)}, got {quoted(value)}")
    if float in kinds and isinstance(value, int) and not isinstance(value, bool) and int not in kinds:
        value = float(value)
    if key.choices and value not in key.choices:
        raise ConfigError(f"{where}: unknown value {quoted(value)}{_suggest(value, key.choices)}; "
                          f"valid values: {', '.join(key.choices)}")
    if key.rule is not None and not key.rule.test(value):
        raise ConfigError(f"{where} must be {key.rule.text}, got {quoted(value)}")
    return value


def _suggest(word: Any, options: Any) -> str:
    if not isinstance(word, str) or len(word) > 100:  # nothing sensible is that long; difflib would be slow
        return ""
    close = difflib.get_close_matches(word, [str(o) for o in options], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _mapping(where: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a mapping (key: value, ...), got {quoted(value)}")
    return value


def _check_keys(where: str, given: dict[str, Any], allowed: Any, what: str = "") -> None:
    for name in given:
        if name not in allowed:
            raise ConfigError(f"unknown key {quoted(name)} in {where}{what}{_suggest(name, allowed)}; "
                              f"valid keys: {', '.join(allowed)}")


def _section(where: str, given: dict[str, Any], keys: dict[str, Key], what: str = "") -> dict[str, Any]:
    """Check ``given`` against ``keys`` and fill in the defaults."""
    _check_keys(where, given, keys, what)
    out = {}
    for name, key in keys.items():
        if name not in given and key.default is REQUIRED:
            raise ConfigError(f"{where}.{name} is required{what}")
        out[name] = _coerce(f"{where}.{name}", given.get(name, key.default), key)
    return out


def _named(where: str, given: Any, default: dict[str, Any] | None, options: Any) -> dict[str, Any]:
    """A section picked by its ``SHORTHANDS`` key (``optimizer: adam`` is short for ``{name: adam}``):
    merged over ``default`` when it names the same thing, on its own otherwise."""
    name_key = SHORTHANDS[where]
    given = _mapping(where, _expand_shorthand(where, given))
    default = default or {}
    name = given.get(name_key, default.get(name_key))
    if name is None:
        raise ConfigError(f"{where}.{name_key} is required; valid values: {', '.join(options)}")
    if name not in options:
        raise ConfigError(f"{where}.{name_key}: unknown value {quoted(name)}{_suggest(name, options)}; "
                          f"valid values: {', '.join(options)}")
    return (default if default.get(name_key) == name else {}) | given


def _build(where: str, build: Callable[..., Any], **kwargs: Any) -> Any:
    """Build an object to let its own checks judge the values; their ``ValueError`` names the key."""
    try:
        return build(**kwargs)
    except ValueError as err:
        raise ConfigError(f"{where}: {err}") from None


DEFAULT_TEST_SPLIT = 0.2


def _resolve_data(given: Any, default: dict[str, Any]) -> dict[str, Any]:
    """The data section, with its paths absolute (relative ones are relative to where ``mlp`` runs; a file's
    were made relative to the file when it was read), so that a run's stored config works from anywhere."""
    data = _named("data", given, default, tuple(DATA_KEYS))
    dataset = data["dataset"]
    keys = {"dataset": Key(REQUIRED, str), **DATA_KEYS[dataset], **COMMON_DATA_KEYS}
    values = _section("data", data, keys, f" (dataset {dataset})")
    for key in PATH_KEYS:
        if isinstance(values.get(key), str):
            values[key] = os.path.abspath(os.path.expanduser(values[key]))
    if "test_path" in values:
        if values["test_path"] is not None and values["test_split"] is not None:
            raise ConfigError("data.test_split and data.test_path are both given, but the test file is the test set "
                              "(nothing is split off); remove data.test_split")
        if values["test_path"] is None and values["test_split"] is None:
            values["test_split"] = DEFAULT_TEST_SPLIT
    return values


def _resolve_layer(where: str, spec: Any) -> dict[str, Any]:
    spec = _mapping(where, spec)
    kinds = [kind for kind in LAYER_KINDS if kind in spec]
    if not kinds:
        raise ConfigError(f"{where} needs one of {', '.join(LAYER_KINDS)}, e.g. {{dense: 128, activation: relu}}")
    if "dropout" in kinds and len(kinds) > 1:
        raise ConfigError(f"{where} mixes dropout with {kinds[0] if kinds[0] != 'dropout' else kinds[1]}; "
                          f"put the dropout in a layer entry of its own: {{dropout: {shorten(spec['dropout'])}}}")
    if kinds[0] == "dropout":
        layer = _section(where, spec, {"dropout": Key(REQUIRED, float)})
        _build(where, Dropout, p=layer["dropout"])
        return layer
    keys = DENSE_KEYS if kinds[0] == "dense" else {"activation": Key(REQUIRED, str, choices=ACTIVATION_NAMES)}
    activation = spec.get("activation")
    activation = "linear" if activation in ("identity", None) and kinds[0] == "dense" else activation
    known = isinstance(activation, str) and activation in ACTIVATIONS  # a list or mapping is not hashable
    alpha = keys_from_signature(ACTIVATIONS[activation].__init__) if known else {}
    layer = _section(where, {**spec, "activation": activation}, keys | alpha)
    if "alpha" in layer:
        _build(where, ACTIVATIONS[activation], alpha=layer["alpha"])
    return layer


def _resolve_model(given: Any, default: dict[str, Any]) -> dict[str, Any]:
    model = default | _mapping("model", given)
    _check_keys("model", model, ("layers", "dtype"))
    layers = model["layers"]
    if not isinstance(layers, list) or not layers:
        raise ConfigError("model.layers must be a non-empty list, e.g. [{dense: 128, activation: relu}, {dense: 10}]")
    resolved = [_resolve_layer(f"model.layers[{i}]", spec) for i, spec in enumerate(layers)]
    if not any("dense" in layer for layer in resolved):
        raise ConfigError("model.layers has no dense layer; add one, e.g. {dense: 10}")
    dtype = _coerce("model.dtype", model.get("dtype", "float32"), Key("float32", str, choices=("float32", "float64")))
    return {"layers": resolved, "dtype": dtype}


def _resolve_loss(given: Any, layers: list[dict[str, Any]]) -> str:
    options = (*LOSS_NAMES, *LOSS_ALIASES)
    if given == "hinge":
        raise ConfigError("loss hinge is ambiguous: Keras' hinge is binary (targets -1 or +1), mlp's is the multiclass "
                          "hinge of cs231n (Weston-Watkins); write `loss: multiclass_hinge`")
    name = _coerce("loss", given, Key(REQUIRED, str, choices=options))
    name = LOSS_ALIASES.get(name, name)
    last = next(layer.get("activation", "linear") for layer in reversed(layers) if "dropout" not in layer)
    if name == "categorical_crossentropy" and last != "softmax":
        raise ConfigError(f"loss categorical_crossentropy takes probabilities, but the last layer has "
                          f"`activation: {last}`, not softmax; add `activation: softmax` to the last layer, or use "
                          f"`loss: softmax_cross_entropy` (the same gradients, computed on logits)")
    if name in LOGIT_LOSSES and last != "linear":
        applies = LOGIT_LOSSES[name]
        hint = " or use `loss: categorical_crossentropy`" if last == "softmax" == applies else ""
        itself = f" and applies {applies} itself" if applies else ""
        raise ConfigError(f"loss {name} takes raw scores (logits){itself}, but the last layer has "
                          f"`activation: {last}`; remove it from the last layer{hint}")
    return name


def _resolve_optimizer(given: Any, default: dict[str, Any]) -> dict[str, Any]:
    optimizer = _named("optimizer", given, default, tuple(OPTIMIZERS))
    name = optimizer["name"]
    values = _section("optimizer", optimizer, {"name": Key(REQUIRED, str), **OPTIMIZER_KEYS[name]}, f" ({name})")
    _build("optimizer", OPTIMIZERS[name], **{k: v for k, v in values.items() if k != "name"})
    return values


def _resolve_schedule(given: Any, epochs: int) -> dict[str, Any] | None:
    if given is None:
        return None
    schedule = _named("schedule", given, None, tuple(SCHEDULES))
    name = schedule["name"]
    keys = SCHEDULE_KEYS[name]
    if name == "cosine":  # anneal over the whole run unless told otherwise
        keys = keys | {"epochs": Key(epochs, int)}
    values = _section("schedule", schedule, {"name": Key(REQUIRED, str), **keys}, f" ({name})")
    _build("schedule", SCHEDULES[name], **{k: v for k, v in values.items() if k not in ("name", "warmup")})
    return values


def _resolve_training(given: Any, default: dict[str, Any]) -> dict[str, Any]:
    training = default | _mapping("training", given)
    _check_keys("training", training, (*TRAINING_KEYS, *CALLBACKS))
    values = _section("training", {k: v for k, v in training.items() if k in TRAINING_KEYS}, TRAINING_KEYS)
    for name, cls in CALLBACKS.items():
        where, spec = f"training.{name}", training.get(name)
        spec = _expand_shorthand(where, spec)  # `early_stopping: true` takes every default
        off = spec is None or spec is False  # `early_stopping: 0` is not `false`: it fails as a non-mapping
        values[name] = None if off else _section(where, _mapping(where, spec), CALLBACK_KEYS[name])
        if values[name] is not None:
            _build(where, cls, **values[name])
    return values


def _check_monitors(config: dict[str, Any]) -> None:
    """Every monitored metric must exist: ``val_*`` needs a validation split, ``*accuracy`` classes."""
    watched = [(f"training.{name}.monitor", spec["monitor"])
               for name, spec in config["training"].items() if name in CALLBACKS and spec and "monitor" in spec]
    if config["output"]["keep"] == "best":
        watched.append(("output.monitor", config["output"]["monitor"]))
    for where, metric in watched:
        if metric.startswith("val_") and not config["data"]["validation_split"]:
            raise ConfigError(f"{where} is {metric}, but data.validation_split is 0 so there is no validation set; "
                              f"set data.validation_split (e.g. 0.2) or monitor {metric.removeprefix('val_')}")
        if metric not in MONITORS:
            raise ConfigError(f"{where}: unknown metric {quoted(metric)}{_suggest(metric, MONITORS)}; "
                              f"valid metrics: {', '.join(MONITORS)}")
        if metric.endswith("accuracy") and config["loss"] == "mse":
            raise ConfigError(f"{where} is {metric}, but loss mse has no accuracy; monitor a loss instead")


TOP_KEYS = ("name", "seed", "data", "model", "loss", "optimizer", "schedule", "training", "output")


def resolve(raw: dict[str, Any] | None = None) -> dict[str, Any]:
    """The complete, checked config: ``raw`` over ``DEFAULT_RUN``, every default filled in, names canonical.

    Raises ``ConfigError`` on the first problem found.
    """
    raw = _mapping("the config", {} if raw is None else raw)
    _check_keys("the config", raw, TOP_KEYS, " (top level)")
    merged = {key: raw.get(key, DEFAULT_RUN[key]) for key in TOP_KEYS}
    for key in ("data", "model", "optimizer", "training", "output"):  # an empty `data:` means the defaults
        if merged[key] is None:
            merged[key] = {}
    config: dict[str, Any] = {
        "name": _coerce("name", merged["name"], Key(REQUIRED, str, RUN_NAME)),
        "seed": _coerce("seed", merged["seed"], Key(REQUIRED, int, NON_NEGATIVE)),
        "data": _resolve_data(merged["data"], DEFAULT_RUN["data"]),
        "model": _resolve_model(merged["model"], DEFAULT_RUN["model"]),
    }
    config["loss"] = _resolve_loss(merged["loss"], config["model"]["layers"])
    config["optimizer"] = _resolve_optimizer(merged["optimizer"], DEFAULT_RUN["optimizer"])
    config["training"] = _resolve_training(merged["training"], DEFAULT_RUN["training"])
    config["schedule"] = _resolve_schedule(merged["schedule"], config["training"]["epochs"])
    config["output"] = _section("output", _mapping("output", merged["output"]), OUTPUT_KEYS)
    _check_monitors(config)
    return {key: config[key] for key in TOP_KEYS}


def upgrade_stored_config(config: dict[str, Any]) -> dict[str, Any]:
    """A config stored by an earlier ``mlp`` in today's terms: the loss ``hinge`` is now ``multiclass_hinge``,
    and a data section with a ``test_path`` has no ``test_split``."""
    config = copy.deepcopy(config)
    if config.get("loss") == "hinge":
        config["loss"] = "multiclass_hinge"
    data = config.get("data")
    if isinstance(data, dict) and data.get("test_path") is not None:
        data.pop("test_split", None)
    return config


def load(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """Read ``path`` (or start from the default run), apply ``--set`` overrides, and resolve."""
    raw = load_file(path) if path is not None else {}
    for text in overrides:
        apply_override(raw, text)
    return resolve(raw)


class _InlineMap(dict):  # type: ignore[type-arg]
    """A mapping written on one line, ``{dense: 512, activation: relu}``: one layer per line reads best."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(
    _InlineMap, lambda dumper, data: dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=True)
)


def to_yaml(config: dict[str, Any]) -> str:
    """A resolved config as YAML: sections in schema order, one line per layer."""
    config = copy.deepcopy(config)
    config["model"]["layers"] = [_InlineMap(layer) for layer in config["model"]["layers"]]
    return yaml.dump(config, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=100)
