"""Error messages that stay one short line whatever the input: values and name lists are shortened; counts
with their nouns (``plural``).

A hostile or broken input (a YAML alias bomb, a CSV line of millions of fields) must not make the message
about it grow with it: formatting the message would then cost the time and memory the checks are there to
bound.
"""

from __future__ import annotations

import reprlib
from collections.abc import Sequence
from typing import Any

MAX_VALUE = 60  # characters of a value quoted in a message
MAX_NAMES = 12  # names listed before "... (N in all)"

_repr = reprlib.Repr()
_repr.maxlevel, _repr.maxlist, _repr.maxtuple, _repr.maxdict = 2, 4, 4, 4
_repr.maxstring, _repr.maxother, _repr.maxlong = MAX_VALUE, MAX_VALUE, MAX_VALUE


def shorten(value: Any, width: int = MAX_VALUE) -> str:
    """``repr(value)`` for a value quoted in a message, cut to about ``width`` characters (strings: their text).

    Nested lists and mappings are shown a few levels and entries deep, so the cost is bounded however large
    or self-referencing the value is.
    """
    text = value if isinstance(value, str) else _repr.repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def quoted(value: Any) -> str:
    """``shorten(repr(value))`` for strings too: ``'adamm'``, ``[1, 2, ...]``."""
    return shorten(value if not isinstance(value, str) else repr(value))


def name_list(names: Sequence[Any], limit: int = MAX_NAMES) -> str:
    """``"a, b, c"``; beyond ``limit`` names, the first ones and how many there are in all."""
    shown = ", ".join(shorten(str(name), 40) for name in names[:limit])
    return shown if len(names) <= limit else f"{shown}, ... ({len(names):,} in all)"


def plural(n: int, word: str, plural: str | None = None) -> str:
    """``"1 epoch"``, ``"3 epochs"``, ``"1,000 epochs"``; ``plural`` where adding "s" is wrong (``"batches"``)."""
    return f"{n:,} {word if n == 1 else plural or word + 's'}"
