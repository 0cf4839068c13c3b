"""Run configs: the YAML schema, its defaults, ``--set`` overrides, and validation into a ``RunSpec``.

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
    output: {dir: runs, keep: last, monitor: val_loss,   # dir: beside the file, as its data paths
             loggers: [], tensorboard: {dir: null, histogram_every: 1}, mlflow: {tracking_uri: null, experiment: null}}

Every name comes from a registry (``mlp.registry``): layers and activations (``mlp.nn.layer.LAYERS``),
initializers, losses, optimizers, schedules, callbacks and datasets each have one, defined next to what
it names. The keys of a named thing are its constructor's arguments (``mlp.settings``); the run-level keys
are declared here as ``Key``s. Values are checked once: each named thing is built from its section, its own
checks judge the values, and the objects built are the ones the run uses (``RunSpec``). Every problem is a
``ConfigError`` of one line naming the key, the value and the fix.
"""

from __future__ import annotations

import copy
import difflib
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import yaml
from numpy.typing import DTypeLike

import mlp.data

# These three fill the registries the config is checked against: CALLBACKS (early stopping, reduce-on-plateau
# and gradient norms) and DATASETS.
import mlp.train.callbacks
import mlp.train.callbacks.gradient_norms  # noqa: F401
from mlp.data.augment import Augment
from mlp.data.dataset import DATASETS
from mlp.data.mnist import IMAGE_SHAPES
from mlp.files.atomic import atomic_write, write_text
from mlp.files.reading import check_regular_file
from mlp.files.yamlfile import YAMLTooLargeError, safe_load
from mlp.messages import quoted, shorten
from mlp.nn.activations import Activation, activation_names
from mlp.nn.dense import Dense
from mlp.nn.dropout import Dropout
from mlp.nn.init import INITIALIZERS
from mlp.nn.layer import LAYERS, Layer
from mlp.nn.losses import LOSSES, Loss
from mlp.nn.optim import OPTIMIZERS, Optimizer
from mlp.nn.sample_weights import check_class_weight
from mlp.settings import (
    AT_LEAST_ONE,
    FRACTION,
    NON_NEGATIVE,
    POWER_OF_TWO,
    REQUIRED,
    RUN_NAME,
    Key,
    Rule,
    is_number,
    keys_from_signature,
)
from mlp.train.adversarial import Adversarial
from mlp.train.callbacks.callback import CALLBACKS, Callback
from mlp.train.loop import fit
from mlp.train.metrics import METRICS, check_metrics
from mlp.train.schedules import SCHEDULES, Schedule, Warmup

T = TypeVar("T")


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
TOP_KEYS = ("name", "seed", "data", "model", "loss", "optimizer", "schedule", "training", "output")

# -- the run-level keys; the others come from what the registries name -----------------------------
COMMON_DATA_KEYS = {  # every dataset's, after its own (``DatasetSource.keys``)
    "validation_split": Key(0.2, float, FRACTION),
    "normalize": Key("none", str, choices=("none", "standardize")),
    "limit": Key(None, int, AT_LEAST_ONE),
    # the pictures' [height, width], for augmentation and pictures of the weights (MNIST's and Fashion-MNIST's known)
    "image_shape": Key(None, list, Rule(lambda v: len(v) == 2 and all(isinstance(n, int) and not isinstance(n, bool)
                                                                      and n >= 2 for n in v),
                                        "[height, width], two integers >= 2")),
    "augment": Key(None, dict),  # checked by _resolve_augment: AUGMENT_KEYS
}
# data.augment: the random transforms of the training pictures (mlp.data.augment.Augment)
AUGMENT_KEYS = {"translate": Key(0.0, float), "rotate": Key(0.0, float), "scale": Key(0.0, float),
                "shear": Key(0.0, float), "elastic": Key(None, dict)}
ELASTIC_KEYS = {"alpha": Key(REQUIRED, float), "sigma": Key(4.0, float)}
# ``training:`` holds the arguments of ``fit`` that are not given elsewhere (data, seed, schedule...) or by the
# run itself (callbacks, verbose, resume), and the callbacks a config can switch on (``CALLBACKS``).
NOT_TRAINING_KEYS = ("validation_split", "validation_data", "seed", "callbacks", "schedule", "verbose", "resume",
                     "flush_denormals")
