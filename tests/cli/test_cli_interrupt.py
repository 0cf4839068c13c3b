"""Stopping the real ``mlp train`` process: SIGINT, SIGTERM and SIGHUP save the exact point, say how to resume
and exit 130, 143 or 129; SIGKILL leaves the last epoch's checkpoint and the history so far. Each resumed run
ends bit-identical to an uninterrupted one (``scripts/interrupt_trials.py`` runs many more trials)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import SPIRALS, assert_one_line_error, invoke, the_run

import mlp.runs.run
from mlp.train.checkpoint import compare_checkpoints

# 12,800 training rows in batches of 8: an epoch takes about a tenth of a second, so a signal sent a few
# milliseconds after an epoch's line lands in the middle of the next one.
ARGS = ["--set", "data.samples=16000", "--set", "training.batch_size=8", "--epochs", "4", "--seed", "0"]


def start_training(out: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "mlp", "train", str(SPIRALS), *ARGS, "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=os.environ | {"PYTHONUNBUFFERED": "1"})


def stop_after_epoch_line(process: subprocess.Popen, signum: int, epoch: int, delay: float) -> tuple[str, str]:
    """Send ``signum`` ``delay`` seconds after the line of ``epoch``; return the whole stdout and stderr."""
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith(f"epoch {epoch}/"):
            time.sleep(delay)
            process.send_signal(signum)
            break
    out, err = process.communicate(timeout=60)
    return "".join(lines) + out, err


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    """One output folder for every run here: the runs' stored configs (and so their files) are then the same."""
    return tmp_path_factory.mktemp("runs")


def new_run(out: Path, before: set[Path]) -> Path:
    (run,) = {path for path in out.iterdir() if not path.is_symlink()} - before
    return run


@pytest.fixture(scope="module")
def reference(out):
    result = invoke("train", SPIRALS, *ARGS, "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    return new_run(out, set())


def without_time(path: Path) -> list[dict]:
    return [{k: v for k, v in record.items() if k != "time"} for record in json.loads(path.read_text())]


def assert_same_run(run: Path, reference: Path) -> None:
    for name in ("last.npz", "model.npz"):
        assert compare_checkpoints(run / name, reference / name) == [], name
    assert without_time(run / "history.json") == without_time(reference / "history.json")


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)],
                         ids=["SIGINT", "SIGTERM", "SIGHUP"])
def test_a_stop_signal_saves_says_how_to_resume_and_the_resumed_run_is_identical(out, reference, signum, code):
    before = set(out.iterdir())
    process = start_training(out)
    stdout, err = stop_after_epoch_line(process, signum, epoch=1, delay=0.03)
    run = new_run(out, before)
    assert process.returncode == code, err
    assert "interrupted during epoch 2 after batch" in stdout and f"({signum.name})" in stdout
    assert f"interrupted: saved {run / 'last.npz'}; resume with mlp train --resume {run}" in err
    assert "Traceback" not in err
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["status"] == "interrupted" and metrics["interrupted"] is True
    assert len(json.loads((run / "history.json").read_text())) == 1
    assert not (run / ".lock").exists()
    resumed = invoke("train", "--resume", run, "--quiet")
    assert resumed.exit_code == 0, resumed.output
    assert_same_run(run, reference)


@pytest.mark.slow
def test_a_killed_run_keeps_its_history_says_what_to_do_and_resumes_identically(tmp_path, out, reference):
    before = set(out.iterdir())
    process = start_training(out)
    stop_after_epoch_line(process, signal.SIGKILL, epoch=2, delay=0.03)
    run = new_run(out, before)
    assert len(json.loads((run / "history.json").read_text())) >= 2  # written after every epoch
    assert not (run / "metrics.json").exists() and not (run / "model.npz").exists()
    assert_one_line_error(invoke("evaluate", run), f"{run} has no model.npz: the run did not finish",
                          f"mlp train --resume {run}", f"mlp evaluate {run / 'last.npz'}")
    assert invoke("evaluate", run / "last.npz").exit_code == 0
    plotted = invoke("plot", run, "--out", tmp_path / "curves.png")
    assert plotted.exit_code == 0, plotted.output
    resumed = invoke("train", "--resume", run, "--quiet")  # the killed process's lock died with it
    assert resumed.exit_code == 0, resumed.output
    assert_same_run(run, reference)


