"""mlp: a small, exact and fast multilayer-perceptron trainer in pure NumPy, with explicit backprop."""

from mlp.activations import ELU, Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Softplus, Tanh
from mlp.callbacks import Callback, EarlyStopping, ModelCheckpoint, ReduceLROnPlateau
from mlp.checkpoint import CheckpointError, load_checkpoint, load_model, save_model
from mlp.dense import Dense
from mlp.dropout import Dropout
from mlp.history import History
from mlp.layer import Layer, ShapeError
from mlp.losses import (
    BinaryCrossEntropy,
    CrossEntropy,
    Loss,
    MeanSquaredError,
    MulticlassHinge,
    SoftmaxCrossEntropy,
)
from mlp.optim import SGD, Adam, RMSprop
from mlp.sequential import Sequential
from mlp.training import DivergenceError, evaluate, fit

__version__ = "0.2.0"

__all__ = [
    "ELU",
    "SGD",
    "Adam",
    "BinaryCrossEntropy",
    "Callback",
    "CheckpointError",
    "CrossEntropy",
    "Dense",
    "DivergenceError",
    "Dropout",
    "EarlyStopping",
    "History",
    "Identity",
    "Layer",
    "LeakyReLU",
    "Loss",
    "MeanSquaredError",
    "ModelCheckpoint",
    "MulticlassHinge",
    "RMSprop",
    "ReLU",
    "ReduceLROnPlateau",
    "Sequential",
    "ShapeError",
    "Sigmoid",
    "Softmax",
    "SoftmaxCrossEntropy",
    "Softplus",
    "Tanh",
    "__version__",
    "evaluate",
    "fit",
    "load_checkpoint",
    "load_model",
    "save_model",
]
