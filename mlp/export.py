"""ONNX export: a trained network as a graph any ONNX runtime runs, without Python or ``mlp``.

Needs the ``onnx`` extra (``pip install onnx``); ``import mlp`` does not import this module.

The graph computes what ``mlp predict`` computes, in float32, for a batch of any size::

    input (batch, features)
      -> (input - mean) / std                 the run's standardizer, if it had one
      -> Gemm(x, W, b) | activation ...       every layer (dropout is the identity at inference)
      -> scores (batch, outputs)              the network's output
      -> probabilities (batch, classes)       softmax or sigmoid, as the loss defines them (classifiers)
      -> label (batch,)                       the predicted class index: classes travel in the metadata

A regression network's output is ``output (batch, targets)``. Each layer type is exported by the function
``EXPORTERS`` holds for it; a layer without one (a custom layer) is refused, naming it. The same pieces
(``network``, ``activated``, ``class_index``) build the graphs skl2onnx makes of ``mlp.sklearn``'s estimators
(``mlp.sklearn_onnx``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from mlp import __version__
from mlp.data.dataset import Standardizer
from mlp.extras import require
from mlp.files.atomic import atomic_write
from mlp.nn.activations import ELU, Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Softplus, Tanh
from mlp.nn.dense import Dense
from mlp.nn.dropout import Dropout
from mlp.nn.layer import Layer
from mlp.nn.losses import LOSSES, Loss
from mlp.nn.sequential import Sequential

onnx = require("onnx", "onnx", "mlp export")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

OPSET = 17  # Softmax along one axis (13+), LeakyRelu, Elu, Softplus, Gemm: supported by every current runtime
INPUT = "input"


class ExportError(ValueError):
    """A model that cannot be exported: the message names the layer and why."""


class Graph:
    """The nodes and weights of the graph being built; ``add`` gives each output a fresh name. The exporters
    build through ``name``, ``constant`` and ``add`` only: ``mlp.sklearn_onnx`` overrides them to build into
    skl2onnx's container."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._count = 0

    def name(self, stem: str) -> str:
        self._count += 1
        return f"{stem}_{self._count}"

    def constant(self, stem: str, value: Any, dtype: type = np.float32) -> str:
        name = self.name(stem)
        self.initializers.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def add(self, op: str, inputs: list[str], stem: str | None = None, output: str | None = None, **attrs: Any) -> str:
        output = output or self.name(stem or op.lower())
        self.nodes.append(helper.make_node(op, inputs, [output], **attrs))
        return output


Exporter = Callable[[Any, Graph, str, str], str]
# layer class -> exporter(layer, graph, input name, stem) -> output name
EXPORTERS: dict[type[Layer], Exporter] = {}


def exports(*classes: type[Layer]) -> Callable[[Exporter], Exporter]:
    """Register the decorated function as the exporter of ``classes``."""

    def add(function: Exporter) -> Exporter:
        for cls in classes:
            EXPORTERS[cls] = function
        return function

    return add


@exports(Dense)
def _dense(layer: Dense, graph: Graph, x: str, stem: str) -> str:
    """``A = x @ W + b``: one Gemm (a MatMul without a bias)."""
    W = graph.constant(f"{stem}_W", layer.params["W"])
    if not layer.bias:
        return graph.add("MatMul", [x, W], stem)
    return graph.add("Gemm", [x, W, graph.constant(f"{stem}_b", layer.params["b"])], stem)


@exports(Identity, Dropout)
def _identity(layer: Layer, graph: Graph, x: str, stem: str) -> str:
    """At inference, the identity (dropout scales in training: ``mlp.nn.dropout`` is inverted dropout)."""
    return x


_ELEMENTWISE = {ReLU: "Relu", Sigmoid: "Sigmoid", Tanh: "Tanh", Softplus: "Softplus"}


@exports(*_ELEMENTWISE)
def _elementwise(layer: Layer, graph: Graph, x: str, stem: str) -> str:
    return graph.add(_ELEMENTWISE[type(layer)], [x], stem)


