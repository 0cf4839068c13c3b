"""The same data everywhere, or a clear failure: every run records a fingerprint of its data in metrics.json; a
run given the data it must train on refuses others before touching its folder; and a sweep trial on a real Dask
worker that finds no MNIST (no MLP_DATA_DIR, an empty cache, no network: the bundled sample) fails with one line
instead of training on other data than the sweep's client loaded."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from conftest import SPIRALS, invoke, make_files, the_run

from mlp.data import DataMismatchError, synthetic
from mlp.data.mnist import MNIST
from mlp.runs import run
from mlp.runs.config import read, resolve_spec


def metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


def test_the_fingerprint_names_the_data_and_changes_with_any_value():
    data = synthetic("spirals", n=200, seed=0)
    first = data.fingerprint()
    assert first == synthetic("spirals", n=200, seed=0).fingerprint()
    assert (first.dataset, first.source, first.train_rows, first.test_rows) == \
        ("spirals", "synthetic (seed 0)", 160, 40)
    data.x_test[7, 1] = np.nextafter(data.x_test[7, 1], np.float32(2))  # one value, by one float32 step
    assert data.fingerprint().checksum != first.checksum
    # the same files elsewhere are the same data; the source is only said
    moved = dataclasses.replace(first, source="directory /elsewhere")
    assert moved.same_data(first) and not data.fingerprint().same_data(first)


def test_every_run_records_its_data_fingerprint(tmp_path):
    for out in ("a", "b"):
        assert invoke("train", SPIRALS, "--epochs", "1", "--out", tmp_path / out, "-q").exit_code == 0
    assert invoke("train", SPIRALS, "--epochs", "1", "--seed", "5", "--out", tmp_path / "c", "-q").exit_code == 0
    a, b, c = (metrics(the_run(tmp_path / out))["data"] for out in ("a", "b", "c"))
    assert a == b and set(a) == {"dataset", "source", "train_rows", "test_rows", "checksum"}
    assert len(a["checksum"]) == 32
    assert c["checksum"] != a["checksum"]  # spirals are drawn from the seed


def test_a_run_refuses_other_data_than_expected_before_touching_its_folder(tmp_path):
    spec = resolve_spec(read(SPIRALS, ("training.epochs=1", f"output.dir={tmp_path / 'runs'}")))
    expected = synthetic("spirals", n=2000, seed=1).fingerprint()  # what spirals.yaml loads with seed 1
    check = partial(expected.check, here="worker host w1", there="the sweep's client", others="the workers")
    with pytest.raises(DataMismatchError) as caught:
        run.train(spec, quiet=True, run_dir=tmp_path / "trial", expect_data=check)
    assert str(caught.value) == (
        "worker host w1: spirals from synthetic (seed 0) (1,600 training, 400 test rows) loaded, but the sweep's "
        "client used spirals from synthetic (seed 1) (1,600 training, 400 test rows); give the workers the same data "
        "files as the sweep's client (at the same path, or in MLP_DATA_DIR)")
    assert not (tmp_path / "trial").exists() and not (tmp_path / "runs").exists()


def test_the_same_description_with_other_content_shows_the_checksums():
    data = synthetic("spirals", n=100, seed=0)
    expected = data.fingerprint()
    data.y_train[0] = 1 - data.y_train[0]
    with pytest.raises(DataMismatchError, match=f"checksum {data.fingerprint().checksum}.*checksum "
                                                f"{expected.checksum}"):
        expected.check(data.fingerprint(), "process 1", "process 0", "every process")


# -- a real Dask scheduler and worker, started here -----------------------------------------------------------

SWEEP = """base:
  data: {dataset: mnist}
  model: {layers: [{dense: 8, activation: relu}, {dense: 10}]}
  training: {epochs: 1, batch_size: 10}
space:
  optimizer.lr: [0.01]
"""


def offline_env(tmp_path: Path) -> dict[str, str]:
    """No MNIST anywhere and no network: MLP_DATA_DIR unset, an empty cache, every download refused at once (a
    proxy on a closed port)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MLP_DATA_DIR", "OPENBLAS_NUM_THREADS")}
    closed = "http://127.0.0.1:9"
    return env | {"XDG_CACHE_HOME": str(tmp_path / "worker-cache"), "MLP_OFFLINE": "1", "http_proxy": closed,
                  "https_proxy": closed, "HTTP_PROXY": closed, "HTTPS_PROXY": closed}


