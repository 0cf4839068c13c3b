"""``MLflowLogger``: a run as an MLflow run (mlflow-skinny, the ``mlflow`` extra), through ``MlflowClient`` (no
global active run: several loggers, or a sweep's trials, never share one by accident)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from mlp.extras import require
from mlp.loggers.logger import Logger, flatten, numbers
from mlp.train.callbacks.callback import TrainingState

MAX_PARAM = 6000  # characters of an MLflow parameter's value
# a tracking server that is down would otherwise be retried for minutes at every call; set before mlflow reads them
HTTP_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}
STATUS = {"completed": "FINISHED", "stopped": "FINISHED", "interrupted": "KILLED", "diverged": "FAILED",
          "failed": "FAILED"}


def default_tracking_uri(runs_folder: str | Path) -> str:
    """``MLFLOW_TRACKING_URI`` if set, else an SQLite database beside the runs folder: ``sqlite:///runs/mlflow.db``
    for ``runs`` (a file a user can later open with ``mlflow ui --backend-store-uri``)."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path(runs_folder).absolute() / 'mlflow.db'}"


def artifact_location(tracking_uri: str) -> str | None:
    """Where a new experiment of an SQLite store keeps its files: ``mlflow-artifacts`` beside the database (MLflow's
    default is ``./mlruns`` in the working folder, wherever that is); ``None`` (the server's choice) otherwise."""
    parsed = urlparse(tracking_uri)
    if parsed.scheme != "sqlite":
        return None
    return (Path(tracking_uri.removeprefix("sqlite:///")).parent / "mlflow-artifacts").absolute().as_uri()


def mlflow_client(tracking_uri: str | None, user: str) -> Any:
    """An ``MlflowClient`` of ``tracking_uri`` (for ``user``, named if mlflow is missing), which gives up on a server
    that does not answer after one retry (``HTTP_DEFAULTS``, unless the environment says otherwise)."""
    for key, value in HTTP_DEFAULTS.items():
        os.environ.setdefault(key, value)
    return require("mlflow.tracking", "mlflow", user, "mlflow-skinny").MlflowClient(tracking_uri)


class MLflowLogger(Logger):
    """Logs a training to an MLflow run of ``experiment`` (default ``"Default"``) at ``tracking_uri`` (default:
    MLflow's, ``MLFLOW_TRACKING_URI`` if set):

    - at the start, ``config`` (if given) flattened as params (``optimizer.lr``, ``model.layers.0.dense``...);
    - every epoch's record as metrics at step = the epoch (1-based);
    - at the end (``results``): the test metrics (``test_loss``...), the files given as artifacts (a run's
      ``model.npz``, ``config.yaml`` and PNGs), and the status (``FINISHED``, ``KILLED``, ``FAILED``).

    ``run_name`` names the MLflow run; ``parent_run_id`` makes it a child run (a sweep's trial). Its state, kept in
    checkpoints, holds the run id: a resumed training continues the same MLflow run, and skips the epochs it had
    already logged.
    """

    name = "MLflowLogger"

    def __init__(self, tracking_uri: str | None = None, experiment: str | None = None,
                 config: dict[str, Any] | None = None, run_name: str | None = None,
                 parent_run_id: str | None = None, warn: Callable[[str], None] | None = None) -> None:
        super().__init__(warn)
        self.tracking_uri, self.experiment, self.config = tracking_uri, experiment or "Default", config
        self.run_name, self.parent_run_id = run_name, parent_run_id
        self.run_id: str | None = None
        self.client: Any = None
        self._logged: set[int] = set()  # steps the MLflow run already has (a killed run's, after its checkpoint)

    def start(self, state: TrainingState) -> None:
        self.client = mlflow_client(self.tracking_uri, "MLflowLogger")
        if self.run_id is not None:  # a resumed training: the same run, running again
            self._logged = {m.step for m in self.client.get_metric_history(self.run_id, "loss")}
            self.client.update_run(self.run_id, status="RUNNING")
            return
        self.run_id = self.start_run(self.client, self.experiment, self.run_name, self.parent_run_id, self.tracking_uri)
        if self.config is not None:
            self.log_params(self.client, self.run_id, self.config)

    @staticmethod
    def start_run(client: Any, experiment: str, run_name: str | None, parent_run_id: str | None,
                  tracking_uri: str | None) -> str:
        """A new MLflow run in ``experiment`` (made if missing); its id."""
        found = client.get_experiment_by_name(experiment)
        experiment_id = (found.experiment_id if found is not None else
                         client.create_experiment(experiment, artifact_location=artifact_location(
                             tracking_uri or client.tracking_uri)))
        tags = {"mlflow.parentRunId": parent_run_id} if parent_run_id else None
        return client.create_run(experiment_id, run_name=run_name, tags=tags).info.run_id

    @staticmethod
    def log_params(client: Any, run_id: str, config: dict[str, Any]) -> None:
        from mlflow.entities import Param

        params = [Param(key, str(value)[:MAX_PARAM]) for key, value in flatten(config).items()]
        for i in range(0, len(params), 100):  # MLflow takes at most 100 params a call
            client.log_batch(run_id, params=params[i:i + 100])

    def log_epoch(self, state: TrainingState, step: int, logs: dict[str, Any]) -> None:
        if step in self._logged:
            return
        self._metrics(numbers(logs), step)

    def _metrics(self, values: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.client.log_batch(self.run_id, metrics=[Metric(key, value, now, step) for key, value in values.items()])

    def finish(self, status: str, test: dict[str, float] | None, files: list[Path]) -> None:
        if self.run_id is None:
            return
        if test:
            self._metrics({f"test_{key}": value for key, value in test.items()}, self.step)
        for path in files:
            self.client.log_artifact(self.run_id, str(path))
        self.client.set_terminated(self.run_id, STATUS.get(status, "FINISHED"))

    def state_dict(self) -> dict[str, Any]:
        return super().state_dict() | ({"run_id": self.run_id} if self.run_id else {})

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.run_id = state.get("run_id")
