"""ONNX through skl2onnx: ``mlp.sklearn``'s estimators in the scikit-learn Pipelines ``skl2onnx.to_onnx`` converts.

``register(MLPClassifier, MLPRegressor)`` gives skl2onnx a shape calculator and a converter for each; the
converter builds the network's nodes with ``mlp.export`` (the code of ``mlp export``), so a Pipeline such as
``StandardScaler() + MLPClassifier()`` becomes one graph::

    input (batch, features)                 double or float, as skl2onnx.to_onnx was given X
      -> the steps before the estimator     (a StandardScaler: skl2onnx's own converter)
      -> Cast to float                      the network computes in float32, as mlp's export does
      -> (x - mean) / std, every layer      mlp.export.network: the estimator's standardizer_ and model_
      -> the output activation              out_activation_ ('softmax', 'logistic', 'identity', 'exp')
    classifier: label (batch,)              the class labels of classes_ (int64 or strings); a multilabel
                                            classifier ('logistic', several outputs): (batch, labels) 0/1
                probabilities (batch, classes)   in the input's float type; a single output's p as 1 - p, p
    regressor:  variable (batch, targets)

A classifier has skl2onnx's options for classifiers: ``zipmap`` (True, the default, gives the probabilities
as a list of {label: probability}; False, the tensor; ``"columns"``, a column per class), ``nocl`` and
``output_class_labels``.

The estimators are read through ``model_``, ``standardizer_``, ``classes_``, ``n_features_in_`` and
``out_activation_``.

Importing this module imports neither skl2onnx nor onnx. ``register_when_imported``, for ``mlp.sklearn`` to call
as it is imported, registers the estimators as soon as skl2onnx is imported: importing skl2onnx itself would
cost every ``import mlp.sklearn`` some seconds, also where nothing is ever converted.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
import warnings
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

from mlp.extras import require

ALIASES = {"classifier": "MlpMLPClassifier", "regressor": "MlpMLPRegressor"}  # skl2onnx's names for them
# the options skl2onnx's own classifiers take (its MLPClassifier's): with them registered, skl2onnx's parser
# for classifiers adds the ZipMap
CLASSIFIER_OPTIONS = {"zipmap": [True, False, "columns"], "output_class_labels": [False, True], "nocl": [True, False]}
MIN_OPSET = 13  # the graph's Softmax(axis=-1) and Squeeze(axes as an input) are opset 13's


def register(classifier: type, regressor: type) -> None:
    """Register ``classifier`` and ``regressor`` (``mlp.sklearn``'s classes) with skl2onnx, which this imports."""
    require("skl2onnx", "skl2onnx", "mlp.sklearn_onnx")
    from skl2onnx import update_registered_converter

    update_registered_converter(classifier, ALIASES["classifier"], _classifier_shapes, _convert_classifier,
                                options=CLASSIFIER_OPTIONS, parser=_parse_classifier)
    update_registered_converter(regressor, ALIASES["regressor"], _regressor_shapes, _convert_regressor)


def register_when_imported(classifier: type, regressor: type) -> None:
    """``register`` now if skl2onnx is imported, or right after its import if it is installed; else nothing.

    Waiting for skl2onnx's own import costs nothing (a look for the package on the path), where importing it here
    would cost its import time to every ``import mlp.sklearn``."""
    if sys.modules.get("skl2onnx") is not None:
        register(classifier, regressor)
    elif importlib.util.find_spec("skl2onnx") is not None:
        then = lambda: register(classifier, regressor)  # noqa: E731
        waiting = next((f for f in sys.meta_path if isinstance(f, _AfterImport) and f.name == "skl2onnx"), None)
        if waiting is not None:  # one finder per module, running every registration asked for
            waiting.thens.append(then)
        else:
            sys.meta_path.insert(0, _AfterImport("skl2onnx", then))


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs each of ``thens`` once, right after the module ``name`` is first imported: it finds the module as the
    other finders do and hands out its spec with a loader that runs the module, then ``thens``."""

    def __init__(self, name: str, then: Callable[[], None]) -> None:
        self.name, self.thens = name, [then]

    def find_spec(self, fullname: str, path: Any, target: ModuleType | None = None) -> Any:
        if fullname != self.name:
            return None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None) if not isinstance(finder, _AfterImport) else None
            spec = find(fullname, path, target) if find is not None else None
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _ThenLoader(spec.loader, self)
        return spec

    def done(self) -> None:
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        try:
            for then in self.thens:
                then()
        except Exception as err:  # the user's import of skl2onnx must not fail for it
            warnings.warn(f"mlp.sklearn's estimators could not be registered with skl2onnx ({type(err).__name__}: "
                          f"{err}); call mlp.sklearn_onnx.register(MLPClassifier, MLPRegressor) to see why",
                          RuntimeWarning, stacklevel=2)


class _ThenLoader(importlib.abc.Loader):
    """The module's own loader, which it sees as its ``__loader__``, followed by ``finder.done()``."""

    def __init__(self, loader: Any, finder: _AfterImport) -> None:
        self.loader, self.finder = loader, finder

    def create_module(self, spec: Any) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        module.__loader__ = module.__spec__.loader = self.loader  # the module reads its resources through it
        self.loader.exec_module(module)
        self.finder.done()


# -- skl2onnx's side: shapes, then the graph ----------------------------------------------------------------------
def _width(estimator: Any) -> int:
    """The network's outputs."""
    return estimator.model_.output_size(estimator.n_features_in_)


def _activation(estimator: Any) -> str:
    """The output activation: the estimator's ``out_activation_``, as scikit-learn names it."""
    return estimator.out_activation_


def _multilabel(estimator: Any) -> bool:
    """Independent 0/1 labels: a logistic output activation on several outputs (scikit-learn's ``predict`` of a
    classifier fitted on an indicator matrix ``y``)."""
    return estimator.out_activation_ == "logistic" and _width(estimator) > 1


def _labels(classes: np.ndarray) -> np.ndarray:
    """The class labels as the graph gives them: int64 for numbers (scikit-learn takes float labels only where
    they are whole numbers: 0.5 makes ``y`` continuous), else strings."""
    classes = np.asarray(classes)
    return classes.astype(np.int64) if classes.dtype.kind in "biuf" else classes.astype(str)


def _float_type(operator: Any) -> Any:
    """The tensor type of the outputs: that of the input where it is double, else float."""
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    return DoubleTensorType if isinstance(operator.inputs[0].type, DoubleTensorType) else FloatTensorType


def _parse_classifier(scope: Any, model: Any, inputs: list[Any], custom_parsers: Any = None) -> list[Any]:
    """skl2onnx's parser for classifiers (it adds the ZipMap the options ask for), with the probabilities declared
    float32, the network's type, whatever the input's: skl2onnx's ZipMap takes float only (its random forests'
    probabilities are float32 for the same reason)."""
    from skl2onnx._parse import _parse_sklearn_classifier
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    outputs = _parse_sklearn_classifier(scope, model, inputs, custom_parsers=custom_parsers)
    for variable in outputs:  # the probabilities, or the columns of zipmap="columns"
        if isinstance(variable.type, DoubleTensorType):
            variable.type = FloatTensorType(variable.type.shape)
    return outputs


def _classifier_shapes(operator: Any) -> None:
    from skl2onnx.common.data_types import FloatTensorType, Int64TensorType, StringTensorType
    from skl2onnx.common.utils import check_input_and_output_numbers
    from skl2onnx.common.utils_classifier import get_label_classes

    check_input_and_output_numbers(operator, input_count_range=1, output_count_range=2)
    estimator, batch = operator.raw_operator, operator.inputs[0].get_first_dimension()
    labels = _labels(get_label_classes(operator.scope_inst, estimator))
    label_type = StringTensorType if labels.dtype.kind == "U" else Int64TensorType
    width = _width(estimator)
    operator.outputs[0].set_type(label_type([batch, width] if _multilabel(estimator) else [batch]))
    # float32 whatever the input's type: see _parse_classifier
    operator.outputs[1].set_type(FloatTensorType([batch, max(width, 2) if width == 1 else width]))


def _regressor_shapes(operator: Any) -> None:
    from skl2onnx.common.utils import check_input_and_output_numbers

    check_input_and_output_numbers(operator, input_count_range=1, output_count_range=1)
    operator.outputs[0].set_type(_float_type(operator)([operator.inputs[0].get_first_dimension(),
                                                        _width(operator.raw_operator)]))


def _convert_classifier(scope: Any, operator: Any, container: Any) -> None:
    from onnx import TensorProto
    from skl2onnx.common.utils_classifier import get_label_classes

    from mlp.export import activated, class_index, two_columns

    estimator = operator.raw_operator
    graph, scores = _network(scope, operator, container)
    activation, width, model = _activation(estimator), _width(estimator), estimator.model_
    p = activated(graph, model, scores, activation)
    if _multilabel(estimator):
        positive = graph.add("Greater", [p, graph.constant("half", np.full(1, 0.5))], "positive")
        label = graph.add("Cast", [positive], "label", to=TensorProto.INT64)
    else:
        labels = _labels(get_label_classes(scope, estimator))
        index = class_index(graph, model, scores, p, activation, width)
        label = graph.add("Gather", [graph.constant("classes", labels, labels.dtype), index], "label", axis=0)
    graph.add("Identity", [label], output=operator.outputs[0].full_name)
    graph.add("Identity", [two_columns(graph, p) if width == 1 else p], output=operator.outputs[1].full_name)


def _convert_regressor(scope: Any, operator: Any, container: Any) -> None:
    from mlp.export import activated

    estimator = operator.raw_operator
    graph, scores = _network(scope, operator, container)
    _float_output(graph, activated(graph, estimator.model_, scores, _activation(estimator)), operator.outputs[0])


def _network(scope: Any, operator: Any, container: Any) -> tuple[Any, str]:
    """The graph that writes into skl2onnx's ``container``, and the network's output for the operator's input
    (cast to float: the graph's weights are float32, as ``mlp export``'s)."""
    from onnx import TensorProto
    from skl2onnx.common.data_types import FloatTensorType

    from mlp.export import ExportError, network

    if container.target_opset is not None and container.target_opset < MIN_OPSET:
        raise ExportError(f"mlp's estimators convert to ONNX opset {MIN_OPSET} or later, not "
                          f"{container.target_opset}; call skl2onnx.to_onnx with target_opset={MIN_OPSET} or more")
    graph = _container_graph(scope, container)
    x = operator.inputs[0]
    name = x.full_name
    if not isinstance(x.type, FloatTensorType):
        name = graph.add("Cast", [name], "input_float", to=TensorProto.FLOAT)
    estimator = operator.raw_operator
    return graph, network(graph, estimator.model_, estimator.standardizer_, name)


def _float_output(graph: Any, value: str, output: Any) -> None:
    """``value`` (float) as the ``output`` variable, cast to double where its type is."""
    from onnx import TensorProto
    from skl2onnx.common.data_types import DoubleTensorType

    if isinstance(output.type, DoubleTensorType):
        graph.add("Cast", [value], output=output.full_name, to=TensorProto.DOUBLE)
    else:
        graph.add("Identity", [value], output=output.full_name)


def _container_graph(scope: Any, container: Any) -> Any:
    """``mlp.export``'s ``Graph`` writing into skl2onnx's container, its names made unique by skl2onnx's scope."""
    from onnx import TensorProto, numpy_helper

    from mlp.export import Graph

    class ContainerGraph(Graph):
        def name(self, stem: str) -> str:
            return scope.get_unique_variable_name(stem)

        def constant(self, stem: str, value: Any, dtype: Any = np.float32) -> str:
            name = self.name(stem)
            tensor = numpy_helper.from_array(np.asarray(value, dtype=dtype), name)
            strings = tensor.data_type == TensorProto.STRING
            container.add_initializer(name, tensor.data_type, list(tensor.dims),
                                      list(tensor.string_data) if strings else tensor)
            return name

        def add(self, op: str, inputs: list[str], stem: str | None = None, output: str | None = None,
                **attrs: Any) -> str:
            output = output or self.name(stem or op.lower())
            container.add_node(op, inputs, [output], name=scope.get_unique_operator_name(op), **attrs)
            return output

    return ContainerGraph()