TRAINING_KEYS = keys_from_signature(fit, skip=NOT_TRAINING_KEYS, rules={"epochs": AT_LEAST_ONE,
                                                                           "batch_size": AT_LEAST_ONE,
                                                                           "micro_batches": POWER_OF_TWO})
# a name or a mapping, which a signature's plain types cannot say; its keys are class names, as the data has them


def _is_class_weight(value: Any) -> bool:
    try:
        check_class_weight(value)
    except ValueError:
        return False
    return True


TRAINING_KEYS["class_weight"] = Key(None, (str, dict),
                                    Rule(_is_class_weight, "balanced or a mapping {class: weight >= 0}"))
# metrics recorded per epoch (mlp.train.metrics.METRICS): a list, which a signature's plain types cannot say either
TRAINING_KEYS["metrics"] = Key([], list)
# training.adversarial: the settings of adversarial training (mlp.train.adversarial), checked by _resolve_training
TRAINING_KEYS["adversarial"] = Key(None, dict)
ADVERSARIAL_KEYS = keys_from_signature(Adversarial)
MONITORS = ("val_loss", "val_accuracy", "loss", "accuracy")  # and the training.metrics, with and without val_
OUTPUT_KEYS = {
    "dir": Key("runs", str, is_path=True),
    "keep": Key("last", str, choices=("last", "best")),
    "monitor": Key("val_loss", str),  # checked by _check_monitors: MONITORS and the run's training.metrics
}
# ``output.loggers`` names the loggers (``mlp.loggers``) a run adds; each has its own section of settings
LOGGERS = ("tensorboard", "mlflow")
LOGGER_KEYS = {
    # dir: RUN_DIR/tensorboard when null
    "tensorboard": {"dir": Key(None, str, is_path=True), "histogram_every": Key(1, int, NON_NEGATIVE)},
    # tracking_uri: MLFLOW_TRACKING_URI, else sqlite:///<output.dir>/mlflow.db; experiment: the config's name
    "mlflow": {"tracking_uri": Key(None, str), "experiment": Key(None, str)},
}
LAYER_KINDS = ("dense", "dropout", "activation")
DTYPES = ("float32", "float64")
WARMUP = Key(0, int, NON_NEGATIVE)  # any schedule's: linear warm-up epochs before it (``mlp.train.schedules.Warmup``)


def _dense_keys() -> dict[str, Key]:
    return {
        "dense": Key(REQUIRED, int, AT_LEAST_ONE),
        "activation": Key("linear", str, choices=tuple(activation_names())),
        "init": Key("he_normal", str, choices=tuple(sorted(INITIALIZERS.choices()))),
        "bias": Key(True, bool),
    }


def _path_keys() -> dict[str, set[str]]:
    """The keys that hold paths, by section: the data's files and folders (``data.path``, ``data.dir``...) and
    ``output.dir``. Relative ones in a config file are relative to the file's folder (``load_file``)."""
    return {"data": {name for _, source in DATASETS.items() for name, key in source.keys.items() if key.is_path},
            "output": {name for name, key in OUTPUT_KEYS.items() if key.is_path},
            **{f"output.{logger}": {name for name, key in keys.items() if key.is_path}
               for logger, keys in LOGGER_KEYS.items()}}