def test_a_signal_after_the_last_epoch_leaves_a_complete_run_and_no_resume_to_do(tmp_path, monkeypatch):
    def write_and_signal(self, state, logs):
        self.write(state.history)
        if state.position.epoch == state.epochs:
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(mlp.runs.run.RunFiles, "on_epoch_end", write_and_signal)
    result = invoke("train", SPIRALS, "--epochs", "2", "--out", tmp_path)
    run = the_run(tmp_path)
    assert result.exit_code == 143, result.output  # the signal is still the shell's to see
    assert "signal   SIGTERM arrived after training ended; the run is complete" in result.stdout
    assert "--resume" not in result.output
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["status"] == "completed" and metrics["test"] is not None
    assert_one_line_error(invoke("train", "--resume", run), "has completed 2 epochs of 2",
                          "resume with more, e.g. --epochs 12")


def test_a_signal_while_the_run_folder_is_made_stops_before_the_first_batch_and_resumes(tmp_path, monkeypatch):
    made = mlp.runs.run.point_latest

    def make_and_signal(run_dir):
        made(run_dir)
        os.kill(os.getpid(), signal.SIGINT)  # before the lock is taken and the config written

    assert invoke("train", SPIRALS, "--epochs", "2", "--out", tmp_path, "--quiet").exit_code == 0
    reference = the_run(tmp_path)
    monkeypatch.setattr(mlp.runs.run, "point_latest", make_and_signal)
    result = invoke("train", SPIRALS, "--epochs", "2", "--out", tmp_path)
    run = new_run(tmp_path, {reference, tmp_path / "latest"})
    assert result.exit_code == 130, result.output
    assert f"resume with mlp train --resume {run}" in result.stderr and "Traceback" not in result.output
    monkeypatch.undo()
    resumed = invoke("train", "--resume", run, "--quiet")
    assert resumed.exit_code == 0, resumed.output
    assert_same_run(run, reference)


# Where a stop signal lands in the command decides what it does: inside its work (command_work) it raises and the
# command reports it; outside (click's start and end, the exit), it ends the process at once, with one line, or
# with none once the command is stopping or has ended.
WHERE = {
    "outside the command's work": ("with command_signals():\n    signal.raise_signal(signal.SIGTERM)", 143, True),
    "after the command": ("with command_signals():\n    pass\nsignal.raise_signal(signal.SIGHUP)", 129, False),
    "after a stop was recorded": ("with command_signals():\n    with stop_signals():\n"
                                  "        signal.raise_signal(signal.SIGTERM)\n    signal.raise_signal(signal.SIGINT)",
                                  130, False),
    "inside the command's work": ("with command_signals(), command_work():\n    try:\n"
                                  "        signal.raise_signal(signal.SIGINT)\n"
                                  "    except KeyboardInterrupt as err:\n        print(type(err).__name__)", 0, False),
}


@pytest.mark.parametrize("where", WHERE)
def test_a_stop_signal_outside_the_commands_work_ends_the_process_at_once(where):
    code, expected, says = WHERE[where]
    program = ("import signal\nfrom mlp.train.interrupts import command_signals, command_work, stop_signals\n"
               + code)
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert result.returncode == expected, result.stderr
    assert result.stderr == ("error: stopped by SIGTERM; files written before are intact (every write is atomic)\n"
                             if says else ""), result.stderr
    assert result.stdout == ("Stopped\n" if where == "inside the command's work" else "")
