"""Optional dependencies: each is an extra named for its use (``plot``, ``sklearn``, ``onnx``), imported only by
the module that needs it, and reported, when missing, by one error that says how to install it: the extra's
requirements as the package declares them (its metadata), which ``pip install`` takes anywhere, in or out of a
clone of the repository."""

from __future__ import annotations

import importlib
import shlex
from importlib import metadata
from types import ModuleType

DISTRIBUTION = "numpy-mlp"


class MissingExtraError(ImportError, ValueError):
    """An optional dependency is not installed. An ``ImportError`` to Python, and a ``ValueError`` to the
    command line, which reports it as one line (``mlp.cli.common``)."""


def extra_requirements(extra: str) -> list[str]:
    """What the ``extra`` of the installed package requires (``["matplotlib>=3.7"]`` for ``plot``); empty where
    the package is not installed (run from a source tree)."""
    try:
        requires = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        return []
    marker = f'extra == "{extra}"'
    return [requirement.strip() for requirement, _, condition in (line.partition(";") for line in requires)
            if condition.strip().replace("'", '"') == marker]


def require(module: str, extra: str, user: str, package: str | None = None) -> ModuleType:
    """Import ``module`` of the ``extra``, for ``user`` (``"mlp plot"``); ``package`` is its name on the package
    index where that is not the module's (``scikit-learn`` for ``sklearn``)."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        package = package or module.partition(".")[0]
        install = " ".join(shlex.quote(r) for r in extra_requirements(extra)) or package
        raise MissingExtraError(f"{user} needs {package}, which is not installed; install it with: "
                                f"pip install {install}  (the {extra} extra)") from err
