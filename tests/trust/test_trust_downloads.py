"""Downloads on a network that hangs, is turned off, or serves the wrong bytes: a real server on 127.0.0.1 that
accepts connections and never answers, `mlp` commands in-process, one line each time, and a failure
remembered so that the next command falls back at once."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pty
import socket
import struct
import subprocess
import sys
import termios
import textwrap
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import assert_one_line_error, invoke, spec_for, the_run

from mlp.data import DATASETS, DataError
from mlp.data.mnist import FASHION_MNIST, MNIST, idx_source, load_idx_dataset

QUICK = ["--epochs", "1", "--set", "data.limit=200", "--quiet"]
RECORD = "download-failed.json"


class Silent:
    """A server on 127.0.0.1 that accepts every connection and never answers: a network that hangs. Counts the
    connections; ``close`` ends them and the thread."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.02)
        self.connections: list[socket.socket] = []
        self.stop = threading.Event()
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/"
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            with contextlib.suppress(TimeoutError):  # a pause to look at the stop event
                self.connections.append(self.listener.accept()[0])

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        for connection in [*self.connections, self.listener]:
            connection.close()


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No test sees the user's cache, MLP_DATA_DIR or download settings."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    for name in ("MLP_DATA_DIR", "MLP_OFFLINE", "MLP_DOWNLOAD_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def silent():
    server = Silent()
    yield server
    server.close()


@pytest.fixture
def hanging_mnist(silent, monkeypatch):
    """`mlp` commands download MNIST from two mirrors that both hang."""
    spec = replace(MNIST, mirrors=(silent.url, silent.url + "second/"))
    monkeypatch.setitem(DATASETS._entries, "mnist", idx_source(spec))  # in place: the registry's order stays
    return silent


def timed(*args: str | Path):
    start = time.monotonic()
    result = invoke(*args)
    return result, time.monotonic() - start


@pytest.mark.slow
def test_a_hanging_network_is_said_given_up_on_once_and_remembered(hanging_mnist, tmp_path, monkeypatch):
    monkeypatch.setenv("MLP_DOWNLOAD_TIMEOUT", "2")
    cache = tmp_path / "xdg" / "mlp" / "mnist"
    result, seconds = timed("train", *QUICK, "--out", tmp_path / "runs")
    assert result.exit_code == 0, result.output
    assert seconds < 2 + 15  # the budget, and the training on the sample; 184 s before
    first, warning = result.stderr.splitlines()  # what is downloaded is said before it is tried
    assert first == (f"downloading mnist: 4 files, 11.6 MB, from {hanging_mnist.url} into {cache} (gives up after "
                     f"2 s without data; MLP_OFFLINE=1 never downloads)")
    assert warning.startswith("warning: MNIST NOT FOUND, USING THE BUNDLED SAMPLE")
    assert (f"could not download train-images-idx3-ubyte.gz: {hanging_mnist.url}train-images-idx3-ubyte.gz: no data "
            f"for 2 s, gave up (set MLP_DOWNLOAD_TIMEOUT to wait longer)") in warning
    assert len(hanging_mnist.connections) == 1  # no retry and no second mirror once the budget is spent
    record = json.loads((cache / RECORD).read_text())
    assert record["error"].startswith("could not download") and time.time() - record["time"] < 60

    # The next command (another one: the same path serves train, evaluate, predict and plot) falls back at once
    again, seconds = timed("evaluate", the_run(tmp_path / "runs"))
    assert again.exit_code == 0, again.output
    assert seconds < 5
    assert len(hanging_mnist.connections) == 1
    (warning,) = again.stderr.splitlines()
    assert warning.startswith("warning: MNIST NOT FOUND, USING THE BUNDLED SAMPLE")
    assert "is not tried again before" in warning and f"to try now, delete {cache / RECORD} (could not" in warning


@pytest.mark.slow
def test_the_default_budget_is_30_seconds_in_all(silent, tmp_path):
    spec = replace(MNIST, mirrors=(silent.url, silent.url + "second/"))
    start = time.monotonic()
    with pytest.raises(DataError, match=r"no data for 30 s, gave up"):
        load_idx_dataset(spec, cache=tmp_path / "cache", strict=True)
    assert 29 < time.monotonic() - start < 45  # 2 mirrors x 3 attempts x 30 s = 184 s before
    assert len(silent.connections) == 1


def test_a_failure_is_retried_after_an_hour_and_a_success_forgets_it(server, tmp_path):
    spec, folder = spec_for(server.md5s, [server.mirror("good")]), tmp_path / "cache" / "mnist"
    folder.mkdir(parents=True)
    (folder / RECORD).write_text(json.dumps({"time": time.time() - 600, "error": "no data"}))
    with pytest.warns(UserWarning, match=r"a download failed at \d\d:\d\d and is not tried again before \d\d:\d\d"):
        assert load_idx_dataset(spec, cache=tmp_path / "cache").source == "bundled sample"
    assert server.requests == {}
    (folder / RECORD).write_text(json.dumps({"time": time.time() - 3700, "error": "no data"}))
    assert load_idx_dataset(spec, cache=tmp_path / "cache").source.startswith("downloaded")
    assert not (folder / RECORD).exists()


