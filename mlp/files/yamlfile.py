"""YAML as ``mlp`` reads and writes it: ``safe_load`` within bounds, and ``to_yaml`` for resolved configs.

PyYAML's ``safe_load`` builds no Python objects, but an "alias bomb" of a few hundred bytes stands for
billions of values through its aliases (``*name``): harmless while they are shared, ruinous once anything
walks or prints them. ``safe_load`` counts what a document expands to, in time linear in its size, and
refuses it past ``MAX_YAML_VALUES``.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml

MAX_YAML_VALUES = 100_000  # values a document may expand to through its aliases


class YAMLTooLargeError(yaml.YAMLError):
    """A YAML document that expands (through aliases) or nests beyond what a config can need."""


def _expanded_size(node: yaml.Node, sizes: dict[int, int], active: set[int]) -> int:
    """How many values ``node`` stands for once every alias in it is expanded; counted once per node, so
    in time linear in the document however far its aliases would expand."""
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in active:
        raise YAMLTooLargeError("an alias (*name) refers to the value that contains it")
    active.add(key)
    children = ([item for pair in node.value for item in pair] if isinstance(node, yaml.MappingNode)
                else node.value if isinstance(node, yaml.SequenceNode) else [])
    total = 1
    for child in children:
        total += _expanded_size(child, sizes, active)
        if total > MAX_YAML_VALUES:
            raise YAMLTooLargeError(f"its aliases (*name) expand it to more than {MAX_YAML_VALUES:,} values; "
                                    f"write the values out")
    active.discard(key)
    sizes[key] = total
    return total


class _BoundedLoader(yaml.SafeLoader):
    """``yaml.safe_load``'s loader, refusing a document whose aliases would expand it past ``MAX_YAML_VALUES``
    values (an "alias bomb" of a few hundred bytes can stand for billions) or make it contain itself."""

    def compose_document(self) -> yaml.Node:
        node = super().compose_document()
        _expanded_size(node, {}, set())
        return node


def safe_load(text: str) -> Any:
    """``yaml.safe_load`` within bounds: ``YAMLTooLargeError`` for alias bombs and absurd nesting."""
    try:
        return yaml.load(text, Loader=_BoundedLoader)  # a SafeLoader: no Python objects
    except RecursionError:
        raise YAMLTooLargeError("it is nested too deeply") from None


class _InlineMap(dict):  # type: ignore[type-arg]
    """A mapping written on one line, ``{dense: 512, activation: relu}``: one layer per line reads best."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(
    _InlineMap, lambda dumper, data: dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=True)
)


def to_yaml(config: dict[str, Any]) -> str:
    """A resolved config as YAML: sections in schema order, one line per layer."""
    config = copy.deepcopy(config)
    config["model"]["layers"] = [_InlineMap(layer) for layer in config["model"]["layers"]]
    return yaml.dump(config, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=100)
