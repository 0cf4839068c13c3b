from __future__ import annotations

import contextlib
import dataclasses
import gzip
import hashlib
import http.server
import os
import signal
import struct
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result

from mlp.cli import main
from mlp.data import write_idx
from mlp.data.mnist import MNIST, IdxDatasetSpec, find_files
from mlp.native import blas, mkl

ROOT = Path(__file__).resolve().parents[1]

# MKL (the mkl extra) is loaded before anything else: it cannot be loaded after PyTorch's OpenMP runtime, which
# tensorboardX brings where PyTorch is installed (mlp.native.mkl), and the loggers' tests import it as they are
# collected. Without MKL the tests of it are skipped, saying why.
with contextlib.suppress(mkl.MklError):
    mkl.load()


# The tests write only in temporary folders: the checkout they run from is the same after the session.

# What running Python and its tools may leave in the checkout: their caches, not the tests' output.
CACHES = ("__pycache__/", ".pytest_cache/", ".ruff_cache/")


def checkout_state() -> dict[str, tuple[str, int]] | None:
    """What ``git status`` shows in the checkout the tests come from, as {path: (status, mtime in ns)}, ignored
    files included (a run folder is ignored by git, yet no test may write one here); ``None`` when the tests do not
    run from a git checkout (e.g. the copy the wheel is built from) or git is missing."""
    try:
        top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=ROOT, capture_output=True, text=True)
    except OSError:
        return None
    if top.returncode != 0 or Path(top.stdout.strip()).resolve() != ROOT.resolve():
        return None
    listing = subprocess.run(["git", "status", "--porcelain=v1", "-z", "--untracked-files=all", "--ignored", "--",
                              ".", ":!.venv"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    entries = iter(listing.split("\0"))
    state = {}
    for entry in entries:
        if not entry:
            continue
        status, path = entry[:2], entry[3:]
        if status[0] in "RC":  # a rename or copy: the next entry is the path it came from
            next(entries, None)
        if path.endswith(".pyc") or any(cache in f"/{path}" for cache in CACHES):
            continue
        file = ROOT / path
        state[path] = (status, file.lstat().st_mtime_ns if file.is_symlink() or file.exists() else -1)
    return state


@pytest.fixture(scope="session", autouse=True)
def checkout_stays_clean():
    """Fails the session if a test added, changed or removed a file in the checkout (``git status``, ignored
    files included): tests write under ``tmp_path``."""
    before = checkout_state()
    yield
    if before is None:
        return
    after = checkout_state() or {}
    changed = sorted(path for path in before.keys() | after.keys() if before.get(path) != after.get(path))
    assert not changed, (f"the tests changed {len(changed)} files in the checkout (write under tmp_path): "
                         f"{', '.join(changed[:10])}")


# BLAS on one thread: with OpenBLAS's threads fighting over two busy cores, a test of 2 s took 50. This process's
# BLAS is set through the package; the processes the tests start (`mlp`, mpiexec, Dask workers) read the variables
# when their NumPy loads OpenBLAS (OMP_NUM_THREADS too, when OPENBLAS_NUM_THREADS is unset).
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")
BLAS_THREADS = blas.threads() or 1  # what OpenBLAS started with here: the tests of threading get it back


@pytest.fixture(scope="session", autouse=True)
def blas_on_one_thread():
    """BLAS runs on one thread in this process and in the processes the tests start."""
    with pytest.MonkeyPatch.context() as patch:
        for name in THREAD_VARIABLES:
            patch.setenv(name, "1")
        blas.set_threads(1)
        yield
    blas.set_threads(BLAS_THREADS)


@pytest.fixture
def blas_threads(monkeypatch) -> Iterator[int]:
    """For a test of what BLAS does on several threads: this process's OpenBLAS has the threads it started with
    again, and the processes the test starts get no thread variables (their OpenBLAS starts as it would for a user);
    returns that count. Back to one thread afterwards."""
    for name in THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    blas.set_threads(BLAS_THREADS)
    yield BLAS_THREADS
    blas.set_threads(1)


# The full MNIST set: the tests that need it read it from the folder in MLP_DATA_DIR, as the README says, and
# are skipped without it. Read once, here: every test starts with MLP_DATA_DIR unset (no_data_dir_from_the_shell).


def full_mnist() -> tuple[Path | None, str]:
    """The folder holding the four MNIST files that ``MLP_DATA_DIR`` names (itself or its ``mnist/``), or
    ``None`` and why not."""
    env = os.environ.get("MLP_DATA_DIR")
    if not env:
        return None, "the full MNIST set: set MLP_DATA_DIR to a folder with the four files"
    files = find_files(MNIST, Path(env))
    if files is None:
        return None, f"the full MNIST set: MLP_DATA_DIR {env} does not hold the four files"
    return next(iter(files.values())).parent, ""


FULL_MNIST, _WHY_NO_FULL_MNIST = full_mnist()
needs_full_mnist = pytest.mark.skipif(FULL_MNIST is None, reason=_WHY_NO_FULL_MNIST)


@pytest.fixture(autouse=True)
def no_data_dir_from_the_shell(monkeypatch):
    """Every test starts without MLP_DATA_DIR, whatever the shell has, so that the suite does the same with it
    set or not; a test of the full set sets it to ``FULL_MNIST`` itself."""
    monkeypatch.delenv("MLP_DATA_DIR", raising=False)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def away_from_zero(rng: np.random.Generator, shape: tuple[int, ...], margin: float = 0.1) -> np.ndarray:
    """Standard-normal values pushed at least ``margin`` away from 0 (keeps ReLU-family checks off the kink)."""
    x = rng.standard_normal(shape)
    return x + np.sign(x) * margin


# MNIST-format files and a local HTTP server serving them: the download tests without internet.


def make_files(folder: Path, n_train=30, n_test=10, seed=0, naming="gz") -> dict[str, tuple[str, str]]:
    """Small random MNIST-format files; returns {role: (md5 of the file as written, md5 of its content)}."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {"train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
              "train_labels": rng.integers(0, 10, n_train, dtype=np.uint8),
              "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
              "test_labels": rng.integers(0, 10, n_test, dtype=np.uint8)}
    md5s = {}
    for role, array in arrays.items():
        f = MNIST.files[role]
        name = {"gz": f"{f.stem}-idx{f.rank}-ubyte.gz", "raw": f"{f.stem}-idx{f.rank}-ubyte",
                "dotted": f"{f.stem}.idx{f.rank}-ubyte"}[naming]
        write_idx(folder / name, array)
        content = (folder / name).read_bytes()
        raw = gzip.decompress(content) if name.endswith(".gz") else content
        md5s[role] = (hashlib.md5(content).hexdigest(), hashlib.md5(raw).hexdigest())
    return md5s


def spec_for(md5s, mirrors=(), sample="mnist_sample.npz") -> IdxDatasetSpec:
    files = {role: dataclasses.replace(MNIST.files[role], gz_md5=gz, raw_md5=raw) for role, (gz, raw) in md5s.items()}
    return IdxDatasetSpec("mnist", files, tuple(mirrors), MNIST.classes, sample)


class Server:
    """An HTTP server on 127.0.0.1 with mirrors /good/, /broken/ (HTTP 500), /wrong/ (other bytes) and
    /truncated/ (closes the connection half way through); counts requests per mirror."""

    def __init__(self, root: Path) -> None:
        self.requests: dict[str, int] = {}
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                mirror, _, name = self.path.strip("/").partition("/")
                server.requests[mirror] = server.requests.get(mirror, 0) + 1
                path = root / name
                if mirror == "broken" or not path.is_file():
                    self.send_error(500 if mirror == "broken" else 404)
                    return
                body = path.read_bytes()
                if mirror == "wrong":
                    body = body[::-1]
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if mirror == "truncated" else body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        # shutdown() waits for the serving loop to look at its flag, every poll_interval (0.5 s by default)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                       daemon=True)
        self.thread.start()

    def mirror(self, name: str) -> str:
        return f"{self.url}/{name}/"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(tmp_path):
    md5s = make_files(tmp_path / "served")
    srv = Server(tmp_path / "served")
    srv.md5s = md5s
    yield srv
    srv.close()


# The command line: configs shipped with the project, and CliRunner calls of `mlp`.

CONFIGS = ROOT / "configs"
SPIRALS = CONFIGS / "spirals.yaml"


def the_run(out: Path) -> Path:
    """The one run directory ``mlp train`` wrote in ``out`` (``out/latest`` is a link to it)."""
    (run,) = [path for path in out.iterdir() if not path.is_symlink()]
    return run


def invoke(*args: str | Path) -> Result:
    """Run ``mlp ARGS...`` in-process; the result's ``stdout`` and ``stderr`` are kept apart."""
    return CliRunner().invoke(main, [str(arg) for arg in args])


@pytest.fixture
def offline_mnist(tmp_path, monkeypatch):
    """No MNIST anywhere (an empty cache, no MLP_DATA_DIR) and downloads turned off (MLP_OFFLINE): loading
    MNIST falls back to the bundled sample at once."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "offline-cache"))
    monkeypatch.delenv("MLP_DATA_DIR", raising=False)
    monkeypatch.setenv("MLP_OFFLINE", "1")


def assert_one_line_error(result: Result, *parts: str) -> str:
    """The command failed the way a user error must: exit code 2, a single ``error: ...`` line on stderr
    containing every one of ``parts``, no traceback. Returns the line."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for part in parts:
        assert part in lines[0], (part, lines[0])
    return lines[0]


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from the PNG signature and IHDR chunk."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def stop_session(process: subprocess.Popen) -> None:
    """Stop a service a test started in a session of its own (``start_new_session=True``), with every process in
    it (a server's workers): SIGTERM, then SIGKILL if it has not ended in 30 s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