def test_offline_never_touches_the_network(hanging_mnist, tmp_path, monkeypatch):
    monkeypatch.setenv("MLP_OFFLINE", "1")
    result, seconds = timed("train", *QUICK, "--out", tmp_path / "runs")
    assert result.exit_code == 0, result.output
    assert seconds < 15
    (warning,) = result.stderr.splitlines()
    assert warning.startswith("warning: MNIST NOT FOUND, USING THE BUNDLED SAMPLE") and "(MLP_OFFLINE is set, so " \
           "nothing is downloaded; unset it to download mnist)" in warning
    with pytest.raises(DataError, match=r"mnist is not available: not in .* and MLP_OFFLINE is set, so nothing is "
                                        r"downloaded"):
        load_idx_dataset(replace(MNIST, mirrors=(hanging_mnist.url,)), cache=tmp_path / "cache", strict=True)
    assert_one_line_error(invoke("data", "download"), "MLP_OFFLINE is set, so nothing is downloaded; unset it to "
                                                      "download mnist")
    assert invoke("data", "info").stdout.startswith("mnist          not found, and MLP_OFFLINE is set: no download "
                                                    "(or fall back to the bundled sample)")
    assert hanging_mnist.connections == []
    assert not (tmp_path / "xdg" / "mlp" / "mnist" / RECORD).exists()  # nothing was tried: nothing to remember


@pytest.mark.parametrize("value", ["soon", "0", "-5", "nan", "inf"])
def test_a_bad_timeout_setting_is_one_line(hanging_mnist, monkeypatch, value):
    monkeypatch.setenv("MLP_DOWNLOAD_TIMEOUT", value)
    assert_one_line_error(invoke("data", "download"), f"MLP_DOWNLOAD_TIMEOUT is {value!r}, not a number of seconds "
                                                      "> 0; set it to one (e.g. MLP_DOWNLOAD_TIMEOUT=120) or unset it")
    assert hanging_mnist.connections == []


def test_wrong_bytes_are_a_checksum_failure(server, monkeypatch, tmp_path):
    monkeypatch.setitem(DATASETS._entries, "mnist", idx_source(spec_for(server.md5s, [server.mirror("wrong")])))
    result = invoke("data", "download")
    assert result.exit_code == 2 and result.stderr.startswith("downloading mnist: 4 files")
    error = result.stderr.splitlines()[-1]
    assert error.startswith(f"error: could not download train-images-idx3-ubyte.gz: {server.mirror('wrong')}train-"
                            f"images-idx3-ubyte.gz has MD5 ")
    assert error.endswith(f", expected {server.md5s['train_images'][0]}; the file was deleted")
    assert sorted(os.listdir(tmp_path / "xdg" / "mlp" / "mnist")) == []


def test_a_download_removes_what_a_killed_download_left_but_not_one_in_progress(server, tmp_path):
    folder = tmp_path / "cache" / "mnist"
    folder.mkdir(parents=True)
    dead = folder / ".train-images-idx3-ubyte.gz.0badc0de.tmp"
    alive = folder / ".train-images-idx3-ubyte.gz.5ca1ab1e.tmp"
    for leftover in (dead, alive):
        leftover.write_bytes(b"part of a download")
    os.utime(dead, (dead.stat().st_atime, dead.stat().st_mtime - 7200))  # two hours old: its writer is gone
    data = load_idx_dataset(spec_for(server.md5s, [server.mirror("good")]), cache=tmp_path / "cache")
    assert data.source == f"downloaded to {folder}"
    assert not dead.exists() and alive.exists()


def test_a_progress_bar_on_a_terminal(server, tmp_path):
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parents[1])!r})
        from conftest import spec_for
        from mlp.data.mnist import load_idx_dataset
        load_idx_dataset(spec_for({server.md5s!r}, [{server.mirror("good")!r}]), cache={str(tmp_path / "c")!r})
    """)
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # a new one is 0 columns wide
    process = subprocess.Popen([sys.executable, "-c", code], stderr=terminal, stdout=subprocess.DEVNULL)
    os.close(terminal)  # the child holds it: reading ends when the child has ended
    shown = b""
    try:
        while chunk := _read(controller):
            shown += chunk
    finally:
        os.close(controller)
        process.wait(timeout=120)
    assert process.returncode == 0, shown
    assert b"downloading mnist: 4 files" in shown and b"train-images-idx3-ubyte.gz:" in shown and b"%|" in shown


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except OSError:  # the terminal's other end is closed: all was read
        return b""


def test_fashion_mnist_comes_over_https_with_checksums():
    assert all(mirror.startswith("https://") for mirror in FASHION_MNIST.mirrors)
    assert {role: f.gz_md5 for role, f in FASHION_MNIST.files.items()} == {
        "train_images": "8d4fb7e6c68d591d4c3dfef9ec88bf0d", "train_labels": "25c81989df183df01b3e8a0aad5dffbe",
        "test_images": "bef4ecab320f06d8554ea6380940ec79", "test_labels": "bb300cfdad3c16e7a12a480ee83cd310"}
