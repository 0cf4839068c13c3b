"""A sweep's search space: the parameters of ``space:`` in a sweep file, checked, and drawn through Optuna.

Each key is a dotted config path (as in ``--set``); its value says what to try::

    optimizer.lr: {log_uniform: [1.0e-4, 1.0e-1]}   # a float, uniform in log(lr): Optuna's FloatDistribution(log=True)
    model.layers.0.dense: {int_uniform: [32, 512]}  # an integer from low to high, both included
    model.layers.1.rate: {uniform: [0.0, 0.5]}      # a float from low to high
    training.batch_size: [32, 64]                   # a list, or {choice: [...]}: one of the values
    optimizer.momentum: {uniform: [0.5, 0.99], when: {optimizer.name: sgd}}   # only when an earlier choice has a value

A parameter with ``when`` (a conditional parameter) is drawn only in trials where each named parameter, a choice
listed before it, has the value given (or one of the values listed); in the others the base config's value stays.
Optuna draws such spaces by run (``Trial.suggest_*`` in the order of the file); the grid and CMA-ES samplers need
one fixed space, so ``when`` is refused with them.

Optuna's categorical values are numbers, strings, booleans and null; a choice of anything else (a list of layers,
a mapping) is given to Optuna as its JSON text, and read back from it.

Optuna is imported only where values are drawn (``suggest``, ``distribution``): reading and checking a sweep file
does not need it.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from mlp.messages import quoted
from mlp.settings import is_number

DISTRIBUTIONS = ("choice", "uniform", "log_uniform", "int_uniform")
RANGES = ("uniform", "log_uniform", "int_uniform")
SCALAR = (bool, int, float, str, type(None))  # what Optuna's CategoricalDistribution takes as it is
MAX_VALUES = 500  # values listed in a whole space: each is checked against the base config (ms each) before a run


class SweepError(ValueError):
    """A sweep file that cannot be used: the message names the key and the fix."""


@dataclass
class Parameter:
    """One dimension of the space: a config ``path``, its ``kind`` (``DISTRIBUTIONS``), its ``values`` (the
    choices, or ``[low, high]``), and ``when``: the values of earlier choices it is drawn for (path -> allowed
    values), empty for a parameter every trial draws."""

    path: str
    kind: str
    values: list[Any]
    when: dict[str, list[Any]] = field(default_factory=dict)

    @property
    def log(self) -> bool:
        """Whether the parameter is searched on a log scale (plots draw it on a log axis)."""
        return self.kind == "log_uniform"

    def categories(self) -> list[Any]:
        """The choices as Optuna takes them: scalars as they are, anything else as its JSON text."""
        return [value if isinstance(value, SCALAR) else json.dumps(value, sort_keys=True) for value in self.values]

    def value_of(self, category: Any) -> Any:
        """The choice whose Optuna category is ``category`` (``categories``)."""
        return self.values[self.categories().index(category)] if self.kind == "choice" else category

    def distribution(self) -> Any:
        """The parameter's Optuna distribution."""
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        if self.kind == "choice":
            return CategoricalDistribution(self.categories())
        low, high = self.values
        if self.kind == "int_uniform":
            return IntDistribution(low, high)
        return FloatDistribution(low, high, log=self.log)

    def applies(self, values: dict[str, Any]) -> bool:
        """Whether a trial whose values so far are ``values`` (path -> value) draws this parameter."""
        return all(path in values and values[path] in allowed for path, allowed in self.when.items())

    def suggest(self, trial: Any) -> Any:
        """The value Optuna's ``trial`` draws for this parameter (a choice as the sweep file gives it)."""
        if self.kind == "choice":
            return self.value_of(trial.suggest_categorical(self.path, self.categories()))
        low, high = self.values
        if self.kind == "int_uniform":
            return trial.suggest_int(self.path, low, high)
        return trial.suggest_float(self.path, low, high, log=self.log)

    def describe(self) -> dict[str, Any]:
        """The parameter as the sweep file gives it (``sweep.yaml``)."""
        return {self.kind: self.values} | ({"when": self.when} if self.when else {})


def parse_space(space: Any) -> list[Parameter]:
    """The parameters of a sweep file's ``space`` (a non-empty mapping), checked."""
    if not isinstance(space, dict) or not space:
        raise SweepError("space must map config paths to the values to try, e.g. space: {optimizer.lr: [0.01, 0.1]}")
    parameters: list[Parameter] = []
    for key, spec in space.items():
        parameters.append(parameter(str(key), spec, parameters))
    listed = sum(len(p.values) for p in parameters)
    if listed > MAX_VALUES:
        raise SweepError(f"the space lists {listed:,} values, more than {MAX_VALUES:,}; list fewer, or give ranges "
                         f"({{uniform: [low, high]}}, {{int_uniform: [low, high]}})")
    return parameters


