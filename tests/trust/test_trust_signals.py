"""Stop signals at any moment of the real ``mlp`` command (its console script): during start-up (the import of the
library, reading the config, loading data) a signal ends it with at most one line and the shell's exit code, never
a traceback; a double Ctrl-C leaves metrics.json, the history and model.npz agreeing, and says how to resume once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import SPIRALS, invoke, the_run

from mlp.train.checkpoint import load_checkpoint

MLP = Path(sys.executable).parent / "mlp"  # the console script installed with the package
# Every test starts the real command, several times: out of the edit-test loop
pytestmark = pytest.mark.slow
CODES = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGHUP: 129}
DELAYS = [0.0, 0.05, 0.1, 0.2, 0.3, 0.45, 0.6, 0.8, 1.0, 1.5]


def start(*args: str | Path) -> subprocess.Popen:
    return subprocess.Popen([str(MLP), *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=os.environ | {"PYTHONUNBUFFERED": "1"})


def stop_at(args: list, signum: int, delay: float, again: float | None = None) -> tuple[int, str, str]:
    """Start ``mlp ARGS``, send ``signum`` after ``delay`` seconds (and again ``again`` seconds later)."""
    process = start(*args)
    time.sleep(delay)
    process.send_signal(signum)
    if again is not None:
        time.sleep(again)
        process.send_signal(signum)
    out, err = process.communicate(timeout=120)
    return process.returncode, out, err


def assert_stopped_cleanly(code: int, err: str, signum: int, what: str) -> None:
    # -signum: the signal came before Python had started (its default action); 0: the command had finished
    assert code in (CODES[signum], -signum, 0), (what, code, err)
    assert "Traceback" not in err, (what, err)
    assert len(err.splitlines()) <= 1, (what, err)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    assert invoke("train", SPIRALS, "--epochs", "1", "--out", out, "--quiet").exit_code == 0
    return the_run(out)


@pytest.mark.skipif(not MLP.is_file(), reason="needs the installed console script")
@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_a_stop_signal_during_start_up_ends_the_command_in_one_line_with_its_exit_code(tmp_path, run, command):
    args = ["train", SPIRALS, "--epochs", "50", "--out", tmp_path] if command == "train" else ["evaluate", run]
    signals = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]
    for i, delay in enumerate(DELAYS):
        signum = signals[i % 3]
        code, _, err = stop_at(args, signum, delay)
        assert_stopped_cleanly(code, err, signum, f"{command} {signum.name} after {delay} s")


@pytest.mark.skipif(not MLP.is_file(), reason="needs the installed console script")
def test_a_second_sigterm_during_start_up_exits_143(tmp_path):
    for delay in (0.1, 0.3, 0.6):
        code, _, err = stop_at(["train", SPIRALS, "--epochs", "50", "--out", tmp_path], signal.SIGTERM, delay,
                                 again=0.01)
        assert_stopped_cleanly(code, err, signal.SIGTERM, f"twice after {delay} s")
        assert code in (143, -15), (delay, code, err)


# 12,800 training rows in batches of 8: an epoch takes about a tenth of a second
BIG = ["--set", "data.samples=16000", "--set", "training.batch_size=8", "--seed", "0"]


def resume_until(run: Path, epoch: int, *signums: int) -> tuple[int, str, str]:
    """Resume ``run`` to 8 epochs; after the line of ``epoch``, send ``signums`` 5 ms apart."""
    process = start("train", "--resume", run, "--epochs", "8")
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith(f"epoch {epoch}/"):
            time.sleep(0.03)
            for signum in signums:
                process.send_signal(signum)
                time.sleep(0.005)
            break
    out, err = process.communicate(timeout=120)
    return process.returncode, "".join(lines) + out, err


def completed_run(out: Path) -> Path:
    assert invoke("train", SPIRALS, *BIG, "--epochs", "3", "--out", out, "--quiet").exit_code == 0
    run = the_run(out)
    assert json.loads((run / "metrics.json").read_text())["epochs"] == 3
    return run


@pytest.mark.skipif(not MLP.is_file(), reason="needs the installed console script")
def test_a_double_ctrl_c_leaves_metrics_history_and_model_agreeing_and_says_how_to_resume_once(tmp_path):
    run = completed_run(tmp_path)
    code, out, err = resume_until(run, 5, signal.SIGINT, signal.SIGINT)
    assert code == 130, (out, err)
    assert "Traceback" not in err
    assert (out + err).count(f"mlp train --resume {run}") == 1, (out, err)
    metrics = json.loads((run / "metrics.json").read_text())
    history = json.loads((run / "history.json").read_text())
    model = load_checkpoint(run / "model.npz")
    assert metrics["status"] == "interrupted" and metrics["epochs"] == len(history) >= 5, metrics
    # model.npz holds the epochs the history has, or metrics.json says which one it holds
    assert model.epoch == len(history) or f"epoch {model.epoch}," in metrics["model"], (model.epoch, metrics)
    resumed = invoke("train", "--resume", run, "--epochs", "8", "--quiet")
    assert resumed.exit_code == 0, resumed.output


@pytest.mark.skipif(not MLP.is_file(), reason="needs the installed console script")
def test_a_resumed_run_killed_leaves_no_results_of_the_run_before(tmp_path):
    run = completed_run(tmp_path)
    code, _, _ = resume_until(run, 5, signal.SIGKILL)
    assert code == -signal.SIGKILL
    assert len(json.loads((run / "history.json").read_text())) >= 5
    assert not (run / "metrics.json").exists() and not (run / "model.npz").exists()  # they said: 3 epochs
    assert "the run did not finish" in invoke("evaluate", run).stderr