@dataclass
class RunSpec:
    """A checked config and what checking it built: the objects a run uses.

    ``config`` is the complete config (every default filled in, names canonical) that ``mlp config show``
    prints and a run directory keeps. The objects are the ones the run uses: the loss, the optimizer, the
    schedule (``None``, or wrapped in a ``Warmup``) and the configured callbacks. The network needs the data's
    width: ``layers`` builds it. A ``RunSpec`` builds one run.
    """

    config: dict[str, Any]
    loss: Loss
    optimizer: Optimizer
    schedule: Schedule | None
    callbacks: list[Callback]

    def layers(self, num_features: int, dtype: DTypeLike | None = None) -> list[Layer]:
        """The network's layers, in order, for data of ``num_features`` features: for each entry of
        ``model.layers`` a ``Dense`` (fresh weights, in ``dtype`` or the config's) and its activation, a
        ``Dropout``, or an activation (``entry_layers``)."""
        dtype = np.dtype(dtype if dtype is not None else self.config["model"]["dtype"])
        layers: list[Layer] = []
        width = num_features
        for entry in self.config["model"]["layers"]:
            layers += entry_layers(entry, width, dtype)
            width = entry.get("dense", width)
        return layers


def entry_layers(entry: dict[str, Any], width: int | None, dtype: DTypeLike = np.float32) -> list[Layer]:
    """The layers one resolved entry of ``model.layers`` stands for, for inputs of ``width`` features: a
    ``Dense`` layer followed by its activation (none for ``linear``), a ``Dropout``, or an activation. With
    ``width=None`` the ``Dense`` layer is left out: checking a config builds the rest before the data is known
    (their constructors judge the values)."""
    layers: list[Layer] = []
    if "dense" in entry and width is not None:
        layers.append(Dense(width, entry["dense"], init=entry["init"], bias=entry["bias"], dtype=dtype))
    if "dropout" in entry:
        layers.append(Dropout(p=entry["dropout"]))
    elif not ("dense" in entry and entry["activation"] == "linear"):  # a linear dense layer's output is the output
        activation = LAYERS.get(entry["activation"])
        layers.append(activation(**{name: entry[name] for name in _activation_keys(activation)}))
    return layers


def _activation_keys(activation: type[Layer]) -> dict[str, Key]:
    """The keys an activation takes in a layer entry: its constructor's arguments (``alpha`` of ``leaky_relu``)."""
    return keys_from_signature(activation.__init__)


# -- recipes, reading and overriding -------------------------------------------------------------------
MAX_CONFIG_BYTES = 1 << 20  # configs are a few kilobytes


def recipes() -> dict[str, Path]:
    """The recipes shipped with ``mlp`` (package data ``mlp.configs``), by name: ``{"spirals": .../spirals.yaml}``."""
    folder = Path(str(resources.files("mlp.configs")))
    return {path.stem: path for path in sorted(folder.glob("*.yaml"))}


def recipe_summary(path: Path) -> str:
    """What a recipe is, in a line: the first line of its opening comment (every recipe starts with one)."""
    first = path.read_text().splitlines()[0]
    return first.removeprefix("#").strip() if first.startswith("#") else ""


def init_recipe(name: str, dest: Path) -> list[Path]:
    """Write the recipe ``name`` to ``dest`` as a starting file (its comments kept), and copy beside it the
    data files it names by relative paths (``csv_example``'s ``data/iris.csv``); the files written."""
    if name not in recipes():
        raise ConfigError(f"unknown recipe {quoted(name)}{_suggest(name, recipes())}; recipes: {', '.join(recipes())}"
                          f" (`mlp config list` says what each is)")
    if dest.exists():
        raise ConfigError(f"{dest} exists; give another --out, or remove it first")
    source = recipes()[name]
    written = []
    data = safe_load(source.read_text()).get("data")
    for key in _path_keys()["data"] & set(data if isinstance(data, dict) else ()):
        if isinstance(data[key], str) and not Path(data[key]).is_absolute():
            target = dest.parent / data[key]
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                atomic_write(target, lambda f, path=source.parent / data[key]: f.write(path.read_bytes()))
                written.append(target)
    header = (f"# Written by `mlp config init {name}`. Every setting it leaves out takes its default: "
              f"`mlp config show {dest}` prints them all.\n#   mlp train {dest}\n")
    write_text(dest, header + source.read_text())
    return [dest, *written]


def find_config(name: str | Path) -> Path:
    """The config file ``name`` is: a path to a file, or the name of a shipped recipe (``spirals``)."""
    path = Path(name)
    if path.exists() or path.suffix in (".yaml", ".yml") or str(name) not in recipes():
        return path  # a file (load_file says what is wrong with it, or that there is none)
    return recipes()[str(name)]


