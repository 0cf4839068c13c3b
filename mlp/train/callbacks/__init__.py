"""Callbacks: the contract between ``fit`` and the objects it calls at fixed points (``callback``), and the
built-in ones, a module each, as Keras' callbacks package: progress display, learning-rate schedules and
reduce-on-plateau, early stopping, checkpoints and gradient norms.
"""

from mlp.train.callbacks.callback import CALLBACKS, Callback, TrainingState
from mlp.train.callbacks.early_stopping import EarlyStopping
from mlp.train.callbacks.learning_rate import LearningRateScheduler, ReduceLROnPlateau
from mlp.train.callbacks.model_checkpoint import ModelCheckpoint
from mlp.train.callbacks.monitor import Monitor
from mlp.train.callbacks.progress import ProgressLogger, format_epoch

# isort: split
# Registered last, as before the callbacks had a package: the order configs list their keys in
from mlp.train.callbacks.gradient_norms import GradientNorms

__all__ = ["CALLBACKS", "Callback", "EarlyStopping", "GradientNorms", "LearningRateScheduler", "ModelCheckpoint",
           "Monitor", "ProgressLogger", "ReduceLROnPlateau", "TrainingState", "format_epoch"]
