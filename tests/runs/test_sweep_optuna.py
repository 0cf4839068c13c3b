"""``mlp sweep`` through Optuna, with the real things: a TPE sweep with median pruning, proposed in waves, gives the
same results.csv on 1 and 2 local processes and on a Dask scheduler with 2 workers on 127.0.0.1; a pruned trial is
recorded with its last metric and ``mlp train --resume`` finishes it; Hyperband decides the same on any backend; a
time budget stops proposing trials and the same command continues; the study can live in a database of the user's
(``--storage``), which a URL it cannot use names in one line."""

from __future__ import annotations

import json

import optuna
import pytest
import yaml
from conftest import assert_one_line_error, invoke
from test_sweep import BASE, results, sweep_command, write
from test_sweep_seams import start_dask, stop_dask

from mlp.train.history import History

# 8 trials, 2 at a time: 4 waves; the median pruner judges each against the waves before its own
TPE = BASE % (600, 16, 4) + """space:
  optimizer.lr: {log_uniform: [1.0e-4, 1.0e-1]}
  model.layers.0.dense: {int_uniform: [4, 32]}
  optimizer.name: [adam, sgd]
  optimizer.momentum: {uniform: [0.5, 0.95], when: {optimizer.name: sgd}}
method: tpe
trials: 8
parallel: 2
pruner: {median: {n_startup_trials: 1}}
seed: 1
"""


