"""The model file's format as far as a network needs it: writing a network's arrays and metadata with their
checksum, and reading them back, checked, into a ``Sequential`` (``Sequential.save`` and ``Sequential.load``).

``mlp.train.checkpoint`` adds the training state (optimizer, history, position, callbacks) to the same file; the
format, its checks and the ``CheckpointError`` it raises are described there.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mlp.files.npzfile import read_npz
from mlp.messages import shorten
from mlp.nn.layer import LAYERS
from mlp.nn.optim import OPTIMIZERS
from mlp.registry import Registry, UnknownNameError

if TYPE_CHECKING:
    from mlp.nn.sequential import Sequential

FORMAT = "mlp-checkpoint"
VERSION = 2
META = "__meta__"


class CheckpointError(ValueError):
    """A model file cannot be read, or does not fit the model it is loaded into."""


def generator_states(model: Sequential) -> dict[str, Any]:
    """The state of each random layer's generator (a dropout's), by layer index."""
    return {str(i): layer.rng.bit_generator.state for i, layer in enumerate(model)
            if isinstance(getattr(layer, "rng", None), np.random.Generator)}


def digest(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 of the metadata (without its own digest) and of every array's name, dtype, shape and bytes."""
    sha = hashlib.sha256(json.dumps({k: v for k, v in meta.items() if k != "sha256"}, sort_keys=True).encode())
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        sha.update(f"\n{name} {array.dtype.str} {array.shape}\n".encode())
        sha.update(array.tobytes())
    return sha.hexdigest()


def encode(model: Sequential, arrays: dict[str, np.ndarray] | None = None, **entries: Any) -> dict[str, np.ndarray]:
    """The arrays a model file holds: ``param/<key>`` for each of ``model.params``, the training state's
    ``arrays``, and the metadata (``__meta__``, JSON): the format, the architecture, the random layers' generator
    states, the training state's ``entries`` (none for a bare network) and the checksum of all of it."""
    arrays = {f"param/{key}": value for key, value in model.params.items()} | (arrays or {})
    meta = {"format": FORMAT, "version": VERSION, "model": model.get_config(), "optimizer": None, "epoch": None,
            "history": None, "position": None, "rng": {"layers": generator_states(model)}, "callbacks": {},
            "extra": {}} | entries
    meta["sha256"] = digest(meta, arrays)
    return arrays | {META: np.array(json.dumps(meta))}