@pytest.fixture
def dask_cluster(tmp_path):
    """A Dask scheduler on 127.0.0.1 and one worker without MNIST, both processes of this test; stopped after it."""
    pytest.importorskip("distributed")
    dask = Path(sys.executable).parent / "dask"
    address_file = tmp_path / "scheduler.json"
    env = offline_env(tmp_path)
    started = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                 "--scheduler-file", address_file], env=env, cwd=tmp_path,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        deadline = time.monotonic() + 60
        while not address_file.is_file():
            assert time.monotonic() < deadline and started[0].poll() is None, "the scheduler did not start"
            time.sleep(0.1)
        started.append(subprocess.Popen([dask, "worker", "--scheduler-file", address_file, "--nthreads", "1",
                                         "--no-dashboard", "--host", "127.0.0.1"], env=env, cwd=tmp_path,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        address = json.loads(address_file.read_text())["address"]
        from distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(1, timeout=60)
        yield address
    finally:
        for process in reversed(started):
            process.terminate()
        for process in reversed(started):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.mark.slow
def test_a_dask_worker_without_the_clients_mnist_fails_the_trial_in_one_line(tmp_path, monkeypatch, dask_cluster):
    # The client: a small MNIST-format set in MLP_DATA_DIR, whose MD5s it takes for the published ones
    folder = tmp_path / "mnist"
    md5s = make_files(folder, n_train=40, n_test=10)
    for role, (_, raw) in md5s.items():
        monkeypatch.setitem(MNIST.files, role, dataclasses.replace(MNIST.files[role], raw_md5=raw))
    monkeypatch.setenv("MLP_DATA_DIR", str(folder))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "client-cache"))
    (tmp_path / "sweep.yaml").write_text(SWEEP)
    result = invoke("sweep", tmp_path / "sweep.yaml", "--scheduler", dask_cluster, "--out", tmp_path / "sweep")
    assert result.exit_code == 0, result.output
    outcome = json.loads((tmp_path / "sweep" / "trials" / "trial-000" / "trial.json").read_text())
    assert outcome["status"] == "failed" and outcome["epochs"] == 0
    message = outcome["message"]
    assert message.startswith("worker host ") and "\n" not in message
    assert message.endswith(
        ": mnist from bundled sample (10,000 training, 2,000 test rows) loaded, but the sweep's client used mnist "
        f"from MLP_DATA_DIR {folder} (40 training, 10 test rows); set MLP_DATA_DIR on the workers to a folder with "
        "the same files"), message
    assert message in result.stdout
    # nothing trained: the trial's folder holds its outcome only
    assert [p.name for p in (tmp_path / "sweep" / "trials" / "trial-000").iterdir()] == ["trial.json"]


def test_a_trial_that_failed_on_other_data_runs_again_once_the_data_are_there(tmp_path):
    """A failure of the worker's (other data than the client's) is no verdict on the trial: the next run of the
    sweep tries it again, where a divergence (the trial's own doing) is kept."""
    from mlp.runs.build import data_fingerprints
    from mlp.runs.folder import TRIAL_FILE
    from mlp.runs.sweep import _recorded, _trial_config, load_sweep, run_trial

    path = tmp_path / "sweep.yaml"
    path.write_text(f"base: {SPIRALS}\nspace: {{optimizer.lr: [0.05, 1.0e+30]}}\nmetric: loss\n")
    plan = load_sweep(path, tmp_path / "sweep")
    configs = [_trial_config(plan, i, {"optimizer.lr": lr}) for i, lr in enumerate([0.05, 1.0e30])]
    for config in configs:
        config["training"]["epochs"] = 1
    (right,) = data_fingerprints(configs[:1])  # what the sweep's client loads for trial 0
    wrong = dataclasses.replace(right, checksum="0" * 32, source="directory /elsewhere")
    first = run_trial(configs[0], str(plan.trial_dir(0)), "loss", wrong)
    assert first["status"] == "failed" and first["retry"] and "the sweep's client used" in first["message"]
    diverged = run_trial(configs[1], str(plan.trial_dir(1)), "loss")
    assert diverged["status"] == "failed" and "retry" not in diverged
    assert json.loads((plan.trial_dir(0) / TRIAL_FILE).read_text())["retry"]
    # the next run of the sweep: trial 0 runs again, trial 1's outcome is kept
    assert _recorded(plan.trial_dir(0)) is None and _recorded(plan.trial_dir(1)) == diverged
    assert run_trial(configs[0], str(plan.trial_dir(0)), "loss", right)["status"] == "completed"
    assert _recorded(plan.trial_dir(0)) == json.loads((plan.trial_dir(0) / TRIAL_FILE).read_text())