@pytest.fixture(scope="module")
def tpe_on_one_process(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tpe")
    result = sweep_command(str(write(folder, "tpe.yaml", TPE)), "--jobs", "1", "--out", "sweep", cwd=folder)
    assert result.returncode == 0, result.stderr
    return folder / "sweep"


@pytest.mark.slow
def test_a_pruned_tpe_sweep_gives_the_same_results_on_any_backend(tmp_path, tpe_on_one_process):
    rows = results(tpe_on_one_process)
    statuses = [row["status"] for row in rows]
    assert "pruned" in statuses and "completed" in statuses  # the test is of pruning too
    assert len({row["optimizer.lr"] for row in rows}) == 8
    assert all((row["optimizer.momentum"] != "") == (row["optimizer.name"] == "sgd") for row in rows)
    path = write(tmp_path, "tpe.yaml", TPE)
    jobs2 = sweep_command(str(path), "--jobs", "2", "--out", "jobs2", cwd=tmp_path)
    assert jobs2.returncode == 0, jobs2.stderr
    assert results(tmp_path / "jobs2") == rows
    address, cluster = start_dask(tmp_path, workers=2)
    try:
        dask = sweep_command(str(path), "--scheduler", address, "--out", "dask", cwd=tmp_path)
    finally:
        stop_dask(cluster)
    assert dask.returncode == 0, dask.stderr
    assert results(tmp_path / "dask") == rows


@pytest.mark.slow
def test_a_pruned_trial_keeps_its_last_metric_and_mlp_train_resume_finishes_it(tmp_path, tpe_on_one_process):
    rows = results(tpe_on_one_process)
    pruned = next(row for row in rows if row["status"] == "pruned")
    trial = tpe_on_one_process / "trials" / f"trial-{int(pruned['trial']):03d}"
    outcome = json.loads((trial / "trial.json").read_text())
    assert outcome["status"] == "pruned" and outcome["epochs"] < 4
    reported = outcome["reported"]  # the metric after each epoch, as the study has it
    assert float(pruned["val_loss"]) == list(reported.values())[-1] == outcome["metric"]
    history = History.from_json(trial / "history.json").records
    assert [record["val_loss"] for record in history] == list(reported.values())
    # the study: pruned, with the last value; the others complete
    described = yaml.safe_load((tpe_on_one_process / "sweep.yaml").read_text())
    study = optuna.load_study(study_name=described["study"], storage=f"sqlite:///{tpe_on_one_process}/sweep.db")
    told = study.trials[int(pruned["trial"])]
    assert told.state == optuna.trial.TrialState.PRUNED and told.value == outcome["metric"]
    assert [t.state.name for t in study.trials].count("PRUNED") == [r["status"] for r in rows].count("pruned")
    # finished by hand: the resumable last.npz the pruning left
    copy = tmp_path / "trial"
    copy.mkdir()
    for file in trial.iterdir():
        (copy / file.name).write_bytes(file.read_bytes())
    result = invoke("train", "--resume", copy, "--epochs", "4")
    assert result.exit_code == 0, result.output
    assert json.loads((copy / "metrics.json").read_text())["status"] == "completed"
    assert len(History.from_json(copy / "history.json").records) == 4


HYPERBAND = TPE.replace("method: tpe", "method: random").replace("pruner: {median: {n_startup_trials: 1}}",
                                                                  "pruner: hyperband")


@pytest.mark.slow
def test_hyperband_decides_the_same_on_one_and_two_processes(tmp_path):
    path = write(tmp_path, "hyperband.yaml", HYPERBAND)
    for jobs in ("1", "2"):
        result = sweep_command(str(path), "--jobs", jobs, "--out", f"jobs{jobs}", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    assert results(tmp_path / "jobs1") == results(tmp_path / "jobs2")
    assert "pruned" in [row["status"] for row in results(tmp_path / "jobs1")]


SHORT_TPE = BASE % (200, 8, 1) + """space:
  optimizer.lr: {log_uniform: [1.0e-3, 1.0e-1]}
method: tpe
trials: 4
parallel: 2
seed: 5
"""


@pytest.mark.slow
def test_a_time_budget_stops_proposing_trials_and_the_same_command_continues(tmp_path):
    path = write(tmp_path, "short.yaml", SHORT_TPE)
    straight = sweep_command(str(path), "--jobs", "2", "--out", "straight", cwd=tmp_path)
    assert straight.returncode == 0, straight.stderr
    budget = sweep_command(str(path), "--jobs", "2", "--out", "sweep", "--timeout", "0.001s", cwd=tmp_path)
    assert budget.returncode == 0, budget.stderr
    assert "timeout  the 0.001 s budget ran out with 4 trials not proposed; continue with: mlp sweep" in budget.stdout
    again = sweep_command(str(path), "--jobs", "2", "--out", "sweep", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "0 done, 4 to run" in again.stdout
    assert results(tmp_path / "sweep") == results(tmp_path / "straight")


@pytest.mark.slow
def test_the_study_can_live_in_a_database_given_by_url(tmp_path):
    path = write(tmp_path, "short.yaml", SHORT_TPE)
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    result = sweep_command(str(path), "--jobs", "2", "--out", "sweep", "--storage", url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "sweep" / "sweep.db").exists()
    name = yaml.safe_load((tmp_path / "sweep" / "sweep.yaml").read_text())["study"]
    study = optuna.load_study(study_name=name, storage=url)
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 4
    assert {row["trial"]: float(row["val_loss"]) for row in results(tmp_path / "sweep")} == {
        str(t.number): t.value for t in study.trials}
    again = sweep_command(str(path), "--jobs", "2", "--out", "sweep", "--storage", url, cwd=tmp_path)
    assert "4 done, 0 to run" in again.stdout  # the study reopened


@pytest.mark.parametrize(("url", "message"), [
    ("nosuch://host/db", "--storage nosuch://host/db: Optuna cannot open it (Can't load plugin: "
                         "sqlalchemy.dialects:nosuch); give an SQLAlchemy URL such as sqlite:///sweep.db"),
    ("sqlite:////nonexistent/folder/x.db", "--storage sqlite:////nonexistent/folder/x.db: Optuna cannot open it"),
])
def test_a_storage_url_optuna_cannot_use_is_one_line_before_anything_is_written(tmp_path, monkeypatch, url, message):
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, "short.yaml", SHORT_TPE)
    assert_one_line_error(invoke("sweep", path, "--storage", url), message)
    assert not (tmp_path / "sweeps").exists()


@pytest.mark.parametrize("text", ["0", "-3m", "soon", "1e999"])
def test_a_timeout_that_is_not_a_duration_is_refused(tmp_path, text):
    path = write(tmp_path, "short.yaml", SHORT_TPE)
    result = invoke("sweep", path, "--timeout", text)
    assert result.exit_code == 2 and "is not a duration; give e.g. 90s, 30m, 2h or 1d" in result.output