@exports(LeakyReLU, ELU)
def _with_alpha(layer: LeakyReLU | ELU, graph: Graph, x: str, stem: str) -> str:
    return graph.add("LeakyRelu" if isinstance(layer, LeakyReLU) else "Elu", [x], stem, alpha=layer.alpha)


@exports(Softmax)
def _softmax(layer: Softmax, graph: Graph, x: str, stem: str) -> str:
    return graph.add("Softmax", [x], stem, axis=-1)


def check_exportable(model: Sequential) -> None:
    """``ExportError`` naming the first layer no exporter handles."""
    for i, layer in enumerate(model):
        if type(layer) not in EXPORTERS:
            raise ExportError(f"layer {i} ({layer!r}) has no ONNX form in mlp; export works for "
                              f"{', '.join(sorted(cls.__name__ for cls in EXPORTERS))}")


def network(graph: Graph, model: Sequential, standardizer: Standardizer | None, x: str) -> str:
    """The nodes from ``x: (batch, features)`` to the network's output ``(batch, outputs)``: the standardizer's
    ``(x - mean) / std``, then every layer; the name of the output. ``to_onnx`` and the scikit-learn converter
    (``mlp.sklearn_onnx``) both build their graphs with it."""
    check_exportable(model)
    if standardizer is not None:
        x = graph.add("Sub", [x, graph.constant("mean", standardizer.mean)], "centred")
        x = graph.add("Div", [x, graph.constant("std", standardizer.std)], "standardized")
    for i, layer in enumerate(model):
        x = EXPORTERS[type(layer)](layer, graph, x, f"layer{i}")
    return x


# The output activation, named as scikit-learn's ``out_activation_``: what turns the network's output into class
# probabilities (a classifier) or predictions (a regressor), and its ONNX operator (None: the output as it is)
OUTPUT_ACTIVATIONS = {"identity": None, "softmax": "Softmax", "logistic": "Sigmoid", "exp": "Exp"}
# the layers that apply it inside the network (a network trained on probabilities ends in a softmax layer)
_ACTIVATION_LAYERS = {"softmax": Softmax, "logistic": Sigmoid}


def output_activation(loss: Loss) -> str:
    """The output activation ``loss`` implies: the one it applies to the scores itself, a softmax where it takes
    probabilities (the network ends in a softmax layer), else the identity (margins, regression)."""
    if loss.applies == "softmax" or loss.takes == "probabilities":
        return "softmax"
    return "logistic" if loss.applies == "sigmoid" else "identity"


def applies_inside(model: Sequential, activation: str) -> bool:
    """Whether the network's last layer is ``activation`` itself, so that its output is already activated."""
    return type(model.layers[-1]) is _ACTIVATION_LAYERS.get(activation)


def activated(graph: Graph, model: Sequential, scores: str, activation: str) -> str:
    """``activation`` applied to the network's output ``scores`` (unless the network applies it itself)."""
    if activation not in OUTPUT_ACTIVATIONS:
        raise ExportError(f"output activation {activation!r} has no ONNX form in mlp; export works for "
                          f"{', '.join(OUTPUT_ACTIVATIONS)}")
    op = OUTPUT_ACTIVATIONS[activation]
    if op is None or applies_inside(model, activation):
        return scores
    return graph.add(op, [scores], "activated", **({"axis": -1} if op == "Softmax" else {}))


def class_index(graph: Graph, model: Sequential, scores: str, probabilities: str, activation: str,
                width: int) -> str:
    """The predicted class index ``(batch,)`` int64, as ``Loss.predicted_classes``: a single output's logit > 0
    (its probability > 0.5 where the network gives probabilities), else the highest score."""
    if width > 1:
        return graph.add("ArgMax", [scores], "label", axis=1, keepdims=0)
    if applies_inside(model, activation):
        positive = graph.add("Greater", [probabilities, graph.constant("half", np.full(1, 0.5))], "positive")
    else:
        positive = graph.add("Greater", [scores, graph.constant("zero", np.zeros(1))], "positive")
    index = graph.add("Cast", [positive], "positive_index", to=TensorProto.INT64)
    return graph.add("Squeeze", [index, graph.constant("axis", [1], np.int64)], "label")


