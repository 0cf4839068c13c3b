"""NPZ data files are read within bounds: a 2 MB file whose member inflates to 2 GiB is refused from the zip
directory, in a child process that could not even allocate it (`mlp train` on data.path, `mlp predict`);
a member whose declared size is smaller than its stream is read only that far; thousands of entries, a name
twice and nested names."""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import invoke, the_run

from mlp.data import DataError, load_npz

MiB, GiB = 1 << 20, 1 << 30
MEMORY_LIMIT = 1536 * MiB  # the children's address space: a 2 GiB array cannot be allocated in it


def npy_header(shape: tuple[int, ...], descr: str = "<f8") -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def deflated(header: bytes, zero_mib: int) -> bytes:
    """A raw deflate stream of ``header`` then ``zero_mib`` MiB of zeros: one compressed MiB repeated (a full flush
    makes each block stand alone), so 2 GiB take 2 MB and milliseconds to build."""
    def alone(data: bytes) -> bytes:
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        return compressor.compress(data) + compressor.flush(zlib.Z_FULL_FLUSH)

    return alone(header) + alone(bytes(MiB)) * zero_mib + zlib.compressobj(9, zlib.DEFLATED, -15).flush()


def write_zip(path: Path, members: list[tuple[str, bytes, int, int]]) -> None:
    """A zip archive of deflated ``(name, stream, crc, declared size)`` members, written by hand: its directory
    says whatever the test wants it to."""
    out, directory = bytearray(), bytearray()
    for name, stream, crc, size in members:
        offset, encoded = len(out), name.encode()
        out += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 33, crc, len(stream), size, len(encoded), 0)
        out += encoded + stream
        directory += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 33, crc, len(stream), size,
                                 len(encoded), 0, 0, 0, 0, 0, offset) + encoded
    start = len(out)
    out += directory + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members), len(directory),
                                   start, 0)
    path.write_bytes(bytes(out))


def member(name: str, array: np.ndarray) -> tuple[str, bytes, int, int]:
    """An honest deflated member."""
    data = npy(array)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return name, compressor.compress(data) + compressor.flush(), zlib.crc32(data), len(data)


@pytest.fixture
def bomb(tmp_path) -> Path:
    """A 2 MB .npz whose x (262,144 x 1,024 float64, zeros, deflated) inflates to 2 GiB, and a small y."""
    header = npy_header((262144, 1024))
    path = tmp_path / "bomb.npz"
    # The CRC is never reached: the archive is refused from its directory.
    write_zip(path, [("x.npy", deflated(header, 2048), 0, len(header) + 2 * GiB),
                     member("y.npy", np.zeros(262144, np.int64))])
    assert path.stat().st_size < 3 * MiB
    return path


# The child is started by a small launcher, not by this (large) process: a child's peak memory counts what its
# parent held when it forked it, and pytest holds hundreds of MB by the end of the suite.
LAUNCHER = """
import json, os, resource, subprocess, sys, time
limit = int(sys.argv[1])
start = time.monotonic()
child = subprocess.Popen(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit)))
stderr = child.stderr.read().decode()
_, status, usage = os.wait4(child.pid, 0)
print(json.dumps([os.waitstatus_to_exitcode(status), stderr, time.monotonic() - start, usage.ru_maxrss * 1024]))
"""


def run_limited(*args: str | Path) -> tuple[int, str, float, int]:
    """``python -m mlp ARGS`` in a child limited to ``MEMORY_LIMIT`` of address space: its exit code, stderr,
    seconds, and the most memory it held (bytes)."""
    launched = subprocess.run([sys.executable, "-c", LAUNCHER, str(MEMORY_LIMIT), sys.executable, "-m", "mlp",
                               *map(str, args)], capture_output=True, text=True, check=True)
    code, stderr, seconds, memory = json.loads(launched.stdout)
    return code, stderr, seconds, memory


def assert_refused(code: int, stderr: str, seconds: float, memory: int, path: Path) -> None:
    assert code == 2, stderr
    (line,) = stderr.splitlines()  # the exact sizes are checked below, from the library
    assert line.startswith(f"error: {path} is refused: array 'x' would inflate from ") and line.endswith(
        "times; data compresses at most 100 times); if it is real, save it uncompressed (numpy.savez)")
    assert seconds < 30  # start-up and imports on a loaded machine; the check itself takes milliseconds
    assert memory < 150 * MiB  # the interpreter, numpy and mlp (about 45 MB); not the 2 GiB