def load_config(name: str | Path) -> dict[str, Any]:
    """The raw config ``name`` names (``find_config``): a file's, or a shipped recipe's (``load_file``)."""
    path = find_config(name)
    return load_file(path, recipe=path != Path(name))


def read_yaml_file(path: Path, what: str = "config", missing: str = "") -> Any:
    """The YAML value in the file ``path``, read within bounds (a regular file of at most ``MAX_CONFIG_BYTES``,
    ``mlp.files.yamlfile``'s limits on aliases and depth); every problem is one ``ConfigError`` naming the file.
    ``what`` names the kind of file; ``missing`` is added to the error for a file that does not exist."""
    check_regular_file(path, f"a YAML {what} file", ConfigError)
    try:
        if path.is_file() and path.stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path} is {path.stat().st_size:,} bytes, too large for a {what} "
                              f"(at most {MAX_CONFIG_BYTES:,})")
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such {what} file{missing}") from None
    except (IsADirectoryError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path} is not a readable YAML file ({err})") from None
    try:
        return safe_load(text)
    except YAMLTooLargeError as err:
        raise ConfigError(f"{path} is not a usable {what}: {err}") from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError(f"{where}: malformed YAML: {err.problem or err.context}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: malformed YAML: {err}") from None


def load_file(path: str | Path, recipe: bool = False) -> dict[str, Any]:
    """Read a YAML config; relative paths in it (``_path_keys``) are made relative to the file's folder (and
    absolute), and the run ``name`` defaults to the file's stem (``my_run.yaml`` -> ``my_run``).

    A ``recipe`` (shipped with ``mlp``, named rather than given as a file) is read the same way except for its
    ``output.dir``: its data files are shipped beside it, but its runs go where ``mlp`` runs (``./runs``), not
    into the installed package."""
    path = Path(path)
    raw = read_yaml_file(path, missing="" if path.suffix else f" or recipe (recipes: {', '.join(recipes())})")
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must hold a mapping of sections (data:, model:, ...), not a {type(raw).__name__}")
    raw.setdefault("name", re.sub(r"[^\w.-]+", "-", path.stem))  # "my run.yaml" -> "my-run"
    for section, values, key in _path_values(raw):
        if not (recipe and section.startswith("output")):  # an absolute path stays as it is
            values[key] = os.path.abspath(path.parent / Path(values[key]).expanduser())
    return raw


def _path_values(config: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], str]]:
    """``(section, the section's mapping, key)`` for every path key (``_path_keys``) that ``config`` gives a string."""
    for section, keys in _path_keys().items():
        values: Any = config
        for part in section.split("."):  # output.tensorboard: a section in a section
            values = values.get(part) if isinstance(values, dict) else None
        for key in keys if isinstance(values, dict) else ():
            if isinstance(values.get(key), str):
                yield section, values, key


def with_absolute_outputs(config: dict[str, Any]) -> dict[str, Any]:
    """A copy of the resolved ``config`` with its output paths (``output.dir``, a logger's ``dir``) absolute, from
    where ``mlp`` runs, as its data paths are: what a run stores in its config.yaml, so that ``mlp train
    RUN_DIR/config.yaml`` puts the new run beside the first, not inside it (``load_file`` reads a relative path
    relative to the file's folder)."""
    config = copy.deepcopy(config)
    for section, values, key in _path_values(config):
        if section.startswith("output"):
            values[key] = os.path.abspath(os.path.expanduser(values[key]))
    return config


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"optimizer.lr=0.05"`` -> ``(["optimizer", "lr"], 0.05)``; the value is read as YAML."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip() or any(not part for part in key.strip().split(".")):
        raise ConfigError(f"--set {quoted(text)}: expected KEY.PATH=VALUE, e.g. --set optimizer.lr=0.05")
    try:
        parsed = safe_load(value) if value.strip() else None
    except YAMLTooLargeError as err:
        raise ConfigError(f"--set {quoted(key)}: the value is not usable: {err}") from None
    except yaml.YAMLError as err:
        given = value.strip()
        if given[:1] in ("{", "[") and (":" in given or "," in given):  # meant as a mapping or a list: say why not
            problem = getattr(err, "problem", None) or str(err).splitlines()[0]
            raise ConfigError(f"--set {quoted(key.strip())}: the value {quoted(value)} is not valid YAML ({problem})") \
                from None
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
    if where.startswith("training.") and where.removeprefix("training.") in CALLBACKS and value is True:
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
    names = {int: "an integer", float: "a number", bool: "true or false", str: "a string", dict: "a mapping",
             list: "a list"}
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


