"""Loggers: callbacks that send a training's numbers to the tools users watch runs in, TensorBoard
(``TensorBoardLogger``, the ``tensorboard`` extra) and MLflow (``MLflowLogger``, the ``mlflow`` extra).

Each is an ordinary callback (``mlp.train.callbacks``): pass it to ``fit(callbacks=[...])``, or name it in a
config (``output.loggers: [tensorboard, mlflow]``), where the run adds it. A logger's failure (a tracking server
down, an unwritable folder, a full disk) never stops training: it says so in one warning line and logs nothing
more; the run's own files stay the record. Its state (the MLflow run, the last step written) goes into the
run's checkpoints, so that a resumed run continues the same MLflow run and TensorBoard steps.

The package sits between ``mlp.train`` (the callback contract it implements) and ``mlp.runs`` (which adds the
loggers a config names): it imports neither tensorboardX nor mlflow until a logger starts.
"""

from mlp.loggers.logger import Logger, flatten
from mlp.loggers.mlflow_logger import MLflowLogger
from mlp.loggers.tensorboard import TensorBoardLogger

__all__ = ["Logger", "MLflowLogger", "TensorBoardLogger", "flatten"]