@pytest.mark.slow
def test_a_bomb_is_refused_from_the_directory_by_train_and_predict(bomb, tmp_path):
    config = tmp_path / "bomb.yaml"
    config.write_text(f"data: {{dataset: npz, path: {bomb}}}\nmodel: {{layers: [{{dense: 4}}, {{dense: 2}}]}}\n"
                      f"training: {{epochs: 1}}\n")
    assert_refused(*run_limited("train", config, "--out", tmp_path / "runs"), bomb)

    np.savez(tmp_path / "small.npz", x=np.random.default_rng(0).normal(size=(40, 1024)), y=np.arange(40) % 2)
    small = tmp_path / "small.yaml"
    small.write_text(f"data: {{dataset: npz, path: {tmp_path / 'small.npz'}}}\nmodel: {{layers: [{{dense: 4}}, "
                     f"{{dense: 2}}]}}\ntraining: {{epochs: 1}}\n")
    result = invoke("train", small, "--out", tmp_path / "runs", "--quiet")
    assert result.exit_code == 0, result.output
    assert_refused(*run_limited("predict", the_run(tmp_path / "runs"), bomb), bomb)


def test_a_bomb_is_refused_in_milliseconds_naming_its_sizes(bomb):
    start = time.monotonic()
    with pytest.raises(DataError) as caught:
        load_npz(bomb)
    assert time.monotonic() - start < 1
    compressed = len(deflated(npy_header((262144, 1024)), 2048))
    assert str(caught.value) == (
        f"{bomb} is refused: array 'x' would inflate from {compressed:,} to {2 * GiB + 128:,} bytes "
        f"({(2 * GiB + 128) / compressed:,.0f} times; data compresses at most 100 times); if it is real, save it "
        f"uncompressed (numpy.savez)")


@pytest.mark.slow  # the CRC of 2 GiB
def test_a_member_whose_stream_is_longer_than_its_declared_size_is_read_only_that_far(tmp_path):
    header = npy_header((1000, 100))
    declared = len(header) + 800_000  # what the header and the directory say: 0.8 MB
    stream = deflated(header, 2048)  # what the stream holds: 2 GiB
    crc = zlib.crc32(header)
    for _ in range(2048):
        crc = zlib.crc32(bytes(MiB), crc)
    write_zip(tmp_path / "d.npz", [("x.npy", stream, crc, declared), member("y.npy", np.zeros(1000))])
    start = time.monotonic()
    with pytest.raises(DataError, match=r"d\.npz is not a readable \.npz file: it is truncated or corrupt "
                                        r"\(BadZipFile: Bad CRC-32 for file 'x\.npy'\)"):
        load_npz(tmp_path / "d.npz")
    assert time.monotonic() - start < 5  # 0.8 MB inflated, not 2 GiB


def test_an_archive_of_thousands_of_entries_is_refused(tmp_path):
    with zipfile.ZipFile(tmp_path / "d.npz", "w") as archive:
        archive.writestr("x.npy", npy(np.ones((3, 2))))
        archive.writestr("y.npy", npy(np.arange(3)))
        for i in range(20_000):
            archive.writestr(f"e{i}.npy", b"")
    with pytest.raises(DataError, match=r"d\.npz has 20,002 entries, more than any \.npz file \(at most 10,000\); "
                                        r"save only the arrays to read$"):
        load_npz(tmp_path / "d.npz")


def test_an_entry_twice_is_refused(tmp_path):
    with pytest.warns(UserWarning, match="Duplicate name"), zipfile.ZipFile(tmp_path / "d.npz", "w") as archive:
        archive.writestr("x.npy", npy(np.ones((3, 2))))
        archive.writestr("y.npy", npy(np.arange(3)))
        archive.writestr("x.npy", npy(np.zeros((3, 2))))
    with pytest.raises(DataError, match=r"d\.npz holds the entry 'x\.npy' twice, so which one is meant is ambiguous; "
                                        r"save each array once"):
        load_npz(tmp_path / "d.npz")


def test_nested_names_are_names(tmp_path):
    with zipfile.ZipFile(tmp_path / "d.npz", "w") as archive:
        archive.writestr("inner/x.npy", npy(np.ones((3, 2))))
        archive.writestr("../y.npy", npy(np.arange(3)))
    with pytest.raises(DataError, match=r"d\.npz has no array 'x'; it has inner/x, \.\./y \(choose others with "
                                        r"x_key= / y_key=\)"):
        load_npz(tmp_path / "d.npz")
    x, _, classes = load_npz(tmp_path / "d.npz", x_key="inner/x", y_key="../y")
    assert x.shape == (3, 2) and classes == ["0", "1", "2"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["d.npz"]  # nothing was extracted anywhere


def test_compressed_data_of_every_day_still_loads(tmp_path):
    rng = np.random.default_rng(0)
    x = np.where(rng.random((5000, 200)) < 0.95, 0.0, 1.0)  # sparse: 95% zeros, deflates about 30 times
    np.savez_compressed(tmp_path / "d.npz", x=x, y=np.arange(5000) % 3)
    np.testing.assert_array_equal(load_npz(tmp_path / "d.npz")[0], x.astype(np.float32))