def _build(where: str, build: Callable[..., T], **kwargs: Any) -> T:
    """Build the object a section describes: its own checks judge the values (their ``ValueError`` names the
    key), and the object is what the run uses (``RunSpec``)."""
    try:
        return build(**kwargs)
    except ValueError as err:
        raise ConfigError(f"{where}: {err}") from None


def _resolve_data(given: Any, default: dict[str, Any]) -> dict[str, Any]:
    """The data section, with its paths absolute (relative ones are relative to where ``mlp`` runs; a file's
    were made relative to the file when it was read), so that a run's stored config works from anywhere."""
    data = _named("data", given, default, DATASETS.names())
    dataset = data["dataset"]
    source = DATASETS.get(dataset)
    keys = {"dataset": Key(REQUIRED, str), **source.keys, **COMMON_DATA_KEYS}
    values = _section("data", data, keys, f" (dataset {dataset})")
    for name in _path_keys()["data"] & values.keys():
        if isinstance(values[name], str):
            values[name] = os.path.abspath(os.path.expanduser(values[name]))
    if source.check is not None:
        try:
            source.check(values)
        except ValueError as err:
            raise ConfigError(str(err)) from None
    if values["augment"] is not None:
        values["augment"] = _resolve_augment(values)
    return values


def image_shape(data: dict[str, Any]) -> tuple[int, int] | None:
    """The ``(height, width)`` of the pictures a resolved ``data:`` section's rows are (``data.image_shape``, or
    MNIST's and Fashion-MNIST's), ``None`` for data that are not pictures."""
    given = data.get("image_shape")
    return (int(given[0]), int(given[1])) if given is not None else IMAGE_SHAPES.get(data["dataset"])


def _resolve_augment(data: dict[str, Any]) -> dict[str, Any]:
    """``data.augment`` checked (``AUGMENT_KEYS``, and ``Augment``'s own bounds) and filled in."""
    values = _section("data.augment", data["augment"], AUGMENT_KEYS)
    if values["elastic"] is not None:
        values["elastic"] = _section("data.augment.elastic", values["elastic"], ELASTIC_KEYS)
    shape = image_shape(data)
    if shape is None:
        raise ConfigError(f"data.augment transforms pictures, but the rows of dataset {data['dataset']} are not known "
                          f"to be pictures; set data.image_shape: [height, width]")
    _build("data.augment", augmentation, data={**data, "augment": values})
    return values


def augmentation(data: dict[str, Any]) -> Augment | None:
    """The ``Augment`` a resolved ``data:`` section asks for, or ``None``."""
    values = data.get("augment")
    if values is None:
        return None
    elastic = values["elastic"] or {"alpha": 0.0, "sigma": ELASTIC_KEYS["sigma"].default}
    return Augment(image_shape(data), translate=values["translate"], rotate=values["rotate"], scale=values["scale"],
                   shear=values["shear"], elastic_alpha=elastic["alpha"], elastic_sigma=elastic["sigma"])


def resolve_data(given: Any) -> dict[str, Any]:
    """A ``data:`` section on its own, resolved as in a config (``mlp evaluate --data`` names other data)."""
    return _resolve_data(given, DEFAULT_RUN["data"])


