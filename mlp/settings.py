"""Settings declared as data: a ``Key`` per setting a user writes (its default, type, rule or choices).

Where a setting is a constructor argument of a registered thing (an optimizer's ``momentum``, a dataset's
``samples``), its ``Key`` comes from the signature (``keys_from_signature``), so the parameter and its
setting are one definition; ``rules`` add what a signature cannot say (``>= 1``). ``mlp.runs.config`` checks a
config against these keys; the things themselves check the values they are built with.
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

REQUIRED = object()  # the default of a key that has none


@dataclass(frozen=True)
class Rule:
    """A condition on a value and how to say it: ``Rule(lambda v: v > 0, "> 0")``."""

    test: Callable[[Any], bool]
    text: str


AT_LEAST_ONE = Rule(lambda v: v >= 1, ">= 1")
FRACTION = Rule(lambda v: 0 <= v < 1, "in [0, 1)")
NON_NEGATIVE = Rule(lambda v: v >= 0, ">= 0")
POWER_OF_TWO = Rule(lambda v: v >= 1 and v & (v - 1) == 0, "a power of two (1, 2, 4, 8, ...)")
RUN_NAME = Rule(lambda v: re.fullmatch(r"[\w.-]+", v) is not None, "made of letters, digits, '_', '-' and '.'")


def is_number(text: str) -> bool:
    """Whether ``text`` reads as a number (``"1e-3"``, ``"-2"``, ``"nan"``): a CSV cell, or a value YAML left as
    a string (YAML 1.1 reads ``1e-3`` as text)."""
    try:
        float(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Key:
    """One setting: its default (``REQUIRED`` if none), accepted types, and a rule or a list of choices.

    ``None`` is accepted when the default is ``None`` or ``nullable`` is set. ``is_path``: the value names a
    file or folder (a relative one in a config file is relative to the file).
    """

    default: Any
    kind: type | tuple[type, ...]
    rule: Rule | None = None
    choices: tuple[str, ...] = ()
    nullable: bool = False
    is_path: bool = False


def _kind_of(hint: Any) -> tuple[type, ...]:
    """The config types a parameter annotation accepts: ``float | None`` -> ``(float,)``."""
    args = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    return tuple(a for a in args if a in (int, float, bool, str))


def keys_from_signature(*functions: Callable[..., Any], skip: tuple[str, ...] = (),
                        rules: dict[str, Rule] | None = None) -> dict[str, Key]:
    """A ``Key`` for each keyword argument of ``functions`` with a plain type (number, bool, string), in the
    order of the signatures; ``rules`` by argument name."""
    keys: dict[str, Key] = {}
    for function in functions:
        hints = typing.get_type_hints(function)
        for name, param in inspect.signature(function).parameters.items():
            kind = _kind_of(hints.get(name))
            if name in skip or name in keys or not kind or param.kind is param.VAR_KEYWORD:
                continue
            default = REQUIRED if param.default is param.empty else param.default
            keys[name] = Key(default, kind[0] if len(kind) == 1 else kind, (rules or {}).get(name))
    return keys


# The BLAS library of the training step's matrix products (``mlp.native.blas``): an environment variable, so that
# every process of a run (mpiexec's, a sweep's workers) reads the same; ``mlp --blas`` sets it for a command.
BLAS_VARIABLE = "MLP_BLAS"
BLAS = Key("auto", str, choices=("auto", "openblas", "mkl"))
