from __future__ import annotations

import dataclasses
import gzip
import hashlib
import http.server
import struct
import threading
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result

from mlp.cli import main
from mlp.data import write_idx
from mlp.data.mnist import MNIST, IdxDatasetSpec


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
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
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

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
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
