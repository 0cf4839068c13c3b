"""`mlp train`: the run directory and what it holds, the options, resuming, keeping the best model,
early stopping, divergence, the offline MNIST fallback, and every kind of user error as one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from conftest import SPIRALS, assert_one_line_error, invoke, the_run

from mlp import __version__
from mlp.runs.config import ConfigError, load, resolve
from mlp.train.checkpoint import load_checkpoint

FILES = {"config.yaml", "train.log", "history.csv", "history.json", "metrics.json", "model.npz", "last.npz"}
SMALL = ("--set", "data.samples=500")  # spirals with 400 training rows: a few ms per epoch


def saved_config(run: Path) -> dict:
    return yaml.safe_load((run / "config.yaml").read_text())


def history(run: Path) -> list[dict]:
    return json.loads((run / "history.json").read_text())


def metrics(run: Path) -> dict:
    return json.loads((run / "metrics.json").read_text())


@pytest.fixture(scope="module")
def spirals_run(tmp_path_factory):
    """`mlp train configs/spirals.yaml --epochs 2 --out OUT`, run once for the tests that only read it."""
    out = tmp_path_factory.mktemp("spirals") / "runs"
    result = invoke("train", SPIRALS, "--epochs", "2", "--out", out)
    return result, out


# -- a run and its directory ---------------------------------------------------------------------------------
def test_a_run_writes_its_directory(spirals_run):
    result, out = spirals_run
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    run = the_run(out)
    assert run.name.startswith("spirals-")
    assert {path.name for path in run.iterdir()} == FILES

    config = saved_config(run)
    assert config == load(SPIRALS, ["training.epochs=2", f"output.dir={out}"])
    assert resolve(config) == config

    records = history(run)
    assert [record["epoch"] for record in records] == [1, 2]
    assert set(records[0]) == {"epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "time"}
    csv = (run / "history.csv").read_text().splitlines()
    assert csv[0] == "epoch,loss,accuracy,val_loss,val_accuracy,lr,time" and len(csv) == 3

    log = (run / "train.log").read_text()
    assert "epoch 1/2  loss " in log and "epoch 2/2  loss " in log
    assert log == result.stdout  # everything the run printed, and only that

    assert load_checkpoint(run / "last.npz").epoch == 2
    assert load_checkpoint(run / "model.npz").extra["config"] == config


def test_metrics_say_what_was_trained_on_what_and_how_well(spirals_run):
    _, out = spirals_run
    run = the_run(out)
    found = metrics(run)
    assert found["name"] == "spirals" and found["model_file"] == "model.npz"
    assert found["model"] == "epoch 2 (last)"
    assert found["epochs"] == 2 and found["interrupted"] is False
    assert found["final_epoch"] == history(run)[-1]
    assert set(found["test"]) == {"loss", "accuracy"}
    assert found["test"]["accuracy"] > 0.8  # two epochs of Adam already separate most of the spirals
    assert found["data"] == {"dataset": "spirals", "source": "synthetic (seed 0)", "train_rows": 1600,
                             "test_rows": 400, "checksum": found["data"]["checksum"]}
    assert found["versions"]["mlp"] == __version__
    assert {"numpy", "python", "platform", "cpus"} <= set(found["versions"])


def test_the_output_names_the_run_directory_and_the_test_accuracy(spirals_run):
    result, out = spirals_run
    run = the_run(out)
    test = metrics(run)["test"]
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"run      spirals -> {run}  (mlp {__version__}, config: {run / 'config.yaml'})")
    assert lines[1] == ("data     spirals from synthetic (seed 0): 1,280 train, 320 validation, 400 test rows; "
                        "2 features, 2 classes")
    assert f"test     loss {test['loss']:.4f}  accuracy {test['accuracy']:.4f}  (model.npz: epoch 2 (last))" in lines
    assert lines[-1] == f"saved    {run}"


def test_quiet_prints_only_the_final_line(tmp_path):
    result = invoke("train", SPIRALS, *SMALL, "--epochs", "1", "--out", tmp_path, "-q")
    assert result.exit_code == 0, result.output
    run = the_run(tmp_path)
    test = metrics(run)["test"]
    assert result.stdout == f"{run}  test loss {test['loss']:.4f}  accuracy {test['accuracy']:.4f}\n"
    assert result.stderr == ""
    assert "epoch 1/1" in (run / "train.log").read_text()  # the log still has everything


def test_json_prints_only_the_final_metrics_the_text_line_shows(tmp_path):
    quiet = invoke("train", SPIRALS, *SMALL, "--epochs", "1", "--out", tmp_path / "text", "-q")
    result = invoke("train", SPIRALS, *SMALL, "--epochs", "1", "--out", tmp_path / "json", "--json")
    assert result.exit_code == 0 and result.stderr == "", result.output
    assert len(result.stdout.splitlines()) == 1
    numbers = json.loads(result.stdout)
    run = the_run(tmp_path / "json")
    assert numbers["run_dir"] == str(run) and {"run_dir": str(run)} | metrics(run) == numbers
    test = numbers["test"]  # the same training, bit-identical: the quiet line shows these numbers
    assert quiet.stdout.split("  ", 1)[1] == f"test loss {test['loss']:.4f}  accuracy {test['accuracy']:.4f}\n"
    assert "epoch 1/1" in (run / "train.log").read_text()


def test_options_land_in_the_saved_config(tmp_path):
    out = tmp_path / "elsewhere"
    result = invoke("train", SPIRALS, "--set", "optimizer.lr=0.02", "--set", "model.layers.0.dense=16",
                    "--set", "data.samples=300", "--epochs", "1", "--seed", "3", "--out", out, "-q")
    assert result.exit_code == 0, result.output
    config = saved_config(the_run(out))
    assert config["optimizer"]["lr"] == 0.02 and config["optimizer"]["name"] == "adam"
    assert [layer["dense"] for layer in config["model"]["layers"]] == [16, 64, 2]
    assert config["data"]["samples"] == 300
    assert config["training"]["epochs"] == 1
    assert config["seed"] == 3
    assert config["output"]["dir"] == str(out)
    assert metrics(the_run(out))["data"]["source"] == "synthetic (seed 3)"


def test_the_shortcut_options_win_over_set(tmp_path):
    result = invoke("train", SPIRALS, *SMALL, "--set", "training.epochs=5", "--epochs", "1", "--out", tmp_path, "-q")
    assert result.exit_code == 0, result.output
    assert saved_config(the_run(tmp_path))["training"]["epochs"] == 1


def test_data_dir_is_where_mnist_is_looked_for(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = invoke("train", "--data-dir", empty, "--epochs", "1", "--out", tmp_path / "runs")
    assert_one_line_error(result, f"directory {empty} has no complete mnist set (missing: ")


# -- resuming ------------------------------------------------------------------------------------------------
def test_a_resumed_run_recording_a_metric_ends_as_a_run_that_did_not_stop(tmp_path):
    options = (*SMALL, "--set", "training.metrics=[f1_macro]", "--set", "output.keep=best",
               "--set", "output.monitor=val_f1_macro")
    assert invoke("train", SPIRALS, *options, "--epochs", "2", "--out", tmp_path / "stopped", "-q").exit_code == 0
    resumed = invoke("train", "--resume", the_run(tmp_path / "stopped"), "--epochs", "4")
    assert resumed.exit_code == 0, resumed.output
    assert invoke("train", SPIRALS, *options, "--epochs", "4", "--out", tmp_path / "whole", "-q").exit_code == 0
    runs = [the_run(tmp_path / name) for name in ("stopped", "whole")]
    first, second = ([{k: v for k, v in record.items() if k != "time"} for record in history(run)] for run in runs)
    assert first == second and "val_f1_macro" in first[0]
    for key in ("test", "model"):
        assert metrics(runs[0])[key] == metrics(runs[1])[key], key


def test_resume_continues_the_same_run_directory(tmp_path):
    assert invoke("train", SPIRALS, *SMALL, "--epochs", "2", "--out", tmp_path, "-q").exit_code == 0
    run = the_run(tmp_path)
    first = history(run)
    result = invoke("train", "--resume", run, "--epochs", "4")
    assert result.exit_code == 0, result.output
    assert the_run(tmp_path) == run  # no new run directory
    records = history(run)
    assert [record["epoch"] for record in records] == [1, 2, 3, 4]
    assert records[:2] == first
    assert saved_config(run)["training"]["epochs"] == 4
    assert metrics(run)["epochs"] == 4
    assert "epoch 3/4" in result.stdout and "epoch 1/" not in result.stdout
    log = (run / "train.log").read_text()
    assert "epoch 2/2" in log and "epoch 4/4" in log  # the log goes on

    # 2 + 2 epochs are the same training as 4 in one go
    straight = tmp_path / "straight"
    assert invoke("train", SPIRALS, *SMALL, "--epochs", "4", "--out", straight, "-q").exit_code == 0
    without_time = [{k: v for k, v in record.items() if k != "time"} for record in history(the_run(straight))]
    assert [{k: v for k, v in record.items() if k != "time"} for record in records] == without_time


def test_resume_from_a_checkpoint_file(tmp_path):
    assert invoke("train", SPIRALS, *SMALL, "--epochs", "1", "--out", tmp_path, "-q").exit_code == 0
    run = the_run(tmp_path)
    result = invoke("train", "--resume", run / "last.npz", "--epochs", "2", "-q")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{run}  test loss ")
    assert len(history(run)) == 2 and the_run(tmp_path) == run


def test_resume_errors(tmp_path):
    assert invoke("train", SPIRALS, *SMALL, "--epochs", "1", "--out", tmp_path / "runs", "-q").exit_code == 0
    run = the_run(tmp_path / "runs")
    assert_one_line_error(invoke("train", SPIRALS, "--resume", run),
                          "error: give CONFIG.yaml or --resume, not both: a resumed run keeps its own config "
                          "(only --epochs and --data-dir change)")
    for option in (["--set", "optimizer.lr=1e6"], ["--seed", "3"], ["--out", str(tmp_path / "elsewhere")]):
        assert_one_line_error(invoke("train", "--resume", run, "--epochs", "2", *option),
                              f"error: {option[0]} cannot change a resumed run, which keeps its own config; "
                              f"only --epochs and --data-dir apply to --resume")
    assert_one_line_error(invoke("train", "--resume", tmp_path / "nothing"),
                          f"{tmp_path / 'nothing'}: no such run directory or model file")
    assert_one_line_error(invoke("train", "--resume", tmp_path), f"{tmp_path} has no last.npz")
    assert_one_line_error(invoke("train", "--resume", run / "model.npz", "--epochs", "3"), "holds no optimizer state")
    assert_one_line_error(invoke("train", "--resume", run), f"{run / 'last.npz'} has completed 1 epoch of 1")
    assert len(history(run)) == 1  # nothing was touched


# -- what is kept, and when training stops ------------------------------------------------------------------
def test_keep_best_saves_the_best_epoch_and_says_which(tmp_path):
    result = invoke("train", SPIRALS, *SMALL, "--set", "optimizer.lr=0.1", "--set", "output.keep=best",
                    "--epochs", "5", "--out", tmp_path)
    assert result.exit_code == 0, result.output
    run = the_run(tmp_path)
    val_loss = [record["val_loss"] for record in history(run)]
    best = val_loss.index(min(val_loss)) + 1
    assert best < 5  # this run's validation loss goes up again at the end, so best and last differ
    statement = f"best val_loss ({min(val_loss):.4f}) at epoch {best}"
    assert metrics(run)["model"] == statement
    assert f"(model.npz: {statement})" in result.stdout
    assert load_checkpoint(run / "model.npz").epoch == best
    assert load_checkpoint(run / "last.npz").epoch == 5


def test_training_metrics_are_in_the_epoch_lines_and_history_and_keep_best_maximises_them(tmp_path):
    result = invoke("train", SPIRALS, *SMALL, "--set", "training.metrics=[f1_macro, recall_weighted]",
                    "--set", "output.keep=best", "--set", "output.monitor=val_f1_macro", "--epochs", "4",
                    "--out", tmp_path)
    assert result.exit_code == 0, result.output
    run = the_run(tmp_path)
    records = history(run)
    assert list(records[0])[:9] == ["epoch", "loss", "accuracy", "f1_macro", "recall_weighted", "val_loss",
                                    "val_accuracy", "val_f1_macro", "val_recall_weighted"]
    header = (run / "history.csv").read_text().splitlines()[0]
    assert "f1_macro,recall_weighted,val_loss" in header
    for record in records:
        assert f"  f1_macro {record['f1_macro']:.4f}  recall_weighted {record['recall_weighted']:.4f}  " in \
            result.stdout
    scores = [record["val_f1_macro"] for record in records]
    statement = f"best val_f1_macro ({max(scores):.4f}) at epoch {scores.index(max(scores)) + 1}"
    assert metrics(run)["model"] == statement
    assert saved_config(run)["training"]["metrics"] == ["f1_macro", "recall_weighted"]
    assert_one_line_error(invoke("train", SPIRALS, "--set", "training.metrics=[f1]"),
                          "error: training.metrics: unknown metric 'f1'; valid names: precision_macro")


def test_early_stopping_stops_early_and_says_so(tmp_path):
    result = invoke("train", SPIRALS, *SMALL, "--set", "training.early_stopping.patience=0",
                    "--set", "training.early_stopping.min_delta=100", "--epochs", "5", "--out", tmp_path)
    assert result.exit_code == 0, result.output
    run = the_run(tmp_path)
    assert len(history(run)) == 2  # epoch 1 sets the best; epoch 2 cannot improve it by 100
    assert "early stopping: val_loss has not improved" in result.stdout
    assert metrics(run)["model"] == "epoch 1, best val_loss (restored by early stopping)"
    assert metrics(run)["epochs"] == 2


def test_a_diverging_run_exits_1_with_one_line_and_keeps_its_history(tmp_path):
    result = invoke("train", SPIRALS, *SMALL, "--set", "optimizer.name=sgd", "--set", "optimizer.lr=1e6",
                    "--epochs", "3", "--out", tmp_path)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: training diverged: the loss is ")
    assert "(lr 1e+06); lower the learning rate" in line
    run = the_run(tmp_path)
    assert {"history.csv", "history.json", "config.yaml", "train.log"} <= {path.name for path in run.iterdir()}
    assert isinstance(history(run), list)
    assert (run / "train.log").read_text().splitlines()[-1] == line


# -- MNIST without MNIST -------------------------------------------------------------------------------------
def test_the_default_run_offline_trains_on_the_bundled_sample_and_says_so(offline_mnist, tmp_path):
    out = tmp_path / "runs"
    result = invoke("train", "--epochs", "1", "--set", "data.limit=300", "--out", out)
    assert result.exit_code == 0, result.output
    (warning,) = result.stderr.splitlines()
    assert warning.startswith("warning: MNIST NOT FOUND, USING THE BUNDLED SAMPLE: 10,000 training and 2,000 test")
    assert "mlp data download mnist" in warning
    run = the_run(out)
    assert run.name.startswith("mnist-")
    assert "data     mnist from bundled sample: 240 train, 60 validation, 300 test rows" in result.stdout
    assert metrics(run)["data"] == {"dataset": "mnist", "source": "bundled sample", "train_rows": 300,
                                    "test_rows": 300, "checksum": metrics(run)["data"]["checksum"]}
    assert warning in (run / "train.log").read_text()


def test_the_fallback_warning_shows_when_quiet(offline_mnist, tmp_path):
    result = invoke("train", "--epochs", "1", "--set", "data.limit=100", "--out", tmp_path / "runs", "-q")
    assert result.exit_code == 0, result.output
    assert "BUNDLED SAMPLE" in result.stderr and len(result.stdout.splitlines()) == 1


# -- user errors: one line, exit code 2, no traceback ------------------------------------------------------
def config_file(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(("options", "parts"), [
    # unknown keys, with a suggestion
    (["--set", "optimiser.lr=0.1"], ["unknown key 'optimiser' in the config (top level) (did you mean 'optimizer'?)"]),
    (["--set", "model.layers.0.activaton=tanh"], ["unknown key 'activaton' in model.layers[0]",
                                                  "did you mean 'activation'?"]),
    # wrong types
    (["--set", "training.batch_size=abc"], ["training.batch_size must be an integer, got 'abc'"]),
    (["--set", "training.shuffle=1"], ["training.shuffle must be true or false, got 1"]),
    # impossible values
    (["--set", "optimizer.lr=0"], ["optimizer: lr must be a number > 0, got 0.0"]),
    (["--set", "optimizer.lr=-1e-3"], ["optimizer: lr must be a number > 0, got -0.001"]),
    (["--set", "model.layers=[{dense: 8}, {dropout: 1}, {dense: 2}]"], ["Dropout p must be in [0, 1), got 1.0"]),
    (["--set", "training.batch_size=0"], ["training.batch_size must be >= 1, got 0"]),
    # unknown names, with the valid ones
    (["--set", "model.layers.0.activation=relu6"], ["unknown value 'relu6'", "valid values: linear, relu, "]),
    (["--set", "loss=nll"], ["loss: unknown value 'nll'", "valid values: softmax_cross_entropy, "]),
    (["--set", "optimizer.name=adagrad"], ["optimizer.name: unknown value 'adagrad'",
                                           "valid values: sgd, adam, rmsprop"]),
    (["--set", "data.dataset=cifar"], ["data.dataset: unknown value 'cifar'", "valid values: mnist, "]),
    # a loss that does not fit the last layer
    (["--set", "loss=categorical_crossentropy"], ["`activation: linear`, not softmax",
                                                  "add `activation: softmax` to the last layer",
                                                  "`loss: softmax_cross_entropy`"]),
    (["--set", "model.layers.2.activation=softmax"], ["remove it from the last layer or use "
                                                      "`loss: categorical_crossentropy`"]),
    # bad --set paths
    (["--set", "optimizer.lr"], ["--set 'optimizer.lr': expected KEY.PATH=VALUE, e.g. --set optimizer.lr=0.05"]),
    (["--set", "model..dense=3"], ["expected KEY.PATH=VALUE"]),
    (["--set", "model.layers.3.dense=3"], ["--set model.layers.3.dense=3: model.layers is a list of 3 entries; "
                                           "use an index from 0 to 2"]),
    (["--set", "optimizer.lr.max=1"], ["optimizer.lr is a value, not a section"]),
    # settings that contradict each other
    (["--set", "data.validation_split=0", "--set", "training.early_stopping.patience=2"],
     ["training.early_stopping.monitor is val_loss, but data.validation_split is 0"]),
    (["--set", "schedule.name=step"], ["schedule.step_size is required (step)"]),
])
def test_config_errors_are_one_line(tmp_path, options, parts):
    result = invoke("train", SPIRALS, *options, "--out", tmp_path / "runs")
    assert_one_line_error(result, *parts)
    assert result.stdout == ""
    assert not (tmp_path / "runs").exists()  # checked before anything is written


def test_file_errors_are_one_line(tmp_path):
    assert_one_line_error(invoke("train", tmp_path / "nope.yaml"), f"error: {tmp_path / 'nope.yaml'}: no such config "
                                                                   f"file")
    bad = config_file(tmp_path, "bad.yaml", "data: {dataset: mnist\nmodel: [")
    assert_one_line_error(invoke("train", bad), f"error: {bad}:2:6: malformed YAML: ")
    listed = config_file(tmp_path, "list.yaml", "- {dense: 10}\n")
    assert_one_line_error(invoke("train", listed), f"{listed} must hold a mapping of sections")
    assert_one_line_error(invoke("train", tmp_path), "is not a regular file; give a YAML config file")


def test_a_missing_data_file_is_one_line(tmp_path):
    path = config_file(tmp_path, "table.yaml", "data: {dataset: csv, path: missing.csv}\n")
    result = invoke("train", path, "--out", tmp_path / "runs")
    assert_one_line_error(result, f"error: {tmp_path / 'missing.csv'}: no such file")  # relative to the config


def test_a_last_layer_that_does_not_fit_the_classes_names_both_numbers(tmp_path):
    result = invoke("train", SPIRALS, "--set", "model.layers.2.dense=3", "--out", tmp_path)
    assert_one_line_error(result, "error: the last dense layer has 3 units, but the data (spirals) has 2 classes; "
                                  "make it {dense: 2}")
    assert not tmp_path.exists() or not any(tmp_path.iterdir())  # no half-made run folder is left behind


def test_a_click_usage_error_is_exit_2_without_traceback(tmp_path):
    result = invoke("train", SPIRALS, "--epochs", "0", "--out", tmp_path)
    assert result.exit_code == 2
    assert "Invalid value for '--epochs': 0 is not in the range x>=1." in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("where", ["group", "command"])
def test_debug_lets_the_exception_through(tmp_path, where):
    options = ["--set", "optimiser.lr=0.1", "--out", str(tmp_path)]
    args = ["--debug", "train", SPIRALS, *options] if where == "group" else ["train", SPIRALS, "--debug", *options]
    result = invoke(*args)
    assert isinstance(result.exception, ConfigError)
    assert "did you mean 'optimizer'?" in str(result.exception)
    assert result.exit_code not in (0, 2)
    assert "error: " not in result.stderr