def _resolve_layer(where: str, spec: Any) -> dict[str, Any]:
    """One entry of ``model.layers``, checked: its keys, and the values by building what it stands for."""
    spec = _mapping(where, spec)
    kinds = [kind for kind in LAYER_KINDS if kind in spec]
    if not kinds:
        raise ConfigError(f"{where} needs one of {', '.join(LAYER_KINDS)}, e.g. {{dense: 128, activation: relu}}")
    if "dropout" in kinds and len(kinds) > 1:
        raise ConfigError(f"{where} mixes dropout with {kinds[0] if kinds[0] != 'dropout' else kinds[1]}; "
                          f"put the dropout in a layer entry of its own: {{dropout: {shorten(spec['dropout'])}}}")
    if kinds[0] == "dropout":
        layer = _section(where, spec, {"dropout": Key(REQUIRED, float)})
    else:
        names = tuple(activation_names())
        keys = _dense_keys() if kinds[0] == "dense" else {"activation": Key(REQUIRED, str, choices=names)}
        activation = spec.get("activation", "linear" if kinds[0] == "dense" else None)
        if isinstance(activation, str) and activation in LAYERS and issubclass(LAYERS.get(activation), Activation):
            activation = LAYERS.canonical(activation)  # "identity" is "linear"
        known = isinstance(activation, str) and activation in names
        arguments = _activation_keys(LAYERS.get(activation)) if known else {}
        layer = _section(where, {**spec, "activation": activation}, keys | arguments)
    _build(where, entry_layers, entry=layer, width=None)
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
    dtype = _coerce("model.dtype", model.get("dtype", "float32"), Key("float32", str, choices=DTYPES))
    return {"layers": resolved, "dtype": dtype}


def _resolve_loss(given: Any, layers: list[dict[str, Any]]) -> tuple[str, Loss]:
    """The loss's canonical name and the loss, which must fit the last layer: what it takes (``Loss.takes``)."""
    if given == "hinge":
        raise ConfigError("loss hinge is ambiguous: Keras' hinge is binary (targets -1 or +1), mlp's is the multiclass "
                          "hinge of cs231n (Weston-Watkins); write `loss: multiclass_hinge`")
    name = LOSSES.canonical(_coerce("loss", given, Key(REQUIRED, str, choices=tuple(LOSSES.choices()))))
    loss = LOSSES.get(name)
    last = next(layer.get("activation", "linear") for layer in reversed(layers) if "dropout" not in layer)
    if loss.takes == "probabilities" and last != "softmax":
        on_logits = next(other for other, cls in LOSSES.items() if cls.takes == "scores" and cls.applies == "softmax")
        raise ConfigError(f"loss {name} takes probabilities, but the last layer has `activation: {last}`, not softmax; "
                          f"add `activation: softmax` to the last layer, or use `loss: {on_logits}` (the same "
                          f"gradients, computed on logits)")
    if loss.takes == "scores" and last != "linear":
        after = next((other for other, cls in LOSSES.items() if cls.takes == "probabilities"), None)
        hint = f" or use `loss: {after}`" if last == "softmax" == loss.applies and after else ""
        itself = f" and applies {loss.applies} itself" if loss.applies else ""
        raise ConfigError(f"loss {name} takes raw scores (logits){itself}, but the last layer has "
                          f"`activation: {last}`; remove it from the last layer{hint}")
    return name, loss()


def _resolve_optimizer(given: Any, default: dict[str, Any]) -> tuple[dict[str, Any], Optimizer]:
    optimizer = _named("optimizer", given, default, OPTIMIZERS.names())
    name = optimizer["name"]
    cls = OPTIMIZERS.get(name)
    keys = keys_from_signature(cls.__init__, Optimizer.__init__)
    values = _section("optimizer", optimizer, {"name": Key(REQUIRED, str), **keys}, f" ({name})")
    return values, _build("optimizer", cls, **{k: v for k, v in values.items() if k != "name"})


