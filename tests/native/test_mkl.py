"""The matrix products through MKL (the ``mkl`` extra): the same products as OpenBLAS to float32 rounding, the same
bits every run, exact resume, ``mpiexec`` identity, flush-to-zero on its threads, and OpenBLAS with one warning
without it."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from mlp import SGD, Dense, ReLU, Sequential, SoftmaxCrossEntropy, __version__, fit
from mlp.cli import main
from mlp.native import blas, fpenv, mkl, vector
from mlp.train.callbacks import ModelCheckpoint

try:
    mkl.load()
    WHY_NOT = ""
except mkl.MklError as err:
    WHY_NOT = f"MKL cannot be used here ({err}): pip install numpy-mlp[mkl]"
needs_mkl = pytest.mark.skipif(bool(WHY_NOT), reason=WHY_NOT)
TINY = np.float32(1e-39)  # a float32 denormal


@pytest.fixture(autouse=True)
def blas_setting(monkeypatch):
    """Each test chooses its BLAS; the setting of the environment comes back afterwards."""
    monkeypatch.setenv("MLP_BLAS", "auto")  # so that monkeypatch restores what `mlp --blas` sets
    monkeypatch.delenv("MLP_BLAS")
    yield
    blas.use(None)


def on(name: str) -> str:
    blas.use(name)
    return blas.active()


def data(rows: int = 256, features: int = 300, classes: int = 4):
    rng = np.random.default_rng(3)
    return rng.standard_normal((rows, features)).astype(np.float32), rng.integers(0, classes, rows)


def train(epochs: int = 2, **kwargs) -> dict[str, np.ndarray]:
    """With MKL, a batch of 32 makes the first hidden layer's values 32 x 2048 (MIN_SIZE): its bias, ReLU and bias
    gradient go through MKL too (``mlp.native.vector``); the second layer's, 32 x 256, through NumPy."""
    x, y = data()
    model = Sequential([Dense(300, 2048), ReLU(), Dense(2048, 256), ReLU(), Dense(256, 4)], seed=4)
    fit(model, SoftmaxCrossEntropy(), SGD(0.05, momentum=0.9), x, y, epochs=epochs, batch_size=32, seed=5, verbose=0,
        **kwargs)
    return model.params


@needs_mkl
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mkl_products_match_numpys_for_every_layout_the_layers_use(dtype):
    assert on("mkl") == "mkl"
    rng = np.random.default_rng(0)
    x, w, delta = (rng.standard_normal(shape).astype(dtype) for shape in ((128, 784), (784, 512), (128, 512)))
    tolerance = 1e-4 if dtype == np.float32 else 1e-12
    pairs = [(x, w), (x.T, delta), (delta, w.T), (x[3:40], w[:, 7:100]), (x[::2], w), (x[:1], w), (x, w[:, :1])]
    for a, b in pairs:
        product = blas.matmul(a, b)
        assert product.dtype == dtype and product.flags.c_contiguous
        np.testing.assert_allclose(product, a.astype(np.float64) @ b.astype(np.float64), rtol=tolerance,
                                   atol=tolerance * 30)
    out = np.zeros((784, 512), dtype)
    assert blas.matmul(x.T, delta, out=out) is out
    np.testing.assert_allclose(out, x.T.astype(np.float64) @ delta, rtol=tolerance, atol=tolerance * 30)


@needs_mkl
def test_layouts_mkl_does_not_take_go_to_numpy_with_the_same_result():
    on("mkl")
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((2, 64, 64)).astype(np.float32)
    strided = a[::2, ::2]  # neither rows nor columns contiguous
    np.testing.assert_allclose(blas.matmul(strided, b[:32]), strided @ b[:32], rtol=1e-5, atol=1e-5)
    ints = a.astype(np.int64), b.astype(np.int64)
    np.testing.assert_array_equal(blas.matmul(*ints), ints[0] @ ints[1])
    out = a.copy()
    blas.matmul(out, b, out=out)  # the output overlaps an operand
    np.testing.assert_allclose(out, a @ b, rtol=1e-5, atol=1e-5)


@needs_mkl
def test_training_with_mkl_matches_openblas_to_float32_rounding():
    assert on("openblas") == "openblas"
    reference = train()
    assert on("mkl") == "mkl"
    trained = train()
    for key, value in reference.items():
        assert not np.array_equal(trained[key], value) or value.ndim == 1  # another library, other last bits
        np.testing.assert_allclose(trained[key], value, rtol=1e-4, atol=1e-5, err_msg=key)


