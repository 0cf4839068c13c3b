"""mlp: a small, exact and fast multilayer-perceptron trainer in pure NumPy, with explicit backprop."""

from mlp.activations import ELU, Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Softplus, Tanh
from mlp.dense import Dense
from mlp.dropout import Dropout
from mlp.layer import Layer, ShapeError
from mlp.losses import (
    BinaryCrossEntropy,
    CrossEntropy,
    Loss,
    MeanSquaredError,
    MulticlassHinge,
    SoftmaxCrossEntropy,
)
from mlp.sequential import Sequential

__version__ = "0.1.0"

__all__ = [
    "ELU",
    "BinaryCrossEntropy",
    "CrossEntropy",
    "Dense",
    "Dropout",
    "Identity",
    "Layer",
    "LeakyReLU",
    "Loss",
    "MeanSquaredError",
    "MulticlassHinge",
    "ReLU",
    "Sequential",
    "ShapeError",
    "Sigmoid",
    "Softmax",
    "SoftmaxCrossEntropy",
    "Softplus",
    "Tanh",
    "__version__",
]
