"""``mlp sweep``: a grid on spirals with 2 local processes and with a real Dask LocalCluster of 2 workers gives the
same results; a random search draws the same trials every time; a killed sweep resumes, and Ctrl-C stops it so
that it resumes; a trial that fails is recorded and the sweep goes on; a bad key fails before anything runs; and
``mlp plot`` draws the sweep."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_one_line_error, invoke
from optuna.distributions import CategoricalDistribution
from optuna.trial import FrozenTrial, TrialState, create_trial

from mlp.runs.sweep import _ask, _trial_config, load_sweep, results_table, start, trial_seed

BASE = """base:
  data: {dataset: spirals, samples: %d}
  model: {layers: [{dense: %d, activation: relu}, {dense: 2}]}
  optimizer: {name: adam, lr: 0.01}
  training: {epochs: %d, batch_size: 32}
"""
GRID = BASE % (400, 16, 3) + """space:
  optimizer.lr: [0.01, 0.1]
  model.layers.0.dense: [8, 16]
seed: 3
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def results(folder: Path) -> list[dict[str, str]]:
    """results.csv without the columns that name places."""
    with open(folder / "results.csv", newline="") as f:
        return [{k: v for k, v in row.items() if k != "run_dir"} for row in csv.DictReader(f)]


def weights(folder: Path, trial: int) -> dict[str, np.ndarray]:
    with np.load(folder / "trials" / f"trial-{trial:03d}" / "model.npz") as f:
        return {key: f[key] for key in f.files if key.startswith("param/")}


