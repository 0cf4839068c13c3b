"""The loggers (mlp.loggers), read back with the real readers: TensorBoard's event reader for the scalars,
histograms and text, ``MlflowClient`` on the SQLite store for params, metrics by step and artifacts."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, SPIRALS, assert_one_line_error, invoke, stop_session, the_run

from mlp.runs.config import ConfigError, resolve

pytest.importorskip("tensorboardX")
event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")

SMALL = ["--set", "data.samples=400"]


def train(out, *args):
    result = invoke("train", SPIRALS, "--out", out, *SMALL, *args)
    assert result.exit_code == 0, result.output
    return result


def events(folder):
    """TensorBoard's own reader of the event files in ``folder``, loaded."""
    reader = event_accumulator.EventAccumulator(str(folder), size_guidance={event_accumulator.HISTOGRAMS: 0,
                                                                            event_accumulator.SCALARS: 0})
    reader.Reload()
    return reader


def history(run):
    return json.loads((run / "history.json").read_text())


def test_tensorboard_has_every_epoch_the_histograms_and_the_config(tmp_path):
    train(tmp_path, "--epochs", "4", "--set", "output.loggers=[tensorboard]",
          "--set", "output.tensorboard.histogram_every=2")
    run = the_run(tmp_path)
    reader = events(run / "tensorboard")
    records = history(run)
    for key in ("loss", "val_loss", "accuracy", "val_accuracy", "lr"):
        scalars = reader.Scalars(f"epoch/{key}")
        assert [s.step for s in scalars] == [1, 2, 3, 4]
        assert [s.value for s in scalars] == pytest.approx([r[key] for r in records], rel=1e-6)
    assert [s.step for s in reader.Scalars("test/accuracy")] == [4]
    tags = reader.Tags()["histograms"]
    assert {"weights/0.W", "weights/0.b", "gradients/0.W", "weights/4.W"} <= set(tags)
    assert [h.step for h in reader.Histograms("weights/0.W")] == [2, 4]
    assert reader.Histograms("weights/0.W")[0].histogram_value.num == 2 * 64  # every weight of the 2x64 layer
    (config,) = reader.Tensors("config/text_summary")
    assert "adam" in config.tensor_proto.string_val[0].decode()


def test_the_metrics_a_config_records_are_logged_too(tmp_path):
    train(tmp_path, "--epochs", "2", "--set", "output.loggers=[tensorboard]", "--set", "training.metrics=[f1_macro]")
    run = the_run(tmp_path)
    reader = events(run / "tensorboard")
    for key in ("f1_macro", "val_f1_macro"):
        assert [s.value for s in reader.Scalars(f"epoch/{key}")] == pytest.approx([r[key] for r in history(run)])


