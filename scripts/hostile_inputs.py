"""Time and peak memory of ``mlp`` on hostile and huge inputs: YAML alias bombs (a config's and a sweep file's), a
gzip bomb among the MNIST files, an IDX header of absurd sizes, a zip bomb as an ``.npz`` data file and as
``mlp predict``'s input, CSV lines of millions of fields, a value beyond float32, outputs that would overwrite a
run's files or the command's input, Dask addresses that lead nowhere (a name that does not resolve, a closed
port, a server that answers garbage, one that accepts and never answers), ``mpiexec`` processes started with
different seeds, and loading a 200,000 x 100 CSV file next to ``numpy.loadtxt``.

    python scripts/hostile_inputs.py
    python scripts/hostile_inputs.py --against ../other-checkout    # the same cases with another mlp

Every case runs in a process of its own (its peak resident memory comes from the kernel's accounting, ``wait4``;
under ``mpiexec``, the launcher's), with a time limit. The inputs are made by another process, so that the
measuring one stays small (a child's peak counts what its parent held when it started); they go in a temporary
folder, removed at the end. The network cases talk only to servers this script starts on 127.0.0.1. A case
that names a run directory to protect reports whether its files are unchanged afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

LIMIT = 120.0  # seconds a case may take before it is stopped


def measure(command: list[str], env: dict[str, str]) -> tuple[float, float, int | None, str]:
    """Seconds, peak MiB, exit code (``None`` if stopped at ``LIMIT``) and the last line of stderr."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    code: int | None = None
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            code = os.waitstatus_to_exitcode(status)
            break
        if time.perf_counter() - started > LIMIT:
            process.kill()
            _, _, usage = os.wait4(process.pid, 0)
            break
        time.sleep(0.01)
    seconds = time.perf_counter() - started
    process.returncode = code if code is not None else -9
    err = process.stderr.read().decode(errors="replace").strip().splitlines() if process.stderr else []
    process.stderr.close()
    return seconds, usage.ru_maxrss / 1024, code, (err[-1] if err else "")


