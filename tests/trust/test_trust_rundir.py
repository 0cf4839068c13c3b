"""A run directory is consistent and belongs to one process: the lock, a failed resume that changes nothing,
leftovers of interrupted writes, file modes, a full disk, and data paths that work from anywhere."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import CONFIGS, SPIRALS, assert_one_line_error, invoke, the_run

import mlp.train.checkpoint
from mlp.files.lock import folder_lock
from mlp.train.checkpoint import compare_checkpoints, load_checkpoint

QUICK = ["--epochs", "3", "--set", "data.samples=400", "--quiet"]


def train_run(out: Path, *args: str | Path) -> Path:
    result = invoke("train", *args, "--out", out)
    assert result.exit_code == 0, result.output
    run = the_run(out)
    return run


def snapshot(folder: Path) -> dict[str, tuple[bytes, int, int]]:
    """Every file's bytes, modification time and mode: what "changes nothing" compares."""
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns, p.stat().st_mode) for p in sorted(folder.iterdir())}


def test_a_second_process_is_refused_naming_the_holder(tmp_path):
    run = train_run(tmp_path, SPIRALS, *QUICK)
    before = snapshot(run)
    with folder_lock(run, "mlp train"):
        result = invoke("train", "--resume", run, "--epochs", "5")
    assert_one_line_error(result, f"{run} is in use by another process (pid {os.getpid()}, mlp train); wait for it")
    assert snapshot(run) == before


HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from mlp.files.lock import folder_lock
    with folder_lock(Path(sys.argv[1]), "mlp train"):
        print("locked", flush=True)
        time.sleep(60)