def test_a_resumed_run_continues_the_same_tensorboard_steps(tmp_path):
    train(tmp_path, "--epochs", "2", "--set", "output.loggers=[tensorboard]")
    run = the_run(tmp_path)
    result = invoke("train", "--resume", run / "last.npz", "--epochs", "4")
    assert result.exit_code == 0, result.output
    scalars = events(run / "tensorboard").Scalars("epoch/loss")
    assert [s.step for s in scalars] == [1, 2, 3, 4]  # none twice, none missing
    assert [s.value for s in scalars] == pytest.approx([r["loss"] for r in history(run)], rel=1e-6)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_failing_logger_is_one_warning_and_training_goes_on(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    (tmp_path / "a-file").write_text("not a folder")
    result = train(tmp_path / "runs", "--epochs", "3", "--set", "output.loggers=[tensorboard, mlflow]",
                   "--set", f"output.tensorboard.dir={tmp_path / 'a-file' / 'tb'}",
                   "--set", f"output.mlflow.tracking_uri=http://127.0.0.1:{closed_port()}")
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 2, result.stderr
    assert warnings[0].startswith("warning: TensorBoardLogger stopped logging, training goes on: starting failed: ")
    assert warnings[1].startswith("warning: MLflowLogger stopped logging, training goes on: starting failed: ")
    run = (tmp_path / "runs" / "latest").resolve()  # the runs folder holds the MLflow store too
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["status"] == "completed" and metrics["epochs"] == 3
    assert warnings[0] in (run / "train.log").read_text()


def test_a_missing_extra_is_one_line_before_training(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)  # as if not installed
    result = invoke("train", SPIRALS, "--out", tmp_path, "--epochs", "1", "--set", "output.loggers=[tensorboard]")
    assert_one_line_error(result, "output.loggers: tensorboard needs tensorboardX, which is not installed; "
                                  "install it with: pip install")
    assert not list(tmp_path.iterdir())  # before the run folder


@pytest.mark.parametrize(("output", "message"), [
    ({"loggers": ["tensorbord"]}, "output.loggers: unknown logger 'tensorbord' (did you mean 'tensorboard'?); "
                                  "valid loggers: tensorboard, mlflow"),
    ({"loggers": {"mlflow": 1}}, "output.loggers must be a list of loggers (e.g. [tensorboard, mlflow]), got "),
    ({"tensorboard": {"folder": "x"}}, "unknown key 'folder' in output.tensorboard; valid keys: dir, histogram_every"),
    ({"tensorboard": {"histogram_every": -1}}, "output.tensorboard.histogram_every"),
    ({"mlflow": "x"}, "output.mlflow must be a mapping (key: value, ...), got 'x'"),
    ({"mlflw": {}}, "unknown key 'mlflw' in output (did you mean 'mlflow'?)"),
])
def test_logger_settings_are_checked(output, message):
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}"):
        resolve({"output": output})


def test_logger_settings_have_defaults():
    output = resolve({"output": {"loggers": "mlflow"}})["output"]
    assert output["loggers"] == ["mlflow"]
    assert output["tensorboard"] == {"dir": None, "histogram_every": 1}
    assert output["mlflow"] == {"tracking_uri": None, "experiment": None}
    assert resolve()["output"]["loggers"] == []


# -- MLflow: its SQLite store takes a few seconds to set up ------------------------------------------------

@pytest.fixture
def mlflow_client(monkeypatch):
    pytest.importorskip("mlflow")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    from mlflow import MlflowClient

    return lambda folder: MlflowClient(f"sqlite:///{folder / 'mlflow.db'}")


@pytest.mark.slow
def test_mlflow_has_the_params_every_epoch_the_test_metrics_and_the_files(tmp_path, mlflow_client):
    train(tmp_path / "runs", "--epochs", "3", "--set", "output.loggers=[mlflow]")
    run = (tmp_path / "runs" / "latest").resolve()  # the runs folder holds the MLflow store too
    client = mlflow_client(tmp_path / "runs")  # the default store: beside the runs folder
    experiment = client.get_experiment_by_name("spirals")  # the config's name
    (found,) = client.search_runs([experiment.experiment_id])
    assert found.info.status == "FINISHED" and found.info.run_name == run.name
    assert found.data.params["optimizer.lr"] == "0.01"
    assert found.data.params["model.layers.0.dense"] == "64"
    records = history(run)
    for key in ("loss", "val_accuracy", "lr"):
        logged = client.get_metric_history(found.info.run_id, key)
        assert [m.step for m in logged] == [1, 2, 3]
        assert [m.value for m in logged] == pytest.approx([r[key] for r in records])
    test = json.loads((run / "metrics.json").read_text())["test"]
    assert found.data.metrics["test_accuracy"] == pytest.approx(test["accuracy"])
    artifacts = {a.path for a in client.list_artifacts(found.info.run_id)}
    assert {"model.npz", "config.yaml"} <= artifacts
    local = client.download_artifacts(found.info.run_id, "model.npz", str(tmp_path / "back"))
    assert Path(local).read_bytes() == (run / "model.npz").read_bytes()