@needs_mkl
def test_mkl_keeps_the_thread_count_it_is_given(monkeypatch):
    """Dynamic threads (MKL's default) would change the count, and with it the rounding, when the machine is busy."""
    monkeypatch.delenv("MKL_DYNAMIC", raising=False)
    library = mkl.load().library
    library.MKL_Get_Dynamic.restype = ctypes.c_int
    assert library.MKL_Get_Dynamic() == 0


@needs_mkl
@pytest.mark.usefixtures("blas_threads")
def test_training_with_mkl_on_all_its_threads_gives_the_same_bits_every_time():
    on("mkl")
    first, second = train(), train()
    for key, value in first.items():
        np.testing.assert_array_equal(second[key], value, err_msg=key)


PROCESS = textwrap.dedent("""
    import sys
    import numpy as np
    from mlp import SGD, Dense, ReLU, Sequential, SoftmaxCrossEntropy, fit
    from mlp.native import blas

    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((256, 300)).astype(np.float32), rng.integers(0, 4, 256)
    padding = np.ones(int(sys.argv[2]), np.uint8)  # moves where the arrays that follow start in memory
    model = Sequential([Dense(300, 2048), ReLU(), Dense(2048, 256), ReLU(), Dense(256, 4)], seed=4)
    fit(model, SoftmaxCrossEntropy(), SGD(0.05, momentum=0.9), x, y, epochs=2, batch_size=32, seed=5, verbose=0)
    assert blas.active() == "mkl", blas.describe()
    np.savez(sys.argv[1], **model.params)
""")


@needs_mkl
@pytest.mark.slow
def test_processes_training_with_mkl_give_the_same_bits(tmp_path):
    """Separate processes (their arrays at other addresses), MKL on the threads it starts with."""
    script = tmp_path / "train.py"
    script.write_text(PROCESS)
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    results = []
    for run, padding in enumerate((0, 24, 4104)):
        path = tmp_path / f"run{run}.npz"
        subprocess.run([sys.executable, str(script), str(path), str(padding)], check=True, cwd=tmp_path,
                       env=env | {"MLP_BLAS": "mkl"})
        results.append(np.load(path))
    for other in results[1:]:
        for key in results[0].files:
            np.testing.assert_array_equal(other[key], results[0][key], err_msg=key)


@needs_mkl
@pytest.mark.parametrize("stop_after", [3, 13])
def test_a_run_with_mkl_resumes_bit_identically(tmp_path, stop_after):
    on("mkl")
    uninterrupted = train(epochs=3)

    class Stop(ModelCheckpoint):
        def on_batch_end(self, state, logs) -> None:
            super().on_batch_end(state, logs)
            if state.epoch * 8 + state.position.batch == stop_after:
                raise KeyboardInterrupt

    checkpoint = tmp_path / "last.npz"
    train(epochs=3, callbacks=[Stop(checkpoint)])
    resumed = train(epochs=3, callbacks=[ModelCheckpoint(checkpoint)], resume=checkpoint)
    for key, value in uninterrupted.items():
        np.testing.assert_array_equal(resumed[key], value, err_msg=key)


MPI_SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    from mpi4py import MPI
    from mlp import Adam, Dense, Dropout, ReLU, Sequential, SoftmaxCrossEntropy, fit
    from mlp.native import blas

    world = MPI.COMM_WORLD
    rng = np.random.default_rng(0)
    x, y = rng.random((600, 784), dtype=np.float32), rng.integers(0, 3, 600)
    # micro-batches of 240 / 8 = 30 rows: 30 x 2560 hidden values, enough for MKL's elementwise passes
    model = Sequential([Dense(784, 2560), ReLU(), Dropout(0.2), Dense(2560, 3)], seed=0)
    history = fit(model, SoftmaxCrossEntropy(), Adam(0.01), x, y, epochs=3, batch_size=240, validation_split=0.2,
                  seed=1, verbose=0, communicator=world)
    assert blas.active() == "mkl", blas.describe()
    if world.Get_rank() == 0:
        np.savez(sys.argv[1], loss=history["loss"], val_loss=history["val_loss"], **model.params)
