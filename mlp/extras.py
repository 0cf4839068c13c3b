"""Optional dependencies: each is an extra named for its use (``plot``, ``sklearn``, ``onnx``), imported only by
the module that needs it, and reported, when missing, by one error that says how to install it."""

from __future__ import annotations

import importlib
from types import ModuleType


class MissingExtraError(ImportError, ValueError):
    """An optional dependency is not installed. An ``ImportError`` to Python, and a ``ValueError`` to the
    command line, which reports it as one line (``mlp.cli.common``)."""


def require(module: str, extra: str, user: str, package: str | None = None) -> ModuleType:
    """Import ``module`` of the ``extra``, for ``user`` (``"mlp plot"``); ``package`` is its name on the package
    index where that is not the module's (``scikit-learn`` for ``sklearn``)."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        package = package or module.partition(".")[0]
        raise MissingExtraError(f'{user} needs {package}, which is not installed; install it with: '
                                f'pip install "numpy-mlp[{extra}]"  (or pip install {package})') from err