def _resolve_schedule(given: Any, epochs: int) -> tuple[dict[str, Any] | None, Schedule | None]:
    if given is None:
        return None, None
    schedule = _named("schedule", given, None, SCHEDULES.names())
    name = schedule["name"]
    cls = SCHEDULES.get(name)
    keys = keys_from_signature(cls.__init__)
    if "epochs" in keys and keys["epochs"].default is REQUIRED:  # a schedule over epochs spans the whole run
        keys["epochs"] = Key(epochs, int)
    values = _section("schedule", schedule, {"name": Key(REQUIRED, str), **keys, "warmup": WARMUP}, f" ({name})")
    built = _build("schedule", cls, **{k: v for k, v in values.items() if k not in ("name", "warmup")})
    return values, Warmup(values["warmup"], after=built) if values["warmup"] else built


def _resolve_training(given: Any, default: dict[str, Any]) -> tuple[dict[str, Any], list[Callback]]:
    training = default | _mapping("training", given)
    _check_keys("training", training, (*TRAINING_KEYS, *CALLBACKS))
    values = _section("training", {k: v for k, v in training.items() if k in TRAINING_KEYS}, TRAINING_KEYS)
    try:
        values["metrics"] = check_metrics(values["metrics"])  # a copy, with canonical names
    except ValueError as err:
        raise ConfigError(f"training.metrics: {err}") from None
    if values["adversarial"] is not None:
        values["adversarial"] = _section("training.adversarial", values["adversarial"], ADVERSARIAL_KEYS)
        _build("training.adversarial", adversarial_training, training=values)
    callbacks = []
    for name, cls in CALLBACKS.items():
        where, spec = f"training.{name}", training.get(name)
        spec = _expand_shorthand(where, spec)  # `early_stopping: true` takes every default
        off = spec is None or spec is False  # `early_stopping: 0` is not `false`: it fails as a non-mapping
        values[name] = None if off else _section(where, _mapping(where, spec), keys_from_signature(cls.__init__))
        if values[name] is not None:
            callbacks.append(_build(where, cls, **values[name]))
    return values, callbacks


def adversarial_training(training: dict[str, Any]) -> Adversarial | None:
    """The ``Adversarial`` a resolved ``training:`` section asks for, or ``None``."""
    values = training.get("adversarial")
    return Adversarial(**values) if values is not None else None


def monitors(config: dict[str, Any]) -> tuple[str, ...]:
    """What a resolved config's run records per epoch and can monitor: ``MONITORS`` and its ``training.metrics``
    on the training and the validation rows."""
    recorded = config["training"]["metrics"]
    return (*MONITORS, *(f"val_{name}" for name in recorded), *recorded)


def _resolve_output(given: dict[str, Any]) -> dict[str, Any]:
    """The ``output:`` section: its own keys, ``loggers`` (a list of ``LOGGERS``) and each logger's settings."""
    _check_keys("output", given, [*OUTPUT_KEYS, "loggers", *LOGGERS])
    output = _section("output", {k: v for k, v in given.items() if k in OUTPUT_KEYS}, OUTPUT_KEYS)
    loggers = given.get("loggers") or []
    if isinstance(loggers, str):  # `loggers: mlflow` is one logger
        loggers = [loggers]
    if not isinstance(loggers, list):
        raise ConfigError(f"output.loggers must be a list of loggers (e.g. [tensorboard, mlflow]), got "
                          f"{quoted(loggers)}")
    for name in loggers:
        if name not in LOGGERS:
            raise ConfigError(f"output.loggers: unknown logger {quoted(name)}{_suggest(name, LOGGERS)}; "
                              f"valid loggers: {', '.join(LOGGERS)}")
    output["loggers"] = list(dict.fromkeys(loggers))
    for name in LOGGERS:
        settings = given.get(name)
        output[name] = _section(f"output.{name}", _mapping(f"output.{name}", {} if settings is None else settings),
                                LOGGER_KEYS[name])
    return output