""")


@needs_mkl
@pytest.mark.slow
def test_mpiexec_with_mkl_is_bit_identical_for_1_2_and_4_processes(tmp_path):
    pytest.importorskip("mpi4py")
    import shutil

    mpiexec = shutil.which("mpiexec", path=os.pathsep.join([os.path.dirname(sys.executable), os.environ["PATH"]]))
    if mpiexec is None:
        pytest.skip("no mpiexec: pip install mpi4py mpich")
    script = tmp_path / "train.py"
    script.write_text(MPI_SCRIPT)
    # MKL and OpenBLAS start with every core in each process: data-parallel training must bring them to one
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    for processes in (1, 2, 4):
        result = subprocess.run([mpiexec, "-n", str(processes), sys.executable, str(script), f"k{processes}.npz"],
                                cwd=tmp_path, env=env | {"MLP_BLAS": "mkl"}, capture_output=True, text=True,
                                timeout=180)
        assert result.returncode == 0, result.stderr
    reference = np.load(tmp_path / "k1.npz")
    for processes in (2, 4):
        saved = np.load(tmp_path / f"k{processes}.npz")
        for key in reference.files:
            np.testing.assert_array_equal(saved[key], reference[key], err_msg=f"{processes} processes: {key}")


@needs_mkl
@pytest.mark.skipif(not fpenv.supported(), reason="FTZ/DAZ flags are set on x86-64 glibc Linux only")
@pytest.mark.usefixtures("blas_threads")
def test_mkls_threads_follow_the_flush_to_zero_flags_even_when_started_before_them():
    on("mkl")
    a, eye = np.full((1024, 1024), TINY, np.float32), np.eye(1024, dtype=np.float32)
    assert np.count_nonzero(blas.matmul(a, eye)) == a.size  # MKL's threads start here, without the flags
    with fpenv.flush_denormals():
        assert np.count_nonzero(blas.matmul(a, eye)) == 0
        y = np.full(blas.MIN_SIZE * 4, TINY, np.float32)
        blas.axpy(1.0, np.full_like(y, TINY), y)  # MKL's axpy, on its threads
        assert np.count_nonzero(y) == 0
        assert np.count_nonzero(vector.relu(a)) == 0  # and its vector math
    assert np.count_nonzero(vector.relu(a)) == a.size
    assert np.count_nonzero(blas.matmul(a, eye)) == a.size


@needs_mkl
def test_with_mkl_the_updates_go_through_mkl_too(monkeypatch):
    """One thread pool at a time: with MKL making the products, OpenBLAS's axpy is never called."""
    on("mkl")

    def openblas(*args):
        raise AssertionError("OpenBLAS's axpy was called while MKL makes the products")

    monkeypatch.setattr(blas, "_ROUTINES", {np.dtype(np.float32): openblas, np.dtype(np.float64): openblas})
    y = np.ones(blas.MIN_SIZE * 4, np.float32)
    blas.axpy(-0.5, np.full_like(y, 4), y)
    np.testing.assert_array_equal(y, -1.0)
    train(epochs=1)


@needs_mkl
def test_one_thread_sets_mkl_too():
    on("mkl")
    blas.set_threads(2)
    with blas.one_thread():
        assert blas.threads() == 1
    assert blas.threads() == 2


def caught_warnings(action):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        action()
    return [warning for warning in caught if issubclass(warning.category, blas.BlasFallbackWarning)]


def one_line(warning) -> str:
    text = warnings.formatwarning(warning.message, warning.category, warning.filename, warning.lineno)
    assert text.count("\n") == 1 and text.endswith("\n"), text
    return text


def test_mkl_asked_for_but_not_installed_trains_with_openblas_after_one_warning(monkeypatch):
    monkeypatch.setattr(mkl, "find_library", lambda: None)
    monkeypatch.setenv("MLP_BLAS", "mkl")
    blas.use(None)
    caught = caught_warnings(lambda: train(epochs=1))
    assert len(caught) == 1
    assert "MKL is not installed; the matrix products use OpenBLAS instead (install it with: pip install " in (
        one_line(caught[0]))
    assert "(the mkl extra); or set MLP_BLAS=openblas)" in str(caught[0].message)
    assert blas.active() == "openblas"


def test_a_broken_mkl_falls_back_to_openblas_with_one_warning(monkeypatch, tmp_path):
    broken = tmp_path / "libmkl_rt.so.3"
    broken.write_bytes(b"not a library")
    monkeypatch.setattr(mkl, "find_library", lambda: broken)
    blas.use("mkl")
    caught = caught_warnings(lambda: train(epochs=1))
    assert len(caught) == 1
    assert str(caught[0].message).startswith("libmkl_rt.so.3 cannot be used: ")
    assert "reinstall it with: pip install --force-reinstall " in one_line(caught[0])
    assert blas.active() == "openblas"


def test_auto_keeps_openblas_quietly_whether_mkl_is_installed_or_not(monkeypatch):
    # MKL was not measured faster (docs/performance.md): auto keeps OpenBLAS, and MLP_BLAS=mkl asks for MKL
    assert caught_warnings(lambda: on("auto")) == []
    assert blas.active() == "openblas" and blas.describe().endswith(f"({blas.AUTO_REASON})")
    monkeypatch.setattr(mkl, "find_library", lambda: None)
    assert on("auto") == "openblas"


