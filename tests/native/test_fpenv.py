"""Flush-to-zero while training: denormals become 0 on every thread, and only inside the block."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from mlp import SGD, Dense, Sequential, SoftmaxCrossEntropy, fit
from mlp.native import fpenv
from mlp.train.callbacks import Callback

TINY = np.float32(1e-39)  # a float32 denormal: below the smallest normal number, 1.18e-38
needs_flags = pytest.mark.skipif(not fpenv.supported(), reason="FTZ/DAZ flags are set on x86-64 glibc Linux only")
# The session runs BLAS on one thread; the flags must reach its worker threads too: they get them back
pytestmark = pytest.mark.usefixtures("blas_threads")


def flushed() -> bool:
    """Whether a denormal input reads as 0 on this thread (DAZ) -- and its product is not denormal (FTZ)."""
    return bool((np.full(4, TINY) * np.float32(1))[0] == 0)


@needs_flags
def test_denormals_are_flushed_inside_the_block_only():
    assert not flushed()
    with fpenv.flush_denormals() as active:
        assert active
        assert flushed()
        assert np.float32(1e-30) * np.float32(1e-10) == 0  # a normal product that underflows: FTZ
    assert not flushed()
    assert np.float32(1e-30) * np.float32(1e-10) > 0


@needs_flags
def test_blas_worker_threads_and_new_threads_follow_the_flags():
    a = np.full((1024, 1024), TINY, np.float32)  # large enough for OpenBLAS to split the product over threads
    with fpenv.flush_denormals():
        assert np.count_nonzero(a @ np.eye(1024, dtype=np.float32)) == 0
        seen = []
        thread = threading.Thread(target=lambda: seen.append(flushed()))
        thread.start()
        thread.join()
        assert seen == [True]
    assert np.count_nonzero(a @ np.eye(1024, dtype=np.float32)) == a.size


@needs_flags
def test_the_previous_flags_come_back_after_an_error():
    with pytest.raises(KeyError), fpenv.flush_denormals():
        raise KeyError("boom")
    assert not flushed()
    with fpenv.flush_denormals(), fpenv.flush_denormals():
        pass
    assert not flushed()


def test_disabled_or_unsupported_changes_nothing(monkeypatch):
    with fpenv.flush_denormals(enabled=False) as active:
        assert not active
        assert not flushed()
    monkeypatch.setattr(fpenv, "_LIBM", None)
    assert not fpenv.supported()
    with fpenv.flush_denormals() as active:
        assert not active
        assert not flushed()


class RecordFlush(Callback):
    def __init__(self) -> None:
        self.seen: list[bool] = []

    def on_batch_end(self, state, logs) -> None:
        self.seen.append(flushed())


@needs_flags
@pytest.mark.parametrize("flush", [True, False])
def test_fit_trains_with_the_flags_unless_told_not_to(flush):
    rng = np.random.default_rng(0)
    x, y = rng.random((64, 3), dtype=np.float32), rng.integers(0, 2, 64)
    record = RecordFlush()
    fit(Sequential([Dense(3, 2)], seed=0), SoftmaxCrossEntropy(), SGD(), x, y, epochs=2, batch_size=16,
        callbacks=[record], verbose=0, flush_denormals=flush)
    assert record.seen == [flush] * 8
    assert not flushed()