def read(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The metadata and arrays of a model file, checked: format, version and (version 2) checksum."""
    if not path.is_file():
        raise CheckpointError(f"{path}: no such model file" if not path.exists() else f"{path} is not a model file")
    arrays = read_npz(path, "an mlp model file", CheckpointError, stored_only=True,
                      fix="; use an earlier checkpoint or retrain")
    if META not in arrays:
        raise CheckpointError(f"{path} is not an mlp model file (no metadata); save models with mlp.save_model")
    try:
        meta = json.loads(str(arrays.pop(META)))
    except (ValueError, RecursionError) as err:
        raise CheckpointError(f"{path} has unreadable metadata ({shorten(str(err))})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an mlp model file (unknown format)")
    version = meta.get("version")
    if not isinstance(version, int) or not 1 <= version <= VERSION:
        raise CheckpointError(f"{path} has format version {shorten(version)}, which this mlp cannot read "
                              f"(it reads 1 to {VERSION}); upgrade mlp")
    if version >= 2 and meta.get("sha256") != digest(meta, arrays):
        raise CheckpointError(f"{path} was changed after mlp wrote it: its content does not match its checksum; "
                              f"use an unchanged copy, or train again")
    canonical_names(path, meta)
    return meta, arrays


def canonical_names(path: Path, meta: dict[str, Any]) -> None:
    """The names of layers and of the optimizer as the registries give them, also for files of earlier versions
    (which stored class names: ``"Dense"``, ``"SGD"``). A name no registry knows stays as it is: ``restore`` may
    still load such a file into objects of an unregistered class."""
    try:
        for spec in meta["model"]["layers"]:
            if spec["type"] in LAYERS or _is_class_name(LAYERS, spec["type"]):
                spec["type"] = LAYERS.name_of(LAYERS.find(spec["type"]))
        saved = meta.get("optimizer")
        if saved is not None and (saved["name"] in OPTIMIZERS or _is_class_name(OPTIMIZERS, saved["name"])):
            saved["name"] = OPTIMIZERS.name_of(OPTIMIZERS.find(saved["name"]))
    except (KeyError, TypeError, AttributeError) as err:
        raise CheckpointError(f"{path} has an unreadable architecture or optimizer ({shorten(str(err))})") from None


def _is_class_name(registry: Registry[Any], name: Any) -> bool:
    return any(getattr(item, "__name__", None) == name for _, item in registry.items())


def check_arrays(path: Path, layers: Any, arrays: dict[str, np.ndarray]) -> None:
    """Every parameter the architecture ``layers`` describes is in ``arrays`` with its shape, before any layer
    is built (a layer allocates its weights when built, so a hostile architecture must not get that far)."""
    if not isinstance(layers, list) or not all(isinstance(spec, dict) for spec in layers):
        raise CheckpointError(f"{path} has an unreadable architecture")
    for i, spec in enumerate(layers):
        try:
            kind = LAYERS.find(spec.get("type"))  # type: ignore[arg-type]
        except UnknownNameError as err:
            raise CheckpointError(f"{path} layer {i}: {err}") from None
        for name, shape in kind.parameter_shapes(spec).items():
            stored = arrays.get(f"param/{i}.{name}")
            if stored is None or stored.shape != shape:
                raise CheckpointError(f"{path} is corrupt: parameter {i}.{name} is missing or has the wrong shape")


def build(path: Path, meta: dict[str, Any], arrays: dict[str, np.ndarray], cls: type[Sequential]) -> Sequential:
    """The architecture the file describes, as a ``cls`` with fresh weights (its arrays checked first)."""
    try:
        check_arrays(path, meta["model"]["layers"], arrays)
        return cls.from_config(meta["model"])
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise CheckpointError(f"{path} has an unreadable architecture or optimizer ({shorten(str(err))})") from None


def describe_mismatch(file_layers: list[dict[str, Any]], model_layers: list[dict[str, Any]], cls: type[Sequential]
                      ) -> str:
    def show(spec: dict[str, Any]) -> str:
        return repr(cls.from_config({"layers": [spec]})[0])

    for i, (a, b) in enumerate(zip(file_layers, model_layers, strict=False)):
        if a != b:
            return f"layer {i} is {show(a)} in the file but {show(b)} in the model"
    return f"the file has {len(file_layers)} layers, the model {len(model_layers)}"


def copy_weights(path: Path, meta: dict[str, Any], arrays: dict[str, np.ndarray], model: Sequential) -> None:
    """The file's weights and generator states into ``model``, whose architecture must be the file's."""
    check_arrays(path, meta["model"]["layers"], arrays)  # first: describing the file's layers builds them
    expected = model.get_config()["layers"]
    if meta["model"]["layers"] != expected:
        raise CheckpointError(
            f"{path} holds another architecture: {describe_mismatch(meta['model']['layers'], expected, type(model))}"
        )
    for key, param in model.params.items():
        param[...] = arrays[f"param/{key}"]
    for index, state in meta["rng"]["layers"].items():
        model[int(index)].rng.bit_generator.state = state


def load_network(path: str | Path, cls: type[Sequential], stacklevel: int) -> Sequential:
    """The network of a model file, weights included, without its training state. A file written by
    ``mlp train``, whose network expects the run's standardised inputs or gives scores for its named classes,
    warns (at ``stacklevel``, the caller's call) that ``mlp.load_run`` predicts as ``mlp predict`` does."""
    path = Path(path)
    meta, arrays = read(path)
    model = build(path, meta, arrays, cls)
    try:
        copy_weights(path, meta, arrays, model)
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as err:
        raise CheckpointError(f"{path} has unreadable metadata ({type(err).__name__}: {shorten(str(err))})") from None
    extra = meta.get("extra") if isinstance(meta.get("extra"), dict) else {}
    needs = [what for key, what in (("standardizer", "expects inputs standardised with the run's mean and std"),
                                    ("classes", "gives scores, not the run's class names"))
             if extra.get(key) is not None]
    if needs:
        # A warning, not an error: the bare network is what export, inspection or fine-tuning want; only
        # predicting with it on raw rows goes wrong, and the message says what does that.
        warnings.warn(f"{path} was written by `mlp train`: this is its bare network, which {' and '.join(needs)}; "
                      f"use mlp.load_run(path) to predict as `mlp predict` does", UserWarning, stacklevel=stacklevel)
    return model