@pytest.mark.slow
def test_a_resumed_run_continues_the_same_mlflow_run(tmp_path, mlflow_client):
    train(tmp_path / "runs", "--epochs", "2", "--set", "output.loggers=[mlflow, tensorboard]")
    run = (tmp_path / "runs" / "latest").resolve()  # the runs folder holds the MLflow store too
    shutil.copy(run / "last.npz", tmp_path / "after-2.npz")
    for _ in range(2):
        # the second time from the checkpoint after epoch 2 again: as a run killed after logging epochs 3 and 4 but
        # before its checkpoint was written; the epochs it logged are not logged twice
        result = invoke("train", "--resume", run / "last.npz", "--epochs", "4")
        assert result.exit_code == 0, result.output
        shutil.copy(tmp_path / "after-2.npz", run / "last.npz")
    client = mlflow_client(tmp_path / "runs")
    (found,) = client.search_runs([client.get_experiment_by_name("spirals").experiment_id])
    assert found.info.status == "FINISHED"
    logged = client.get_metric_history(found.info.run_id, "loss")
    assert [m.step for m in logged] == [1, 2, 3, 4]  # none twice, none missing
    assert [m.value for m in logged] == pytest.approx([r["loss"] for r in history(run)])
    scalars = events(run / "tensorboard").Scalars("epoch/loss")  # the epochs written again replace the first ones
    assert [s.step for s in scalars] == [1, 2, 3, 4]
    assert [s.value for s in scalars] == pytest.approx([r["loss"] for r in history(run)], rel=1e-6)


def test_the_pages_ui_commands_name_what_a_run_writes(tmp_path, monkeypatch):
    from mlp.loggers.mlflow_logger import default_tracking_uri

    page = (ROOT / "docs" / "loggers.md").read_text()
    (block,) = re.findall(r"<!-- not run: .*? -->\n```bash\n(.*?)```", page, re.S)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    uri = default_tracking_uri("runs")
    assert uri == f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}"
    assert "--backend-store-uri sqlite:///runs/mlflow.db" in block  # the same file, relative to the runs' folder
    assert "tensorboard --logdir runs " in block  # RUN_DIR/tensorboard is under it


@pytest.mark.slow
def test_a_sweep_is_one_mlflow_run_with_a_child_run_per_trial(tmp_path, mlflow_client):
    (tmp_path / "grid.yaml").write_text("""base:
  name: spirals-sweep
  data: {dataset: spirals, samples: 400}
  model: {layers: [{dense: 8, activation: relu}, {dense: 2}]}
  training: {epochs: 2, batch_size: 32}
  output: {loggers: [mlflow]}
space:
  optimizer.lr: [0.01, 0.1]
""")
    for _ in range(2):  # run again, the sweep keeps its MLflow run (and its trials are done)
        result = invoke("sweep", tmp_path / "grid.yaml", "--out", tmp_path / "sweep", "--jobs", "1")
        assert result.exit_code == 0, result.output
    client = mlflow_client(tmp_path / "sweep" / "trials")  # beside the trials' run folders
    experiment = client.get_experiment_by_name("spirals-sweep")
    runs = client.search_runs([experiment.experiment_id])
    (parent,) = [run for run in runs if "mlflow.parentRunId" not in run.data.tags]
    children = sorted((run for run in runs if run is not parent), key=lambda run: run.info.run_name)
    assert [run.info.run_name for run in children] == ["trial-000", "trial-001"]
    assert {run.data.tags["mlflow.parentRunId"] for run in children} == {parent.info.run_id}
    assert sorted(run.data.params["optimizer.lr"] for run in children) == ["0.01", "0.1"]  # in the grid's order
    assert parent.info.status == "FINISHED" and parent.data.params["method"] == "grid"
    for run in children:
        assert [m.step for m in client.get_metric_history(run.info.run_id, "loss")] == [1, 2]