def _check_monitors(config: dict[str, Any]) -> None:
    """Every monitored metric must exist: ``val_*`` needs a validation split, ``*accuracy`` classes, a metric of
    ``METRICS`` its name in ``training.metrics``."""
    watched = [(f"training.{name}.monitor", spec["monitor"])
               for name, spec in config["training"].items() if name in CALLBACKS and spec and "monitor" in spec]
    watched.append(("output.monitor", config["output"]["monitor"]))
    valid = monitors(config)
    for where, metric in watched:
        if metric.removeprefix("val_") in METRICS and metric not in valid:
            raise ConfigError(f"{where} is {metric}, but the run does not record it; add it to training.metrics, "
                              f"e.g. training.metrics: [{metric.removeprefix('val_')}]")
        if metric not in valid:
            raise ConfigError(f"{where}: unknown metric {quoted(metric)}{_suggest(metric, valid)}; "
                              f"valid metrics: {', '.join(valid)}")
        if where == "output.monitor" and config["output"]["keep"] != "best":
            continue  # output.monitor only matters when the best model is kept
        if metric.startswith("val_") and not config["data"]["validation_split"]:
            raise ConfigError(f"{where} is {metric}, but data.validation_split is 0 so there is no validation set; "
                              f"set data.validation_split (e.g. 0.2) or monitor {metric.removeprefix('val_')}")
        if metric.endswith("accuracy") and not LOSSES.get(config["loss"]).classification:
            raise ConfigError(f"{where} is {metric}, but loss {config['loss']} has no accuracy; monitor a loss instead")


MAX_NAME = 100  # characters of a run's name


def resolve_spec(raw: dict[str, Any] | None = None) -> RunSpec:
    """Check ``raw`` over ``DEFAULT_RUN``, fill in every default, make names canonical, and build what the
    config names: the ``RunSpec`` a run is built from. Raises ``ConfigError`` on the first problem found."""
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
    }
    config["model"] = _resolve_model(merged["model"], DEFAULT_RUN["model"])
    config["loss"], loss = _resolve_loss(merged["loss"], config["model"]["layers"])
    config["optimizer"], optimizer = _resolve_optimizer(merged["optimizer"], DEFAULT_RUN["optimizer"])
    config["training"], callbacks = _resolve_training(merged["training"], DEFAULT_RUN["training"])
    if config["training"]["metrics"] and not loss.classification:
        raise ConfigError(f"training.metrics {', '.join(config['training']['metrics'])} need classes, but loss "
                          f"{config['loss']} has none; remove them")
    if config["training"]["class_weight"] is not None and not loss.classification:
        raise ConfigError(f"training.class_weight applies to classification losses, not to {config['loss']}; "
                          f"remove it, or weigh rows with data.weight")
    config["schedule"], schedule = _resolve_schedule(merged["schedule"], config["training"]["epochs"])
    config["output"] = _resolve_output(_mapping("output", merged["output"]))
    _check_monitors(config)
    if len(config["name"]) > MAX_NAME:  # the run directory <name>-<timestamp> must fit a file name's 255 bytes
        raise ConfigError(f"name is {len(config['name']):,} characters long ({quoted(config['name'])}); "
                          f"give at most {MAX_NAME}")
    return RunSpec({key: config[key] for key in TOP_KEYS}, loss, optimizer, schedule, callbacks)


def resolve(raw: dict[str, Any] | None = None) -> dict[str, Any]:
    """The complete, checked config: ``raw`` over ``DEFAULT_RUN``, every default filled in, names canonical
    (``resolve_spec(raw).config``). Raises ``ConfigError`` on the first problem found."""
    return resolve_spec(raw).config


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


Option = tuple[str, list[str], Any]  # a command-line option that sets a key: ("--epochs", ["training", "epochs"], 30)


def read(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = (),
         options: list[Option] | tuple[Option, ...] = (), base: dict[str, Any] | None = None) -> dict[str, Any]:
    """The raw config of a command: ``base`` (a stored run's config), the file or recipe ``path``
    (``find_config``), or the default run; then the ``--set`` overrides; then the ``options`` given (those
    whose value is not ``None``), each named as the user wrote it in errors."""
    raw = copy.deepcopy(base) if base is not None else load_config(path) if path is not None else {}
    for text in overrides:
        apply_override(raw, text)
    for option, keys, value in options:
        if value is not None:
            set_value(raw, keys, value, option)
    return raw


def load(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """Read ``path`` (or start from the default run), apply ``--set`` overrides, and resolve."""
    return resolve(read(path, overrides))