def two_columns(graph: Graph, p: str) -> str:
    """A single output's probability ``p`` of class 1 as the two columns ``1 - p, p`` ``(batch, 2)``."""
    one = graph.constant("one", np.ones(1))
    return graph.add("Concat", [graph.add("Sub", [one, p], "q"), p], "pq", axis=1)


def to_onnx(model: Sequential, standardizer: Standardizer | None = None, *, loss: Loss | str | None = None,
            classes: list[str] | None = None, name: str = "mlp") -> onnx.ModelProto:
    """The ONNX model of ``model`` (opset ``OPSET``, float32, a dynamic batch dimension).

    Args:
        standardizer: the features' standardisation, applied first (``(input - mean) / std``).
        loss: the loss it was trained with (an instance or a registered name): for a classification loss the
            graph adds ``probabilities`` (where the loss defines them) and ``label`` to ``scores``; without one,
            or for a regression loss, the single output is ``output``.
        classes: the class names, stored in the metadata (``classes``, JSON), in the order of the outputs.
        name: the graph's name.
    """
    if isinstance(loss, str):
        loss = LOSSES.get(loss)()
    features = model.in_features
    if features is None:
        raise ExportError("the model has no dense layer, so its input width is unknown")
    graph = Graph()
    scores = network(graph, model, standardizer, INPUT)
    outputs_width = model.output_size(features)
    classify = loss is not None and loss.classification
    graph.add("Identity", [scores], output="scores" if classify else "output")
    outputs = [_tensor("scores" if classify else "output", TensorProto.FLOAT, ["batch", outputs_width])]
    if classify:
        outputs += _class_outputs(graph, model, loss, outputs_width)
    inputs = [_tensor(INPUT, TensorProto.FLOAT, ["batch", features])]
    onnx_graph = helper.make_graph(graph.nodes, name, inputs, outputs, graph.initializers)
    exported = helper.make_model(onnx_graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                 producer_name="mlp", producer_version=__version__)
    exported.ir_version = 8  # what runtimes of opset 17 read
    metadata = {"loss": LOSSES.name_of(loss) if loss is not None else "", "outputs": ", ".join(o.name for o in outputs)}
    if classes is not None:
        metadata["classes"] = json.dumps([str(c) for c in classes])
    helper.set_model_props(exported, metadata)
    onnx.checker.check_model(exported, full_check=True)
    return exported


def _class_outputs(graph: Graph, model: Sequential, loss: Loss, width: int) -> list[onnx.ValueInfoProto]:
    """``probabilities`` (as ``Loss.class_probabilities``: a single output's ``p`` becomes ``1 - p, p``) and
    ``label`` (as ``Loss.predicted_classes``)."""
    outputs = []
    activation = output_activation(loss)
    p = activated(graph, model, "scores", activation)
    if activation != "identity":
        graph.add("Identity", [two_columns(graph, p) if width == 1 else p], output="probabilities")
        outputs.append(_tensor("probabilities", TensorProto.FLOAT, ["batch", max(width, 2)]))
    graph.add("Identity", [class_index(graph, model, "scores", p, activation, width)], output="label")
    outputs.append(_tensor("label", TensorProto.INT64, ["batch"]))
    return outputs


def _tensor(name: str, kind: int, shape: list[Any]) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, kind, shape)


def save_onnx(exported: onnx.ModelProto, path: str | Path) -> None:
    """Write ``exported`` to ``path`` atomically (``mlp.files.atomic``)."""
    data = exported.SerializeToString()
    atomic_write(path, lambda f: f.write(data))


def describe(exported: onnx.ModelProto) -> str:
    """``input (batch, 784) -> scores (batch, 10), probabilities (batch, 10), label (batch); opset 17``."""

    def shape(value: onnx.ValueInfoProto) -> str:
        dims = [d.dim_param or str(d.dim_value) for d in value.type.tensor_type.shape.dim]
        return f"{value.name} ({', '.join(dims)})"

    graph = exported.graph
    opset = next(o.version for o in exported.opset_import if o.domain == "")
    return (f"{', '.join(shape(v) for v in graph.input)} -> {', '.join(shape(v) for v in graph.output)}; "
            f"opset {opset}")