def sweep_command(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mlp", "sweep", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.slow
def test_local_processes_and_a_dask_cluster_give_the_same_trials(tmp_path):
    pytest.importorskip("distributed")
    path = write(tmp_path, "grid.yaml", GRID)
    local = sweep_command(str(path), "--jobs", "2", "--out", "local", cwd=tmp_path)
    assert local.returncode == 0, local.stderr
    dask = sweep_command(str(path), "--scheduler", "local:2", "--out", "dask", cwd=tmp_path)
    assert dask.returncode == 0, dask.stderr
    assert results(tmp_path / "local") == results(tmp_path / "dask")
    rows = results(tmp_path / "local")
    assert sorted(row["trial"] for row in rows) == ["0", "1", "2", "3"]
    losses = [float(row["val_loss"]) for row in rows]
    assert losses == sorted(losses)  # best first
    for trial in range(4):
        for key, value in weights(tmp_path / "local", trial).items():
            np.testing.assert_array_equal(value, weights(tmp_path / "dask", trial)[key])
    assert local.stdout.count("trial ") >= 4 and "optimizer.lr=0.1  model.layers.0.dense=16" in local.stdout
    best = (tmp_path / "local" / "best.yaml").read_text()
    assert best == (tmp_path / "local" / "trials" / f"trial-{int(rows[0]['trial']):03d}" / "config.yaml").read_text()
    # every trial is an ordinary run directory
    assert invoke("evaluate", tmp_path / "local" / "trials" / "trial-000").exit_code == 0


@pytest.mark.slow
def test_a_running_dask_scheduler_at_its_address_gives_the_same_trials(tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")
    # The cluster's workers start in this process's folder: tmp_path, so that nothing they write lands in the
    # checkout (a relative sweep folder once made them write its trials there)
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, "grid.yaml", GRID)
    local = sweep_command(str(path), "--jobs", "2", "--out", "local", cwd=tmp_path)
    assert local.returncode == 0, local.stderr
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        remote = sweep_command(str(path), "--scheduler", cluster.scheduler_address, "--out", "remote", cwd=tmp_path)
    assert remote.returncode == 0, remote.stderr
    assert f"on Dask at {cluster.scheduler_address}" in remote.stdout
    assert results(tmp_path / "local") == results(tmp_path / "remote")


@pytest.mark.slow
@pytest.mark.usefixtures("blas_threads")  # the sweep, not the session, must put its workers on one thread
def test_any_number_of_workers_and_dask_give_the_same_trials_of_a_wide_network(tmp_path):
    """OpenBLAS rounds a (rows, 784) x (784, 512) product differently on 1 and on 2 threads (Dask's workers have
    one): every trial runs on one, so that neither the backend nor how many trials run side by side matters."""
    pytest.importorskip("distributed")
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "wide.npz", x=rng.random((500, 784), dtype=np.float32), y=rng.integers(0, 3, 500))
    path = write(tmp_path, "wide.yaml", """base:
  data: {dataset: npz, path: wide.npz}
  model: {layers: [{dense: 512, activation: relu}, {dense: 3}]}
  training: {epochs: 2, batch_size: 50}
space:
  optimizer.lr: [0.01, 0.05]
""")
    backends = {"jobs1": ["--jobs", "1"], "jobs2": ["--jobs", "2"], "dask": ["--scheduler", "local:2"]}
    for out, backend in backends.items():
        result = sweep_command(str(path), *backend, "--out", out, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    for out in ("jobs2", "dask"):
        assert results(tmp_path / out) == results(tmp_path / "jobs1")
        for trial in range(2):
            for key, value in weights(tmp_path / "jobs1", trial).items():
                np.testing.assert_array_equal(value, weights(tmp_path / out, trial)[key])


def trial(number: int, lr: float, **outcome) -> FrozenTrial:
    """A study's trial of GRID with the outcome the sweep records."""
    state = {"completed": TrialState.COMPLETE, "stopped": TrialState.COMPLETE, "failed": TrialState.FAIL,
             "pruned": TrialState.PRUNED}.get(outcome["status"], TrialState.RUNNING)
    trial = create_trial(params={"optimizer.lr": lr}, distributions={"optimizer.lr": CategoricalDistribution(
        [0.01, 0.1])}, value=outcome["metric"] if state == TrialState.COMPLETE else None, state=state,
                         user_attrs={"outcome": {"test": None, "epochs": 3, "message": ""} | outcome})
    trial.number = number
    return trial


def test_only_finished_trials_are_ranked(tmp_path):
    path = write(tmp_path, "grid.yaml", GRID)
    sweep = load_sweep(path, tmp_path / "sweep")
    trials = [trial(0, 0.01, status="completed", metric=0.5),
              trial(1, 0.1, status="interrupted", metric=0.1),  # lowest, but of an unfinished run
              trial(2, 0.01, status="failed", metric=None, message="diverged"),
              trial(3, 0.1, status="stopped", metric=0.3),
              trial(4, 0.1, status="pruned", metric=0.05)]  # lowest, and stopped early
    rows = results_table(sweep, trials)
    assert [(row["trial"], row["status"]) for row in rows] == [(3, "stopped"), (0, "completed"), (1, "interrupted"),
                                                               (2, "failed"), (4, "pruned")]
    assert rows[0]["optimizer.lr"] == 0.1 and rows[0]["model.layers.0.dense"] is None  # not drawn: empty


RANDOM = BASE % (400, 8, 2) + """space:
  optimizer.lr: {log_uniform: [1.0e-4, 1.0e-1]}
  model.layers.0.activation: [relu, tanh]
  training.batch_size: {choice: [16, 32]}
  model.layers.0.dense: {int_uniform: [4, 64]}
  optimizer.name: {choice: [sgd], when: {model.layers.0.activation: [tanh]}}
  optimizer.momentum: {uniform: [0.5, 0.9], when: {optimizer.name: sgd}}
method: %s
trials: 6
seed: 7
"""


@pytest.mark.parametrize("method", ["random", "tpe"])
def test_trials_are_drawn_from_the_sweep_seed_and_their_number_alone(tmp_path, method):
    """Two sweeps of one file draw the same trials, whichever process asks and however many at a time."""
    path = write(tmp_path, "random.yaml", RANDOM % method)
    with start(path, tmp_path / "a") as first:
        drawn = _ask(first, 0, 6)
    with start(path, tmp_path / "b") as second:  # asked in three waves
        assert _ask(second, 0, 2) | _ask(second, 2, 3) | _ask(second, 3, 6) == drawn
    assert (tmp_path / "a" / "sweep.db").is_file()
    for values in drawn.values():
        assert 1e-4 <= values["optimizer.lr"] <= 1e-1 and 4 <= values["model.layers.0.dense"] <= 64
        assert isinstance(values["model.layers.0.dense"], int) and values["training.batch_size"] in (16, 32)
        conditional = values["model.layers.0.activation"] == "tanh"
        assert ("optimizer.momentum" in values) == conditional and ("optimizer.name" in values) == conditional
    assert len({values["optimizer.lr"] for values in drawn.values()}) == 6
    assert {values["model.layers.0.activation"] for values in drawn.values()} == {"relu", "tanh"}
    config = _trial_config(first, 2, drawn[2])
    assert config["seed"] == trial_seed(7, 2) and config["training"]["batch_size"] == drawn[2]["training.batch_size"]


@pytest.mark.parametrize("trials", ["", "trials: 4\n"])
def test_a_grid_proposes_each_combination_once_in_any_waves(tmp_path, trials):
    path = write(tmp_path, "grid.yaml", BASE % (400, 8, 2) + "space:\n  optimizer.lr: [0.001, 0.01, 0.1]\n"
                 "  model.layers.0.activation: [relu, tanh]\nparallel: 2\n" + trials)
    with start(path, tmp_path / "a") as sweep:
        drawn = _ask(sweep, 0, 2) | _ask(sweep, 2, sweep.trials)
    combinations = {tuple(values.values()) for values in drawn.values()}
    assert len(drawn) == len(combinations) == (4 if trials else 6)


def test_cmaes_proposes_different_trials_in_its_first_wave(tmp_path):
    path = write(tmp_path, "cmaes.yaml", BASE % (400, 8, 2) + "space:\n  optimizer.lr: {log_uniform: [1.0e-4, 0.1]}\n"
                 "  model.layers.0.dense: {int_uniform: [4, 64]}\nmethod: cmaes\ntrials: 4\n")
    with start(path, tmp_path / "a") as sweep:
        assert len({values["optimizer.lr"] for values in _ask(sweep, 0, 4).values()}) == 4


def start_sweep(path: Path, folder: str, cwd: Path) -> subprocess.Popen:
    """A sweep in a session of its own (so that the test can stop it and its workers, and nothing else)."""
    return subprocess.Popen([sys.executable, "-m", "mlp", "sweep", str(path), "--jobs", "2", "--out", folder], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def wait_for_a_finished_trial(process: subprocess.Popen, folder: Path) -> None:
    deadline = time.monotonic() + 300
    while not list(folder.glob("trials/*/trial.json")):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.05)


# TPE in two waves of two, with median pruning: a resume reopens the study in the middle of a wave or between two
SLOW = BASE % (30000, 128, 6) + """space:
  optimizer.lr: {log_uniform: [1.0e-3, 3.0e-2]}
method: tpe
trials: 4
parallel: 2
pruner: {median: {n_startup_trials: 1}}
"""


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("uninterrupted")
    path = write(folder, "slow.yaml", SLOW)
    result = sweep_command(str(path), "--jobs", "2", "--out", "sweep", cwd=folder)
    assert result.returncode == 0, result.stderr
    return folder / "sweep"


@pytest.mark.slow
def test_a_killed_sweep_resumes_where_it_was(tmp_path, uninterrupted):
    path = write(tmp_path, "slow.yaml", SLOW)
    process = start_sweep(path, "sweep", tmp_path)
    wait_for_a_finished_trial(process, tmp_path / "sweep")
    os.killpg(process.pid, signal.SIGKILL)  # the sweep and its workers: the session this test started
    process.communicate()
    finished = {p.parent.name: p.stat().st_mtime_ns for p in (tmp_path / "sweep").glob("trials/*/trial.json")}
    again = sweep_command(str(path), "--jobs", "2", "--out", "sweep", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert f"{len(finished)} done, {4 - len(finished)} to run" in again.stdout
    for name, mtime in finished.items():  # not run again
        assert (tmp_path / "sweep" / "trials" / name / "trial.json").stat().st_mtime_ns == mtime
    assert results(tmp_path / "sweep") == results(uninterrupted)


@pytest.mark.slow
def test_ctrl_c_stops_the_running_trials_where_they_can_resume(tmp_path, uninterrupted):
    path = write(tmp_path, "slow.yaml", SLOW)
    process = start_sweep(path, "sweep", tmp_path)
    wait_for_a_finished_trial(process, tmp_path / "sweep")
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "continue with: mlp sweep" in out and "Traceback" not in err
    statuses = [json.loads(p.read_text())["status"] for p in (tmp_path / "sweep").glob("trials/*/trial.json")]
    assert "completed" in statuses
    again = sweep_command(str(path), "--jobs", "2", "--out", "sweep", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert results(tmp_path / "sweep") == results(uninterrupted)


@pytest.mark.slow
def test_a_failing_trial_is_recorded_and_the_sweep_goes_on(tmp_path):
    path = write(tmp_path, "fail.yaml", BASE % (400, 8, 2) + """space:
  optimizer.lr: [0.01, 1.0e+30]
""")
    result = sweep_command(str(path), "--jobs", "2", "--out", "sweep", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = results(tmp_path / "sweep")
    assert [(row["optimizer.lr"], row["status"]) for row in rows] == [("0.01", "completed"), ("1e+30", "failed")]
    assert rows[1]["message"].startswith("training diverged: the loss is")
    assert f"trial {rows[1]['trial']}   optimizer.lr=1e+30  training diverged" in result.stdout
    again = sweep_command(str(path), "--jobs", "2", "--out", "sweep", cwd=tmp_path)
    assert "2 done, 0 to run" in again.stdout  # a failed trial is a result: not run again


@pytest.mark.parametrize(("text", "message"), [
    ("base: spirals\nspace: {optimizer.lrr: [0.1, 0.2]}\n",
     "space: optimizer.lrr=0.1: unknown key 'lrr' in optimizer (adam) (did you mean 'lr'?)"),
    ("base: spirals\nspace: {optimizer.lr: {log_uniform: [0.1, 0.01]}}\nmethod: random\ntrials: 2\n",
     "space.optimizer.lr.log_uniform needs 0 < low < high, got [0.1, 0.01]"),
    ("base: spirals\nspace: {optimizer.lr: {uniform: [0.01, 0.1]}}\n",
     "space.optimizer.lr is a uniform range, which a grid cannot list; give its values as a list, or use method: "
     "random or tpe"),
    ("base: spirals\nspace: {optimizer.lr: [0.1]}\nmethod: random\n",
     "method: random needs trials, an integer from 1 to 10,000; got None"),
    ("base: spirals\nspace: {optimizer.lr: [0.1]}\nmetric: f1\n", "metric: unknown metric 'f1'"),
    ("base: spirals\nspace: {optimizer.lr: [0.1]}\nmetric: val_f1_macro\n",  # not in its training.metrics
     "metric: unknown metric 'val_f1_macro'; valid metrics: val_loss, val_accuracy, loss, accuracy"),
    ("base: nosuchrecipe\nspace: {optimizer.lr: [0.1]}\n", "nosuchrecipe: no such config file"),
    ("base: spirals\nspaces: {}\n", "unknown key 'spaces'"),
    ("base: spirals\nspace: {optimizer.lr: [%s], optimizer.beta1: [%s], optimizer.beta2: [%s]}\n"
     % ((", ".join(str(i / 1000) for i in range(1, 100)),) * 3),
     "the grid has 970,299 combinations, more than 10,000 trials; list fewer values, or use method: random or tpe "
     "with trials: N"),
    ("base: spirals\nspace: {optimizer.lr: [0.1]}\nmethod: random\ntrials: 1000000000\n",
     "method: random needs trials, an integer from 1 to 10,000; got 1000000000"),
    ("base: spirals\nspace: {optimizer.lr: [0.1]}\nmethod: random\ntrials: 0\n",
     "method: random needs trials, an integer from 1 to 10,000; got 0"),
    ("a: &a [1, 2]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
     "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
     "f: [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n", "is not a usable sweep: its aliases (*name) expand it to more than"),
    ("- base\n- space\n", "must hold a mapping: base, space, method, trials, pruner, parallel, seed, metric"),
    ("base: spirals\nspace: {optimizer.lr: [0.1]}\nmethod: bayes\n",
     "method must be one of grid, random, tpe, cmaes, got 'bayes'"),
    ("base: spirals\nspace: {optimizer.lr: [0.1]}\npruner: asha\n",
     "pruner must be one of none, median, hyperband (or {median: {n_warmup_steps: 2}}), got 'asha'"),
    ("base: spirals\nspace: {optimizer.lr: [0.1]}\npruner: {median: {patience: 2}}\n",
     "unknown setting 'patience' of pruner median; valid settings: n_startup_trials, n_warmup_steps, interval_steps"),
    ("base: spirals\nspace: {optimizer.lr: [0.1]}\npruner: {hyperband: {reduction_factor: 1}}\n",
     "pruner.hyperband.reduction_factor must be an integer from 2 to 1,000,000, got 1"),
    ("base: spirals\nspace: {model.layers.0.dense: {int_uniform: [8, 16.5]}}\nmethod: tpe\ntrials: 4\n",
     "space.model.layers.0.dense.int_uniform must be [low, high], two integers; got [8, 16.5]"),
    ("base: spirals\nspace: {optimizer.lr: {normal: [0, 1]}}\nmethod: tpe\ntrials: 4\n",
     "space.optimizer.lr must be a list of values or one of {choice: [...]}, {uniform: [low, high]}"),
    ("base: spirals\nspace: {optimizer.momentum: {uniform: [0.5, 0.9], when: {optimizer.name: sgd}}}\n"
     "method: tpe\ntrials: 4\n", "space.optimizer.momentum.when names 'optimizer.name', which is not a choice listed "
     "before it in the space (choices before it: none); list that choice first"),
    ("base: spirals\nspace: {optimizer.name: [adam, sgd], optimizer.momentum: {uniform: [0.5, 0.9], when: "
     "{optimizer.name: rmsprop}}}\nmethod: tpe\ntrials: 4\n",
     "space.optimizer.momentum.when: 'rmsprop' is not one of space.optimizer.name's values (adam, sgd)"),
    ("base: spirals\nspace: {optimizer.name: [adam, sgd], optimizer.momentum: {choice: [0.5, 0.9], when: "
     "{optimizer.name: sgd}}}\n", "space.optimizer.momentum has when:, a conditional parameter, which method: grid "
     "cannot draw (it needs one fixed space); use method: tpe or random"),
    ("base: spirals\nspace: {optimizer.lr: [0.1, 0.2]}\nmethod: cmaes\ntrials: 4\n",
     "space.optimizer.lr is a list of values, which method: cmaes cannot search (it draws numbers from ranges); give "
     "a range (uniform, log_uniform, int_uniform) or use method: tpe"),
    ("base: spirals\nspace: {optimizer.lr: [0.1, 0.2]}\ntrials: 3\n",
     "trials of a grid must be an integer from 1 to its 2 combinations, got 3; remove it to run them all"),
    ("base: spirals\nspace: {optimizer.lr: [0.1, 0.2, 0.1]}\n", "space.optimizer.lr lists 0.1 more than once"),
    ("base: spirals\nspace: {optimizer.lr: [0.1]}\nmethod: tpe\ntrials: 4\nparallel: 0\n",
     "parallel must be an integer from 1 to 10,000, got 0"),
    ("base: spirals\nspace: {optimizer.lr: [%s], optimizer.beta1: [%s], optimizer.beta2: [%s]}\nmethod: random\n"
     "trials: 4\n" % ((", ".join(str(i / 1000) for i in range(1, 201)),) * 3),
     "the space lists 600 values, more than 500; list fewer"),
])
def test_a_bad_sweep_fails_before_any_trial_runs(tmp_path, monkeypatch, text, message):
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, "bad.yaml", text)
    assert_one_line_error(invoke("sweep", path), message)
    assert not (tmp_path / "sweeps").exists()


def test_a_sweep_ranks_by_a_metric_of_its_training_metrics(tmp_path):
    path = write(tmp_path, "f1.yaml", "base: {training: {metrics: [f1_macro]}}\nspace: {optimizer.lr: [0.1, 0.2]}\n"
                                      "metric: val_f1_macro\n")
    sweep = load_sweep(path, tmp_path / "sweep")
    assert sweep.metric == "val_f1_macro" and not sweep.lower_is_better
    rows = results_table(sweep, [trial(0, 0.1, status="completed", metric=0.5),
                                 trial(1, 0.1, status="completed", metric=0.9)])
    assert [row["trial"] for row in rows] == [1, 0]  # higher first


def test_a_sweep_file_that_is_not_a_file_is_refused_at_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert_one_line_error(invoke("sweep", "/dev/zero"), "/dev/zero is not a regular file; give a YAML sweep file")
    assert_one_line_error(invoke("sweep", "missing.yaml"), "missing.yaml: no such sweep file")


def test_mlp_plot_refuses_a_folder_that_is_not_a_finished_sweep(tmp_path):
    folder = tmp_path / "sweep"
    folder.mkdir()
    (folder / "sweep.yaml").write_text("[1, 2]\n")
    (folder / "results.csv").write_text("trial\n")
    assert_one_line_error(invoke("plot", folder), "sweep.yaml is not a sweep written by `mlp sweep`")


def test_jobs_and_a_scheduler_together_are_refused(tmp_path):
    path = write(tmp_path, "grid.yaml", GRID)
    result = invoke("sweep", path, "--jobs", "2", "--scheduler", "local:2")
    assert result.exit_code == 2 and "give --jobs (local processes) or --scheduler (Dask), not both" in result.output


def test_a_bad_local_cluster_size_is_named(tmp_path, monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, "grid.yaml", GRID)
    assert_one_line_error(invoke("sweep", path, "--scheduler", "local:none"),
                          "--scheduler local:N needs a number of workers >= 1, got 'local:none'")


def test_another_sweep_in_the_same_folder_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = write(tmp_path, "a.yaml", BASE % (200, 8, 1) + "space: {optimizer.lr: [0.01]}\n")
    assert invoke("sweep", first, "--jobs", "1", "--out", "s").exit_code == 0
    second = write(tmp_path, "b.yaml", BASE % (200, 8, 1) + "space: {optimizer.lr: [0.02]}\n")
    assert_one_line_error(invoke("sweep", second, "--out", "s"), "s holds another sweep")


def test_mlp_plot_draws_a_sweep(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, "grid.yaml", BASE % (200, 8, 2) + """space:
  optimizer.lr: [0.003, 0.03]
  model.layers.0.activation: [relu, tanh]
""")
    assert invoke("sweep", path, "--jobs", "1").exit_code == 0
    result = invoke("plot", "sweeps/grid")
    assert result.exit_code == 0, result.output
    for name in ("sweep.png", "sweep_history.png", "sweep_parallel.png", "sweep_importances.png"):
        assert f"wrote sweeps/grid/{name}" in result.output
        assert (tmp_path / "sweeps" / "grid" / name).stat().st_size > 10_000


def test_the_sweep_pictures_draw_log_scale_parameters_on_log_axes_and_label_points_by_trial():
    pytest.importorskip("matplotlib")
    from mlp.plots.figures import history_figure, importance_figure, parallel_figure, sweep_figure
    from mlp.runs.sweep import param_importances

    space = {"optimizer.lr": {"log_uniform": [1e-4, 1e-1]}, "model.layers.0.dense": {"int_uniform": [4, 64]},
             "optimizer.name": {"choice": ["adam", "sgd"]},
             "optimizer.momentum": {"uniform": [0.5, 0.9], "when": {"optimizer.name": ["sgd"]}}}
    rows = [{"trial": str(i), "optimizer.lr": str(lr), "model.layers.0.dense": str(width), "optimizer.name": name,
             "optimizer.momentum": momentum, "status": status, "val_loss": str(loss)}
            for i, (lr, width, name, momentum, status, loss) in enumerate([
                (1e-3, 8, "adam", "", "completed", 0.5), (3e-2, 32, "sgd", "0.7", "completed", 0.3),
                (2e-4, 16, "sgd", "0.6", "pruned", 0.9), (5e-2, 60, "adam", "", "completed", 0.2)])]
    overview = sweep_figure(space, "val_loss", rows, {})
    assert [ax.get_xscale() for ax in overview.axes[:4]] == ["log", "linear", "linear", "linear"]
    assert [t.get_text() for t in overview.axes[0].texts] == ["0", "1", "2", "3"]  # each point's trial
    assert [t.get_text() for t in overview.axes[3].texts] == ["1", "2"]  # the trials that drew the momentum
    history = history_figure("val_loss", True, rows).axes[0]
    assert sorted(t.get_text() for t in history.texts) == ["0", "1", "2", "3"]
    best = next(line for line in history.lines if line.get_label() == "best so far")
    assert list(best.get_ydata()) == [0.5, 0.3, 0.2, 0.2]  # the best of the trials trained to the end
    parallel = parallel_figure(space, "val_loss", rows).axes[0]
    assert [t.get_text() for t in parallel.get_xticklabels()] == [
        "optimizer.lr (log)", "model.layers.0.dense", "optimizer.name", "optimizer.momentum", "val_loss (log)"]
    first = parallel.lines[0].get_ydata()
    assert first[0] == pytest.approx(1 / 3) and np.isnan(first[3])  # 1e-3: a third of the way in log; not drawn
    importances = param_importances({"space": space, "metric": "val_loss"}, rows)
    assert set(importances) == set(space) and sum(importances.values()) == pytest.approx(1.0)
    assert len(importance_figure(importances).axes[0].patches) == 4


def test_without_optuna_a_sweep_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "optuna", None)  # as if it were not installed
    path = write(tmp_path, "grid.yaml", GRID)
    assert_one_line_error(invoke("sweep", path), "mlp sweep needs optuna, which is not installed; install it with: "
                                                 "pip install 'optuna>=4.0' 'cmaes>=0.10'  (the optuna extra)")
    assert not (tmp_path / "sweeps").exists()
