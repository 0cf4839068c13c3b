"""The only code in ``mlp`` that talks to native libraries (through ``ctypes``), fenced here with its reasons.

- ``blas.axpy``: the update ``y <- y + alpha x`` through the OpenBLAS that NumPy's wheel carries, by the
  names of its private symbols (``scipy_cblas_saxpy64_``): one pass over memory on both cores instead of
  NumPy's two passes on one, about 0.04 s per epoch of the 784-512-10 network. Where the library or the
  symbols are not there, NumPy does the same update.
- ``blas.matmul`` and ``mkl``: the training step's matrix products through Intel's MKL (``gemm``, the ``mkl``
  extra) where the setting ``MLP_BLAS=mkl`` chooses it (``auto``, the default, keeps OpenBLAS), and its ``axpy``
  then too, with the dense layers' bias passes (``blas.add_to_rows``, ``blas.column_sums``) and the ReLU's
  (``vector``); through NumPy (OpenBLAS) otherwise. A missing, broken or unusable MKL means OpenBLAS, with one
  warning.
- ``fpenv.flush_denormals``: the CPU's flush-to-zero flags while ``fit`` trains (glibc on x86-64 Linux),
  so that decaying optimizer state does not linger among slow denormal floats. Elsewhere it does nothing.

All are optional speed-ups: every result is the same without them, up to the last bits (a fused multiply-add,
or MKL's sums added in another order). Optimizer authors use ``mlp.nn.optim.add_scaled`` rather than ``axpy``
itself; the rule that comes with it is written in ``mlp.nn.optim.Optimizer``.
"""
