"""Time and peak memory of ``mlp`` on hostile and huge inputs: YAML alias bombs, a gzip bomb among the MNIST
files, an IDX header of absurd sizes, CSV lines of millions of fields, a value beyond float32, and loading a
200,000 x 100 CSV file next to ``numpy.loadtxt``.

    python scripts/hostile_inputs.py
    python scripts/hostile_inputs.py --against ../other-checkout    # the same cases with another mlp

Every case runs in a process of its own (its peak resident memory comes from the kernel's accounting,
``wait4``), with a time limit. The inputs are made by another process, so that the measuring one stays small
(a child's peak counts what its parent held when it started); they go in a temporary folder, removed at the end.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
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


def make_inputs(folder: Path) -> tuple[dict[str, list[str]], Path]:
    """The cases as ``mlp`` command lines, and the large CSV file."""
    cases: dict[str, list[str]] = {}
    for key in ("seed", "name", "optimizer.lr", "data.dataset"):
        path = folder / f"bomb-{key}.yaml"
        path.write_text(alias_bomb(key))
        cases[f"YAML alias bomb under {key} ({path.stat().st_size} bytes)"] = ["train", str(path)]
    bomb = mnist_folder(folder / "gzip-bomb", gzip_bomb)
    size = (bomb / "train-images-idx3-ubyte.gz").stat().st_size
    cases[f"gzip bomb in a data folder ({size / 1e6:.1f} MB, inflates to 2 GiB)"] = ["train", "--data-dir", str(bomb)]
    huge = mnist_folder(folder / "huge-header",
                        lambda p: p.write_bytes(gzip.compress(idx(2**31, 2**31, 28) + bytes(1000))))
    cases["IDX header with dimensions of 2^31"] = ["train", "--data-dir", str(huge)]
    wide = folder / "wide.csv"
    wide.write_text("a,b,c\n1,2,0\n3,4,1\n" + "1," * 26_000_000 + "1\n5,6,0\n")
    first = folder / "wide-first.csv"
    first.write_text("1," * 26_000_000 + "1\n1,2,0\n")
    beyond = folder / "beyond-float32.csv"
    beyond.write_text("a,b,c\n" + "".join(f"{i},{1e39 if i == 3 else i},{i % 2}\n" for i in range(20)))
    for name, path in (("CSV line of 26 million fields (line 4)", wide),
                       ("CSV first line of 26 million fields", first), ("CSV value 1e39", beyond)):
        cases[name] = ["train", "--set", "data.dataset=csv", "--set", f"data.path={path}", "--set",
                       "model.layers.1.dense=2", "--epochs", "1"]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", type=Path, help="another checkout of mlp to run the same cases with")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each CSV load, median reported")
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
        for label, root in roots.items():
            print(f"== {label}")
            for name, args in cases.items():
                command = python_with(root, "from mlp.cli import main; main()") + args + ["--out", str(folder / "runs")]
                seconds, mib, code, last = measure(command, env)
                outcome = f"exit {code}" if code is not None else f"stopped after {LIMIT:.0f} s"
                print(f"{name}: {seconds:.2f} s, peak {mib:,.0f} MiB, {outcome}: {last[:160]}")
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
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