@needs_mkl
def test_mkl_is_used_where_it_is_asked_for():
    assert on("mkl") == "mkl"
    assert blas.describe().startswith("MKL 20")


OPENMP_FIRST = textwrap.dedent("""
    import ctypes, sys, warnings
    import numpy as np
    from mlp.native import blas

    def gnu_openmp():  # as PyTorch's import does: GNU's OpenMP runtime among the process's global symbols
        ctypes.CDLL("libgomp.so.1", mode=ctypes.RTLD_GLOBAL)

    if sys.argv[1] == "libgomp first":
        gnu_openmp()
    blas.use("mkl")
    blas.set_threads(2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        library = blas.active()
    if sys.argv[1] == "MKL first":
        gnu_openmp()
    rng = np.random.default_rng(0)
    a = rng.standard_normal((32, 2048)).astype(np.float32)
    weights = [rng.standard_normal((2048, 256)).astype(np.float32) for _ in range(50)]
    wrong = sum(not np.allclose(blas.matmul(a, w), a @ w, rtol=1e-4, atol=1e-3) for w in weights)
    print(library, wrong, *(str(w.message) for w in caught), sep="\\n")
""")


def gnu_openmp_runtime() -> bool:
    try:
        ctypes.CDLL("libgomp.so.1")
    except OSError:
        return False
    return True


@needs_mkl
@pytest.mark.skipif(not sys.platform.startswith("linux") or not gnu_openmp_runtime(),
                    reason="needs Linux and GNU's OpenMP runtime (libgomp.so.1)")
@pytest.mark.usefixtures("blas_threads")
@pytest.mark.parametrize("first", ["libgomp first", "MKL first"])
def test_mkl_is_refused_after_another_openmp_runtime_and_works_before_one(tmp_path, first):
    """MKL's threads, asking GNU's runtime which thread each is, computed a fifth of these products wrong."""
    script = tmp_path / "openmp.py"
    script.write_text(OPENMP_FIRST)
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    result = subprocess.run([sys.executable, str(script), first], capture_output=True, text=True, env=env,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    library, wrong, *warned = result.stdout.splitlines()
    assert wrong == "0"
    if first == "MKL first":
        assert (library, warned) == ("mkl", [])
    else:
        assert library == "openblas"
        assert warned == [f"{mkl.find_library().name} cannot run beside libgomp.so.1, the OpenMP runtime another "
                          "library (PyTorch, for one) brought into this process first: its threads would compute "
                          "wrong products; the matrix products use OpenBLAS instead (train before importing "
                          "PyTorch, so that MKL is loaded first; or set MLP_BLAS=openblas)"]


def test_an_unknown_blas_is_one_error_naming_the_choices(monkeypatch):
    with pytest.raises(ValueError, match=r"^MLP_BLAS='atlas' is not a BLAS mlp knows; set it to one of auto, "
                                         r"openblas, mkl$"):
        blas.use("atlas")
    monkeypatch.setenv("MLP_BLAS", "atlas")
    blas.use(None)
    with pytest.raises(ValueError, match="MLP_BLAS='atlas' is not a BLAS"):
        blas.active()
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 2
    assert result.stderr == "error: MLP_BLAS='atlas' is not a BLAS mlp knows; set it to one of auto, openblas, mkl\n"


def test_version_says_which_blas_the_step_uses(monkeypatch):
    result = CliRunner().invoke(main, ["--blas", "openblas", "--version"])
    assert result.exit_code == 0
    version, used = result.stdout.splitlines()
    assert version == f"mlp, version {__version__}"
    assert used.startswith("BLAS: ") and used.endswith("(MLP_BLAS=openblas)")
    assert os.environ["MLP_BLAS"] == "openblas"  # what --blas sets, for this process and those it starts
    if not WHY_NOT:
        result = CliRunner().invoke(main, ["--blas", "mkl", "--version"])
        assert result.stdout.splitlines()[1].startswith("BLAS: MKL 20")


def test_the_mkl_extra_is_declared_and_in_dev():
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert extras["mkl"] == ["mkl>=2024.1"]
    assert "numpy-mlp[mkl]; platform_machine == 'x86_64' or platform_machine == 'AMD64'" in extras["dev"]


def test_import_mlp_and_training_setup_load_no_mkl():
    """MKL is opened at the first product that may use it, never by ``import mlp`` or building a network."""
    code = ("import mlp; from mlp import Dense, Sequential; Sequential([Dense(3, 2)], seed=0); "
            "print(any('libmkl' in line for line in open('/proc/self/maps')))")
    if not Path("/proc/self/maps").exists():
        pytest.skip("needs Linux's /proc")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout == "False\n"