def parameter(path: str, spec: Any, earlier: list[Parameter]) -> Parameter:
    """The parameter ``path`` of the space from its ``spec``; ``earlier``: the parameters listed before it, which
    its ``when`` may name."""
    where = f"space.{path}"
    if isinstance(spec, list):
        spec = {"choice": spec}
    kinds = [key for key in spec if key in DISTRIBUTIONS] if isinstance(spec, dict) else []
    if len(kinds) != 1 or any(key not in (*DISTRIBUTIONS, "when") for key in spec):
        raise SweepError(f"{where} must be a list of values or one of {{choice: [...]}}, {{uniform: [low, high]}}, "
                         f"{{log_uniform: [low, high]}}, {{int_uniform: [low, high]}} (with when: {{PATH: VALUE}} "
                         f"if it depends on an earlier choice); got {quoted(spec)}")
    kind = kinds[0]
    values = spec[kind]
    if not isinstance(values, list) or not values:
        raise SweepError(f"{where}.{kind} must be a non-empty list, got {quoted(values)}")
    if kind == "choice":
        if len(values) > MAX_VALUES:
            raise SweepError(f"{where} lists {len(values):,} values, more than {MAX_VALUES:,}; list fewer")
        texts = [json.dumps(v, sort_keys=True) if not isinstance(v, SCALAR) else repr(v) for v in values]
        counts = Counter(texts)
        if len(counts) != len(texts):
            repeated = next(v for v, t in zip(values, texts, strict=True) if counts[t] > 1)
            raise SweepError(f"{where} lists {quoted(repeated)} more than once; list each value once")
    else:
        values = _range(where, kind, values)
    return Parameter(path, kind, values, _conditions(where, spec.get("when"), earlier))


def _range(where: str, kind: str, values: list[Any]) -> list[Any]:
    """``[low, high]`` of a range, checked: two numbers (integers for ``int_uniform``), low < high, and low > 0 on a
    log scale."""
    numbers = [float(v) if isinstance(v, str) and is_number(v) else v for v in values]  # YAML reads 1e-3 so
    whole = kind == "int_uniform"
    if len(numbers) != 2 or not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                                    for v in numbers):
        raise SweepError(f"{where}.{kind} must be [low, high], two {'integers' if whole else 'numbers'}; got "
                         f"{quoted(values)}")
    if whole and not all(float(v).is_integer() for v in numbers):
        raise SweepError(f"{where}.int_uniform must be [low, high], two integers; got {quoted(values)}")
    low, high = (int(v) for v in numbers) if whole else (float(v) for v in numbers)
    if not low < high or (kind == "log_uniform" and low <= 0):
        raise SweepError(f"{where}.{kind} needs {'0 < ' if kind == 'log_uniform' else ''}low < high, "
                         f"got {quoted(values)}")
    return [low, high]


def _conditions(where: str, when: Any, earlier: list[Parameter]) -> dict[str, list[Any]]:
    """A parameter's ``when``: each named parameter is a choice listed earlier, and each value one of its choices."""
    if when is None:
        return {}
    choices = {p.path: p for p in earlier if p.kind == "choice"}
    if not isinstance(when, dict) or not when:
        raise SweepError(f"{where}.when must map earlier choices to their values, e.g. when: {{optimizer.name: sgd}}; "
                         f"got {quoted(when)}")
    conditions = {}
    for path, allowed in when.items():
        if path not in choices:
            listed = ", ".join(choices) or "none"
            raise SweepError(f"{where}.when names {quoted(path)}, which is not a choice listed before it in the space "
                             f"(choices before it: {listed}); list that choice first")
        allowed = allowed if isinstance(allowed, list) else [allowed]
        wrong = [value for value in allowed if value not in choices[path].values]
        if wrong or not allowed:
            raise SweepError(f"{where}.when: {quoted(wrong[0] if wrong else allowed)} is not one of space.{path}'s "
                             f"values ({', '.join(map(str, choices[path].values))})")
        conditions[str(path)] = allowed
    return conditions


def grid_size(parameters: list[Parameter]) -> int:
    """How many combinations a grid of ``parameters`` (all choices, none conditional) has."""
    return math.prod(len(p.values) for p in parameters)


def check_method(method: str, parameters: list[Parameter]) -> None:
    """Refuse what ``method``'s Optuna sampler cannot draw: a grid lists only choices of one fixed space; CMA-ES
    draws numbers of one fixed space."""
    conditional = next((p for p in parameters if p.when), None)
    if method in ("grid", "cmaes") and conditional is not None:
        raise SweepError(f"space.{conditional.path} has when:, a conditional parameter, which method: {method} "
                         f"cannot draw (it needs one fixed space); use method: tpe or random")
    if method == "grid":
        ranged = next((p for p in parameters if p.kind != "choice"), None)
        if ranged is not None:
            raise SweepError(f"space.{ranged.path} is a {ranged.kind} range, which a grid cannot list; give its "
                             f"values as a list, or use method: random or tpe")
    if method == "cmaes":
        chosen = next((p for p in parameters if p.kind == "choice" and len(p.values) > 1), None)
        if chosen is not None:
            raise SweepError(f"space.{chosen.path} is a list of values, which method: cmaes cannot search (it "
                             f"draws numbers from ranges); give a range (uniform, log_uniform, int_uniform) or use "
                             f"method: tpe")