def alias_bomb(key: str) -> str:
    """The "billion laughs" as the value of ``key``: a list of nine levels, each nine aliases of the level
    before (about 9^9 values in some 400 bytes)."""
    levels = ['&a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    levels += [f"&a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    value = f"[{', '.join(levels)}]"
    section, _, name = key.rpartition(".")
    return f"{section}:\n  {name}: {value}\n" if section else f"{name}: {value}\n"


def idx(*dims: int) -> bytes:
    return bytes([0, 0, 8, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)


def mnist_folder(folder: Path, train_images: Callable[[Path], None]) -> Path:
    """A folder with MNIST's four file names: small valid labels and test files, and ``train_images``."""
    folder.mkdir()
    for name, content in (("train-labels-idx1-ubyte.gz", idx(10) + bytes(10)),
                          ("t10k-images-idx3-ubyte.gz", idx(2, 28, 28) + bytes(2 * 784)),
                          ("t10k-labels-idx1-ubyte.gz", idx(2) + bytes(2))):
        (folder / name).write_bytes(gzip.compress(content))
    train_images(folder / "train-images-idx3-ubyte.gz")
    return folder


def gzip_bomb(path: Path) -> None:
    """A valid header for MNIST's training images, then 2 GiB of zeros: about 2 MB gzipped."""
    with gzip.open(path, "wb", compresslevel=9) as f:
        f.write(idx(60000, 28, 28))
        zeros = bytes(1 << 24)
        for _ in range(128):
            f.write(zeros)


MLP = "{mlp}"  # stands for the command that runs mlp (this one's, or --against's)


def npz_bomb(path: Path) -> None:
    """An ``.npz`` whose array ``x`` claims (2^15, 2^14) float32 (2 GiB), deflated zeros: about 2 MB."""
    import zipfile

    from numpy.lib import format as npy

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        with archive.open("x.npy", "w", force_zip64=True) as member:
            npy.write_array_header_1_0(member, {"descr": "<f4", "fortran_order": False, "shape": (2**15, 2**14)})
            zeros = bytes(1 << 24)
            for _ in range(128):
                member.write(zeros)
        archive.writestr("y.npy", b"")  # never reached


def make_inputs(folder: Path) -> tuple[dict[str, dict], Path]:
    """The cases as command lines (``MLP`` where mlp's command goes) with the run directory each must leave
    unchanged, if any; and the large CSV file."""
    cases: dict[str, dict] = {}
    runs = str(folder / "runs")

    def case(name: str, *args: str, protect: Path | None = None, launcher: list[str] | None = None) -> None:
        cases[name] = {"args": [*(launcher or []), MLP, *args], "protect": str(protect) if protect else None}

    for key in ("seed", "name", "optimizer.lr", "data.dataset"):
        path = folder / f"bomb-{key}.yaml"
        path.write_text(alias_bomb(key))
        case(f"YAML alias bomb under {key} ({path.stat().st_size} bytes)", "train", str(path), "--out", runs)
    sweep_bomb = folder / "bomb-sweep.yaml"
    sweep_bomb.write_text("base: spirals\n" + alias_bomb("space"))
    case(f"sweep file with an alias bomb under space ({sweep_bomb.stat().st_size} bytes)", "sweep", str(sweep_bomb),
         "--out", str(folder / "sweep"))
    bomb = mnist_folder(folder / "gzip-bomb", gzip_bomb)
    size = (bomb / "train-images-idx3-ubyte.gz").stat().st_size
    case(f"gzip bomb in a data folder ({size / 1e6:.1f} MB, inflates to 2 GiB)", "train", "--data-dir", str(bomb),
         "--out", runs)
    huge = mnist_folder(folder / "huge-header",
                        lambda p: p.write_bytes(gzip.compress(idx(2**31, 2**31, 28) + bytes(1000))))
    case("IDX header with dimensions of 2^31", "train", "--data-dir", str(huge), "--out", runs)
    wide = folder / "wide.csv"
    wide.write_text("a,b,c\n1,2,0\n3,4,1\n" + "1," * 26_000_000 + "1\n5,6,0\n")
    first = folder / "wide-first.csv"
    first.write_text("1," * 26_000_000 + "1\n1,2,0\n")
    beyond = folder / "beyond-float32.csv"
    beyond.write_text("a,b,c\n" + "".join(f"{i},{1e39 if i == 3 else i},{i % 2}\n" for i in range(20)))
    zipped = folder / "bomb.npz"
    npz_bomb(zipped)
    for name, path, dataset in (("CSV line of 26 million fields (line 4)", wide, "csv"),
                                ("CSV first line of 26 million fields", first, "csv"),
                                ("CSV value 1e39", beyond, "csv"),
                                (f"npz data file of {zipped.stat().st_size / 1e6:.1f} MB inflating to 2 GiB", zipped,
                                 "npz")):
        case(name, "train", "--set", f"data.dataset={dataset}", "--set", f"data.path={path}", "--set",
             "model.layers.1.dense=2", "--epochs", "1", "--out", runs)

    # A trained run, and commands told to write over its files or over their own input.
    trained = folder / "trained"
    subprocess.run([sys.executable, "-m", "mlp", "train", "spirals", "--epochs", "1", "--quiet", "--out",
                    str(trained)], check=True, stdout=subprocess.DEVNULL)
    (run,) = [p for p in trained.iterdir() if not p.is_symlink()]
    rows = folder / "rows.csv"
    rows.write_text("0.1,0.2\n0.3,0.4\n")
    case("npz input of mlp predict inflating to 2 GiB", "predict", str(run), str(zipped), protect=run)
    case("mlp export -o RUN/model.npz", "export", str(run), "-o", str(run / "model.npz"), protect=run)
    case("mlp export -o RUN/../RUN/last.npz", "export", str(run), "-o", str(run / ".." / run.name / "last.npz"),
         protect=run)
    case("mlp predict --out RUN/model.npz", "predict", str(run), str(rows), "--out", str(run / "model.npz"),
         protect=run)
    case("mlp predict --out its own input", "predict", str(run), str(rows), "--out", str(rows), protect=run)
    case("mlp plot --out RUN/history.json", "plot", str(run), "--out", str(run / "history.json"), protect=run)
    case("mlp train --out RUN", "train", "spirals", "--epochs", "1", "--out", str(run), protect=run)
    sweep = folder / "lr.yaml"
    sweep.write_text("base: spirals\nspace: {optimizer.lr: [0.01, 0.1]}\nmetric: loss\n")
    case("mlp sweep --out RUN", "sweep", str(sweep), "--out", str(run), protect=run)

    # Dask addresses that lead nowhere; the servers are this script's (NOWHERE, GARBAGE, SILENT: their ports).
    for name, address in (("a name that does not resolve", "tcp://no-such-host.invalid:8786"),
                          ("a closed port", "tcp://127.0.0.1:{closed}"),
                          ("a server that answers garbage", "tcp://127.0.0.1:{garbage}"),
                          ("a server that accepts and never answers", "tcp://127.0.0.1:{silent}")):
        case(f"mlp sweep --scheduler at {name}", "sweep", str(sweep), "--out", str(folder / "dask-sweep"),
             "--scheduler", address)

    mpiexec = shutil.which("mpiexec", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))
    if mpiexec is not None:
        cases["mpiexec: two processes started with different seeds"] = {
            "args": [mpiexec, "-n", "1", MLP, "train", "spirals", "--epochs", "1", "--seed", "1", "--out", runs, ":",
                     "-n", "1", MLP, "train", "spirals", "--epochs", "1", "--seed", "2", "--out", runs],
            "protect": None}

    import numpy as np  # only here, in the process that makes the inputs

    rng = np.random.default_rng(0)
    table = folder / "table.csv"
    with open(table, "w") as f:
        f.write(",".join(f"f{i}" for i in range(100)) + ",label\n")
        np.savetxt(f, np.column_stack([rng.standard_normal((200_000, 100)), rng.integers(0, 5, 200_000)]),
                   delimiter=",", fmt=["%.7g"] * 100 + ["%d"])
    return cases, table


def python_with(mlp_root: Path | None, code: str) -> list[str]:
    """``python -c code`` importing ``mlp`` from ``mlp_root`` (``None``: the installed one)."""
    path = f"import sys; sys.path.insert(0, {str(mlp_root)!r}); " if mlp_root is not None else ""
    return [sys.executable, "-c", path + code]


def expand(args: list[str], command: list[str], ports: dict[str, int]) -> list[str]:
    """A case's command line: ``MLP`` replaced by ``command``, the servers' ports filled in."""
    return [part for arg in args for part in (command if arg == MLP else [arg.format(**ports)])]


class Servers:
    """Sockets on 127.0.0.1 for the Dask cases: a closed port, a server that answers every connection with
    garbage, one that accepts and never answers. Closed by ``close``."""

    def __init__(self) -> None:
        self.sockets: list[socket.socket] = []
        self.ports = {"closed": self._listener(listen=False).getsockname()[1]}
        self.sockets[0].close()  # bound once, closed: nothing listens there now
        garbage, silent = self._listener(), self._listener()
        self.ports |= {"garbage": garbage.getsockname()[1], "silent": silent.getsockname()[1]}
        self.stopping = threading.Event()
        threading.Thread(target=self._serve, args=(garbage, b"\xff" * 64 + b"not a dask scheduler\n"),
                         daemon=True).start()
        threading.Thread(target=self._serve, args=(silent, None), daemon=True).start()

    def _listener(self, listen: bool = True) -> socket.socket:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        if listen:
            sock.listen(16)
            sock.settimeout(0.2)
        self.sockets.append(sock)
        return sock

    def _serve(self, sock: socket.socket, answer: bytes | None) -> None:
        held = []
        while not self.stopping.is_set():
            try:
                conn, _ = sock.accept()
            except (TimeoutError, OSError):
                continue
            if answer is not None:
                with contextlib.suppress(OSError):
                    conn.sendall(answer)
            held.append(conn)  # kept open, never answered further
        for conn in held:
            conn.close()

    def close(self) -> None:
        self.stopping.set()
        time.sleep(0.3)
        for sock in self.sockets:
            sock.close()


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.md5(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", type=Path, help="another checkout of mlp to run the same cases with")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each CSV load, median reported")
    parser.add_argument("--only", metavar="TEXT", help="run only the cases whose name contains TEXT (no CSV loads)")
    parser.add_argument("--make-inputs", type=Path, help=argparse.SUPPRESS)  # the child that makes them
    options = parser.parse_args()
    if options.make_inputs is not None:
        cases, table = make_inputs(options.make_inputs)
        (options.make_inputs / "cases.json").write_text(json.dumps({"cases": cases, "table": str(table)}))
        return
    folder = Path(tempfile.mkdtemp(prefix="mlp-hostile-"))
    env = os.environ | {"XDG_CACHE_HOME": str(folder / "cache"), "MLP_DATA_DIR": ""}
    roots = {"this mlp": None} | ({f"mlp at {options.against}": options.against.resolve()} if options.against else {})
    try:
        subprocess.run([sys.executable, __file__, "--make-inputs", str(folder)], check=True)
        made = json.loads((folder / "cases.json").read_text())
        cases, table = made["cases"], Path(made["table"])
        servers = Servers()
        for label, root in roots.items():
            print(f"== {label}")
            for name, case in cases.items():
                if options.only is not None and options.only not in name:
                    continue
                protect = Path(case["protect"]) if case["protect"] else None
                before = digest(protect) if protect is not None else None
                command = expand(case["args"], python_with(root, "from mlp.cli import main; main()"), servers.ports)
                seconds, mib, code, last = measure(command, env)
                outcome = f"exit {code}" if code is not None else f"stopped after {LIMIT:.0f} s"
                if protect is not None:
                    outcome += ", run unchanged" if digest(protect) == before else ", RUN CHANGED"
                print(f"{name}: {seconds:.2f} s, peak {mib:,.0f} MiB, {outcome}: {last[:160]}")
            if options.only is not None:
                continue
            loads = {"load_csv": "from mlp.data import load_csv; load_csv(sys.argv[1], target='label')",
                     "numpy.loadtxt": "import numpy as np; np.loadtxt(sys.argv[1], delimiter=',', skiprows=1, "
                                      "dtype=np.float32)"}
            results = {}
            for what, code in loads.items():
                runs = [measure([*python_with(root, f"import sys; {code}"), str(table)], env)
                        for _ in range(options.repeats)]
                results[what] = (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs))
            (t_mlp, m_mlp), (t_np, m_np) = results["load_csv"], results["numpy.loadtxt"]
            data_mib = 200_000 * 100 * 4 / 2**20
            print(f"CSV 200,000 x 100 ({table.stat().st_size / 1e6:.0f} MB, {data_mib:.0f} MiB as float32), median "
                  f"of {options.repeats}: load_csv {t_mlp:.2f} s, peak {m_mlp:.0f} MiB; numpy.loadtxt {t_np:.2f} s, "
                  f"peak {m_np:.0f} MiB; time ratio {t_mlp / t_np:.2f}, peak {m_mlp / data_mib:.1f}x the data")
        servers.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
