"""Messages that say exactly what is true: a broken --set value names its YAML error, a failed write names the file
(not the temporary one, not the lock), a full disk before the first checkpoint does not suggest --resume, a read
that fails without a file name gets one, and a huge run name is cut."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from conftest import SPIRALS, assert_one_line_error, invoke, the_run

import mlp.files.atomic
import mlp.train.checkpoint
from mlp import Dense, Dropout, ReLU, Sequential

SMALL = ["--set", "data.samples=400", "--epochs", "3", "--quiet"]


def test_a_broken_yaml_value_in_set_is_named_as_such():
    line = assert_one_line_error(invoke("train", "--set", "optimizer={lr: 0.1", "--epochs", "1"),
                                 "--set 'optimizer': the value '{lr: 0.1' is not valid YAML",
                                 "expected ',' or '}'")
    assert "unknown" not in line
    assert_one_line_error(invoke("train", SPIRALS, "--set", "model.layers=[{dense: 2}", "--epochs", "1"),
                          "--set 'model.layers': the value '[{dense: 2}' is not valid YAML")


def test_a_run_directory_turned_read_only_names_the_file_whose_write_failed(tmp_path, monkeypatch):
    """Simulated (the tests may run as root, who may write anywhere): from the second checkpoint on, creating a
    file in the run directory is refused, and so is removing the lock."""
    real_open, real_unlink, opened = os.open, Path.unlink, []

    def read_only_open(path, flags, mode=0o777, **kwargs):
        if str(path).endswith(".tmp") and ".last.npz." in str(path):
            opened.append(path)
            if len(opened) >= 2:
                raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, mode, **kwargs)

    def read_only_unlink(self, missing_ok=False):
        if self.name == ".lock":
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(mlp.files.atomic.os, "open", read_only_open)
    monkeypatch.setattr(Path, "unlink", read_only_unlink)
    result = invoke("train", SPIRALS, *SMALL, "--out", tmp_path)
    monkeypatch.undo()
    run = the_run(tmp_path)
    line = assert_one_line_error(result, f"cannot write {run / 'last.npz'}: Permission denied")
    assert ".lock" not in line and ".tmp" not in line


def test_a_full_disk_before_the_first_checkpoint_does_not_suggest_resume(tmp_path, monkeypatch):
    def full(file, **arrays):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(mlp.train.checkpoint.np, "savez", full)
    result = invoke("train", SPIRALS, *SMALL, "--out", tmp_path)
    monkeypatch.undo()
    run = the_run(tmp_path)
    line = assert_one_line_error(result, f"no space left on the device to write {run / 'last.npz'}",
                                 f"start it again with: mlp train {run / 'config.yaml'}")
    assert "--resume" not in line


def test_a_full_disk_when_the_lock_is_written_names_the_file(tmp_path, monkeypatch):
    real_write = os.write

    def full(fd, data):
        if data.startswith(b"pid "):  # the lock's holder line, the run directory's first write
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(mlp.files.atomic.os, "write", full)
    result = invoke("train", SPIRALS, *SMALL, "--out", tmp_path)
    monkeypatch.undo()
    run = the_run(tmp_path)
    line = assert_one_line_error(result, f"no space left on the device to write {run / '.lock'}")
    assert "[Errno" not in line


@pytest.mark.skipif(not Path("/proc/self/mem").exists(), reason="needs Linux's /proc")
def test_a_data_file_that_cannot_be_read_is_named(tmp_path):
    config = tmp_path / "mem.yaml"
    config.write_text("data: {dataset: csv, path: /proc/self/mem, target: y}\n")
    line = assert_one_line_error(invoke("train", config, "--epochs", "1", "--out", tmp_path),
                                 "cannot read /proc/self/mem: Input/output error")
    assert "[Errno" not in line


def test_a_huge_run_name_is_cut_in_the_message(tmp_path):
    config = tmp_path / "long.yaml"
    config.write_text("name: " + "a" * 120_000 + "\n")
    line = assert_one_line_error(invoke("train", config, "--epochs", "1", "--out", tmp_path),
                                 "name is 120,000 characters long", "give at most 100")
    assert len(line) < 300


def test_a_first_layer_dropout_shows_the_input_width_in_the_summary():
    lines = []
    Sequential([Dropout(0.2), Dense(4, 3), ReLU(), Dense(3, 2)], seed=0).summary(print_fn=lines.append)
    assert "(None, 4)" in lines[2] and "?" not in "".join(lines), lines


def test_the_checksum_is_described_as_catching_corruption_not_tampering():
    page = " ".join((Path(__file__).resolve().parents[2] / "docs" / "runs.md").read_text().split())  # lines joined
    assert "The checksum catches corruption, not tampering: it is stored unsigned in the file" in page
    assert "corruption, not tampering" in " ".join(mlp.train.checkpoint.__doc__.split())


def test_counts_agree_with_their_nouns():
    from mlp.messages import plural

    assert [plural(1, "epoch"), plural(3, "epoch"), plural(1000, "epoch"), plural(1, "batch", "batches"),
            plural(0, "batch", "batches")] == ["1 epoch", "3 epochs", "1,000 epochs", "1 batch", "0 batches"]
    result = invoke("config", "validate", SPIRALS, "--set", "training.epochs=1")
    assert result.exit_code == 0, result.output
    assert result.output.rstrip().endswith(", 1 epoch)")
