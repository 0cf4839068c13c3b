"""``Registry``: the names users write (in YAML, on the command line) for the things ``mlp`` is made of.

One registry per concept, defined next to what it names and filled where each thing is defined::

    LAYERS = Registry("layer")                  # in mlp/nn/layer.py

    @LAYERS.register("relu")                    # in mlp/nn/activations.py
    class ReLU(Activation): ...

Config validation, the builders, checkpoints (which store these names), the command line and the tests all
read the same registries, so a new activation, loss, optimizer, schedule, callback or dataset is one
definition in one file.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from mlp.messages import name_list, quoted

T = TypeVar("T")


class UnknownNameError(ValueError):
    """A name that no entry of a registry has."""


class Registry(Generic[T]):
    """Names -> things (classes, functions, dataset sources), in the order they were registered, with aliases.

    ``kind`` says what the names are of ("optimizer"), for messages.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}
        self._aliases: dict[str, str] = {}

    def register(self, name: str, *aliases: str) -> Callable[[T], T]:
        """A decorator that registers what it decorates under ``name`` (and ``aliases``) and returns it."""

        def add(item: T) -> T:
            return self.add(name, item, *aliases)

        return add

    def add(self, name: str, item: T, *aliases: str) -> T:
        """Register ``item`` under ``name`` and ``aliases``; a name may be taken once."""
        for key in (name, *aliases):
            if key in self:
                raise ValueError(f"{self.kind} name {key!r} is taken (by {self.get(key)!r})")
        self._entries[name] = item
        for alias in aliases:
            self._aliases[alias] = name
        return item

    def alias(self, alias: str, name: str) -> None:
        """Let ``alias`` stand for the registered ``name`` too."""
        if alias in self:
            raise ValueError(f"{self.kind} name {alias!r} is taken")
        self._aliases[alias] = self.canonical(name)

    def remove(self, name: str) -> None:
        """Forget ``name`` and its aliases (for tests that register something of their own)."""
        self._entries.pop(name)
        self._aliases = {alias: target for alias, target in self._aliases.items() if target != name}

    def canonical(self, name: str) -> str:
        """The registered name ``name`` is or stands for; ``UnknownNameError`` if it is neither."""
        if name in self:  # a str: unhashable and other odd values are simply unknown
            return name if name in self._entries else self._aliases[name]
        guessable = isinstance(name, str) and len(name) < 100  # difflib is slow on long strings
        close = difflib.get_close_matches(name, self.choices(), n=1) if guessable else []
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UnknownNameError(f"unknown {self.kind} {quoted(name)}{hint}; valid names: {name_list(self.names(), 50)}")

    def get(self, name: str) -> T:
        """The thing registered under ``name`` or an alias of it."""
        return self._entries[self.canonical(name)]

    def find(self, stored: str) -> T:
        """What a name stored in a file names: a registered name or alias, or, as files of earlier versions
        stored them, the class name of a registered class."""
        if stored in self:
            return self.get(stored)
        for item in self._entries.values():
            if getattr(item, "__name__", None) == stored:
                return item
        return self.get(stored)  # the error names the valid ones

    def name_of(self, item: T) -> str:
        """The registered name of ``item`` (a class, a function or an instance of a registered class)."""
        for name, entry in self._entries.items():
            if entry is item or (isinstance(entry, type) and type(item) is entry):
                return name
        raise UnknownNameError(f"{item!r} is not a registered {self.kind}; register it with "
                               f"@{self.kind.upper()}S.register('name') to use it by name or store it in a file")

    def stored_name(self, item: T) -> str:
        """The name a file stores for ``item``: its registered name, or its class name if it has none (such a
        file is read back only once the class is registered)."""
        try:
            return self.name_of(item)
        except UnknownNameError:
            return type(item).__name__ if not isinstance(item, type) else item.__name__

    def names(self) -> list[str]:
        """The registered names, in the order of registration (aliases left out)."""
        return list(self._entries)

    def choices(self) -> list[str]:
        """Every name a user may write: the registered names, then the aliases."""
        return [*self._entries, *self._aliases]

    def items(self) -> list[tuple[str, T]]:
        return list(self._entries.items())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (name in self._entries or name in self._aliases)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind}: {', '.join(self._entries)})"