""")


def test_the_lock_of_a_killed_process_is_taken_over(tmp_path):
    run = train_run(tmp_path, SPIRALS, *QUICK)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(run)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline() == "locked\n"
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)
    holder.stdout.close()
    assert (run / ".lock").exists()  # left behind by the dead process, with its PID in it
    result = invoke("train", "--resume", run, "--epochs", "4", "--quiet")
    assert result.exit_code == 0, result.output
    assert not (run / ".lock").exists()


def test_a_failed_resume_changes_nothing(tmp_path):
    data = tmp_path / "data.csv"
    rng = np.random.default_rng(0)
    np.savetxt(data, np.column_stack([rng.standard_normal((60, 3)), np.arange(60) % 2]), delimiter=",",
               fmt=["%.5f"] * 3 + ["%d"], header="a,b,c,label", comments="")
    run = train_run(tmp_path / "runs", "--set", "data.dataset=csv", "--set", f"data.path={data}", "--set",
                    "model.layers=[{dense: 8, activation: relu}, {dense: 2}]", "--epochs", "2", "--quiet")
    before = snapshot(run)
    # the data gained a column since: the checkpoint no longer fits the network the data calls for
    np.savetxt(data, np.column_stack([rng.standard_normal((60, 4)), np.arange(60) % 2]), delimiter=",",
               fmt=["%.5f"] * 4 + ["%d"], header="a,b,c,d,label", comments="")
    assert_one_line_error(invoke("train", "--resume", run, "--epochs", "4"),
                          f"{run / 'last.npz'} holds another architecture: layer 0 is Dense(3, 8) in the file but "
                          f"Dense(4, 8) in the model")
    assert snapshot(run) == before  # not config.yaml, not train.log, no lock left behind


def test_leftovers_of_interrupted_writes_are_removed_on_resume(tmp_path):
    run = train_run(tmp_path, SPIRALS, *QUICK)
    leftovers = [run / ".last.npz.1a2b3c4d.tmp", run / ".history.json.5e6f7a8b.tmp"]
    for leftover in leftovers:
        leftover.write_bytes(b"half of a file" * 1000)
    result = invoke("train", "--resume", run, "--epochs", "4", "--quiet")
    assert result.exit_code == 0, result.output
    assert not any(leftover.exists() for leftover in leftovers)
    assert not list(run.glob(".*.tmp"))


def test_a_checkpoint_callback_removes_its_own_leftovers(tmp_path):
    from mlp import SGD, Dense, ModelCheckpoint, Sequential, SoftmaxCrossEntropy, fit
    from mlp.data import two_spirals

    leftover = tmp_path / ".last.npz.deadbeef.tmp"
    leftover.write_bytes(b"x" * 100)
    other = tmp_path / ".notes.txt.deadbeef.tmp"  # not the checkpoint's: left alone
    other.write_bytes(b"x")
    x, y = two_spirals(50)
    fit(Sequential([Dense(2, 2)], seed=0), SoftmaxCrossEntropy(), SGD(), x, y, epochs=1, verbose=0,
        callbacks=[ModelCheckpoint(tmp_path / "last.npz")])
    assert not leftover.exists() and other.exists()


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_files_get_the_mode_the_umask_gives(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        run = train_run(tmp_path, SPIRALS, *QUICK)
    finally:
        os.umask(previous)
    modes = {path.name: path.stat().st_mode & 0o777 for path in run.iterdir()}
    assert modes == dict.fromkeys(modes, mode), modes
    assert {"config.yaml", "train.log", "last.npz", "model.npz", "history.json", "metrics.json"} <= set(modes)


def test_a_full_disk_names_the_file_and_how_to_resume(tmp_path, monkeypatch):
    saves = []
    real = mlp.train.checkpoint.np.savez

    def savez_until_the_disk_is_full(file, **arrays):
        saves.append(1)
        if len(saves) == 3:  # the checkpoint after epoch 3
            raise OSError(errno.ENOSPC, "No space left on device")
        real(file, **arrays)

    monkeypatch.setattr(mlp.train.checkpoint.np, "savez", savez_until_the_disk_is_full)
    result = invoke("train", SPIRALS, "--epochs", "5", "--set", "data.samples=400", "--out", tmp_path, "--quiet")
    monkeypatch.undo()
    run = the_run(tmp_path)
    assert_one_line_error(result, f"no space left on the device to write {run / 'last.npz'}; free some space, then "
                                  f"continue with: mlp train --resume {run}")
    assert load_checkpoint(run / "last.npz").position.epoch == 2  # the last good one, intact
    assert not list(run.glob(".*.tmp"))
    resumed = invoke("train", "--resume", run, "--quiet")
    assert resumed.exit_code == 0, resumed.output
    assert json.loads((run / "metrics.json").read_text())["epochs"] == 5


FILL_DISK = """
set -eu
mount -t tmpfs -o size=400k tmpfs "${DISK:?}"
head -c 300000 /dev/zero > "${DISK:?}/filler"
set +e
"$PYTHON" -m mlp train "$CONFIG" --epochs 40 --set data.samples=400 --out "${DISK:?}/runs" --quiet
echo "exit $?"
run=$(ls -d "${DISK:?}"/runs/spirals-*)
rm "${DISK:?}/filler"
"$PYTHON" -c "import sys; from mlp import load_checkpoint; load_checkpoint(sys.argv[1])" "$run/last.npz"
echo "last checkpoint $?"
"$PYTHON" -m mlp train --resume "$run" --quiet > /dev/null
echo "resumed $?"
"""


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare (util-linux) for a private tmpfs")
def test_a_real_full_disk(tmp_path):
    """On a 400 KB tmpfs in a private mount namespace (gone when the shell ends): the run fails on a write,
    one line names the file, the last checkpoint is whole, and once there is space the run resumes."""
    disk = tmp_path / "disk"
    disk.mkdir()
    env = os.environ | {"DISK": str(disk), "PYTHON": sys.executable, "CONFIG": str(SPIRALS)}
    result = subprocess.run(["unshare", "-rm", "sh", "-c", FILL_DISK], capture_output=True, text=True, env=env,
                            timeout=120)
    if "mount" in result.stderr and ("permission" in result.stderr.lower() or "denied" in result.stderr.lower()):
        pytest.skip(f"no mount namespaces here: {result.stderr.strip()}")
    assert "exit 2" in result.stdout, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "no space left on the device to write " in errors[0], result.stderr
    assert "free some space, then continue with: mlp train --resume" in errors[0]
    assert "Traceback" not in result.stderr
    assert "last checkpoint 0" in result.stdout and "resumed 0" in result.stdout, result.stdout + result.stderr


def test_data_paths_work_from_any_directory_and_the_stored_config_repeats_the_run(tmp_path, monkeypatch):
    monkeypatch.chdir(CONFIGS.parent)  # configs/csv_example.yaml names its data relative to itself
    run = train_run(tmp_path / "runs", "configs/csv_example.yaml", "--epochs", "3", "--quiet")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert invoke("evaluate", run).exit_code == 0
    assert invoke("predict", run, "iris", "--limit", "1").exit_code in (0, 2)  # not a dataset name: a clear error
    again = train_run(tmp_path / "again", run / "config.yaml", "--quiet")
    assert compare_checkpoints(again / "model.npz", run / "model.npz") == ["metadata extra differs"]  # output.dir
    first, second = (json.loads((r / "metrics.json").read_text())["test"] for r in (run, again))
    assert first == second
    resumed = invoke("train", "--resume", run, "--epochs", "4", "--quiet")
    assert resumed.exit_code == 0, resumed.output


def test_a_run_stopped_before_its_first_epoch_says_what_to_do(tmp_path):
    run = tmp_path / "spirals-20260101-000000"
    run.mkdir()
    (run / "config.yaml").write_text("seed: 0\n")  # what a run writes before its first epoch
    (run / "train.log").write_text("run      spirals\n")
    assert_one_line_error(invoke("evaluate", run), f"{run} has no model.npz: the run stopped before its first epoch "
                                                   f"ended, so nothing was saved; start it again with "
                                                   f"`mlp train {run / 'config.yaml'}`")
    assert_one_line_error(invoke("train", "--resume", run), f"{run} has no last.npz: no epoch completed before the "
                                                            f"run stopped, so there is nothing to resume")
    assert_one_line_error(invoke("plot", run), f"{run} has no history.json yet: no epoch of the run has finished")
    not_a_run = tmp_path / "photos"
    not_a_run.mkdir()
    assert_one_line_error(invoke("evaluate", not_a_run), f"{not_a_run} has no model.npz; is it a run directory "
                                                         f"written by `mlp train`?")


def test_a_run_killed_after_its_last_epoch_is_finished_by_resume(tmp_path):
    run = train_run(tmp_path, SPIRALS, *QUICK)
    kept = (run / "model.npz").read_bytes()
    (run / "model.npz").unlink()
    (run / "metrics.json").unlink()  # killed while writing its results
    result = invoke("train", "--resume", run, "--quiet")
    assert result.exit_code == 0, result.output
    assert json.loads((run / "metrics.json").read_text())["status"] == "completed"
    (tmp_path / "kept.npz").write_bytes(kept)
    assert compare_checkpoints(run / "model.npz", tmp_path / "kept.npz") == []
    assert_one_line_error(invoke("train", "--resume", run), "has completed 3 epochs of 3; to train on, resume with "
                                                            "more, e.g. --epochs 13")