@pytest.mark.slow
def test_mlflow_logger_in_python_closes_its_run_when_fit_ends(tmp_path, mlflow_client):
    import numpy as np

    from mlp import SGD, Dense, ReLU, Sequential, SoftmaxCrossEntropy, fit
    from mlp.loggers import MLflowLogger

    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 2)).astype(np.float32)
    y = (x[:, 0] * x[:, 1] > 0).astype(int)
    model = Sequential([Dense(2, 8), ReLU(), Dense(8, 2)], seed=0)
    logger = MLflowLogger(f"sqlite:///{tmp_path / 'mlflow.db'}", "xor", config={"lr": 0.1}, run_name="first")
    history = fit(model, SoftmaxCrossEntropy(), SGD(lr=0.1), x, y, epochs=3, batch_size=32, validation_split=0.2,
                  seed=0, verbose=0, callbacks=[logger])
    client = mlflow_client(tmp_path)
    run = client.get_run(logger.run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "first" and run.data.params == {"lr": "0.1"}
    logged = client.get_metric_history(logger.run_id, "val_accuracy")
    assert [(m.step, m.value) for m in logged] == [(i + 1, pytest.approx(v)) for i, v in
                                                   enumerate(history["val_accuracy"])]
    assert not list(tmp_path.glob("mlruns"))  # the files go beside the database, not into the working folder


@pytest.mark.slow
def test_under_mpiexec_only_process_0_logs(tmp_path):
    from train.test_parallel import MPIEXEC, mpiexec

    if MPIEXEC is None:
        pytest.skip("no mpiexec: pip install mpi4py mpich")
    result = mpiexec(2, "-m", "mlp", "train", str(SPIRALS), "--out", str(tmp_path / "runs"), "--epochs", "3",
                     *SMALL, "--set", "output.loggers=[tensorboard]", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    run = the_run(tmp_path / "runs")
    (events_file,) = (run / "tensorboard").iterdir()  # one writer: process 0's
    assert [s.step for s in events(events_file.parent).Scalars("epoch/loss")] == [1, 2, 3]


def test_a_full_disk_in_the_middle_of_training_is_one_warning(tmp_path, monkeypatch):
    import errno

    from mlp.loggers import TensorBoardLogger

    write = TensorBoardLogger.log_epoch

    def full_from_epoch_2(self, state, step, logs):
        if step >= 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        write(self, state, step, logs)

    monkeypatch.setattr(TensorBoardLogger, "log_epoch", full_from_epoch_2)
    result = train(tmp_path, "--epochs", "4", "--set", "output.loggers=[tensorboard]")
    assert [line for line in result.stderr.splitlines() if line.startswith("warning:")] == [
        "warning: TensorBoardLogger stopped logging, training goes on: logging epoch 2 failed: "
        "[Errno 28] No space left on device"]
    run = the_run(tmp_path)
    assert len(history(run)) == 4 and json.loads((run / "metrics.json").read_text())["status"] == "completed"
    assert [s.step for s in events(run / "tensorboard").Scalars("epoch/loss")] == [1]  # what it wrote before


def test_a_run_stopped_during_its_first_epoch_resumes_its_tensorboard_log(tmp_path, monkeypatch):

    import mlp.runs.run

    def stop_in_epoch_1(self, state, logs):
        if state.position.epoch == 0 and state.position.batch == 3:
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(mlp.runs.run.RunFiles, "on_batch_end", stop_in_epoch_1, raising=False)
    result = invoke("train", SPIRALS, "--out", tmp_path, *SMALL, "--epochs", "2",
                    "--set", "output.loggers=[tensorboard]")
    assert result.exit_code == 143, result.output
    monkeypatch.undo()
    run = the_run(tmp_path)
    result = invoke("train", "--resume", run / "last.npz")
    assert result.exit_code == 0, result.output
    reader = events(run / "tensorboard")
    assert [s.step for s in reader.Scalars("epoch/loss")] == [1, 2]
    assert [s.value for s in reader.Scalars("epoch/loss")] == pytest.approx([r["loss"] for r in history(run)])
    assert len(reader.Tensors("config/text_summary")) == 1  # written once, not again by the resume


def test_a_run_that_fails_after_training_still_ends_its_logger_runs(tmp_path, monkeypatch):
    import mlp.runs.run
    from mlp.files.atomic import DiskFullError

    def disk_full(*args, **kwargs):
        raise DiskFullError(tmp_path / "metrics.json")

    monkeypatch.setattr(mlp.runs.run, "_finish", disk_full)  # the disk fills while the run writes its results
    result = invoke("train", SPIRALS, "--out", tmp_path, *SMALL, "--epochs", "2",
                    "--set", "output.loggers=[tensorboard]")
    assert result.exit_code == 2 and "no space left on the device" in result.stderr, result.output
    (ending,) = events(the_run(tmp_path) / "tensorboard").Tensors("ending/text_summary")
    assert ending.tensor_proto.string_val[0].decode() == "failed"


@pytest.fixture
def mlflow_server(tmp_path):
    """A real ``mlflow server`` on 127.0.0.1 (a store and artifacts under ``tmp_path``), its tracking URI; stopped
    with its workers at the end."""
    command = Path(sys.executable).parent / "mlflow"
    if not command.is_file():
        pytest.skip("the mlflow package (the dev extra) provides `mlflow server`")
    port = closed_port()
    process = subprocess.Popen(
        [command, "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}", "--artifacts-destination", tmp_path / "art"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)  # a group: its workers too
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120  # 10 s on a quiet machine
        while True:
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=2) as response:
                    if response.read().strip() == b"OK":
                        break
            except OSError:
                pass
            assert process.poll() is None, "mlflow server exited"
            assert time.monotonic() < deadline, "mlflow server did not answer within 120 s"
            time.sleep(0.25)
        yield uri
    finally:
        stop_session(process)


@pytest.mark.slow
def test_a_run_logs_to_a_real_mlflow_tracking_server(tmp_path, mlflow_server, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    from mlflow import MlflowClient

    train(tmp_path / "runs", "--epochs", "3", "--set", "output.loggers=[mlflow]",
          "--set", f"output.mlflow.tracking_uri={mlflow_server}")
    client = MlflowClient(tracking_uri=mlflow_server)
    (found,) = client.search_runs([client.get_experiment_by_name("spirals").experiment_id])
    assert found.info.status == "FINISHED" and found.info.run_name == the_run(tmp_path / "runs").name
    assert [m.step for m in client.get_metric_history(found.info.run_id, "val_loss")] == [1, 2, 3]
    assert "test_accuracy" in found.data.metrics
    assert {a.path for a in client.list_artifacts(found.info.run_id)} == {"model.npz", "config.yaml"}


def test_a_logger_loads_the_training_steps_blas_before_its_library(monkeypatch):
    """The logger's library may import PyTorch, whose OpenMP runtime MKL cannot be loaded after (mlp.native.mkl)."""
    from mlp import SGD, Dense, Sequential, SoftmaxCrossEntropy, fit
    from mlp.loggers import Logger
    from mlp.native import blas

    order = []

    class Recording(Logger):
        def start(self, state) -> None:
            order.append("logger starts")

    monkeypatch.setattr(blas, "active", lambda: order.append("BLAS chosen") or "openblas")
    x, y = np.zeros((4, 2), np.float32), np.array([0, 1, 0, 1])
    fit(Sequential([Dense(2, 2)], seed=0), SoftmaxCrossEntropy(), SGD(0.1), x, y, epochs=1, verbose=0,
        callbacks=[Recording()])
    assert order[:2] == ["BLAS chosen", "logger starts"]
