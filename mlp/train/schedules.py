"""Learning-rate schedules: ``schedule(epoch, base_lr) -> lr`` for the 0-based ``epoch``.

``fit(..., schedule=...)`` sets ``optimizer.lr`` from the schedule at the start of every epoch,
with ``base_lr`` the optimizer's learning rate when it was built; the lr used is recorded in the
history. Reduce-on-plateau depends on validation results, so it is a callback
(``mlp.train.callbacks.ReduceLROnPlateau``) rather than a schedule.
"""

from __future__ import annotations

import math
from typing import Any

from mlp.registry import Registry

# The names configs use; each schedule registers itself below. ``Warmup`` is not among them: it wraps any
# of them (``warmup: N`` in a config).
SCHEDULES: Registry[type[Schedule]] = Registry("schedule")

class Schedule:
    """Base class: ``__call__(epoch, base_lr) -> lr``."""

    def __call__(self, epoch: int, base_lr: float) -> float:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return dict(vars(self))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"


@SCHEDULES.register("constant")
class Constant(Schedule):
    """``lr = base_lr`` for every epoch."""

    def __call__(self, epoch: int, base_lr: float) -> float:
        return base_lr


@SCHEDULES.register("step")
class StepDecay(Schedule):
    """``lr = base_lr * gamma ** floor(epoch / step_size)``: multiply by ``gamma`` every ``step_size`` epochs."""

    def __init__(self, step_size: int, gamma: float = 0.1) -> None:
        if step_size < 1:
            raise ValueError(f"StepDecay step_size must be >= 1, got {step_size}")
        if not 0 < gamma <= 1:
            raise ValueError(f"StepDecay gamma must be in (0, 1], got {gamma}")
        self.step_size, self.gamma = step_size, gamma

    def __call__(self, epoch: int, base_lr: float) -> float:
        return base_lr * self.gamma ** (epoch // self.step_size)


@SCHEDULES.register("exponential")
class ExponentialDecay(Schedule):
    """``lr = base_lr * gamma ** epoch``."""

    def __init__(self, gamma: float) -> None:
        if not 0 < gamma <= 1:
            raise ValueError(f"ExponentialDecay gamma must be in (0, 1], got {gamma}")
        self.gamma = gamma

    def __call__(self, epoch: int, base_lr: float) -> float:
        return base_lr * self.gamma**epoch


@SCHEDULES.register("cosine")
class CosineAnnealing(Schedule):
    """``lr = min_lr + (base_lr - min_lr) (1 + cos(pi * epoch / epochs)) / 2`` (Loshchilov & Hutter 2017,
    one cycle without restarts); ``min_lr`` from epoch ``epochs`` on."""

    def __init__(self, epochs: int, min_lr: float = 0.0) -> None:
        if epochs < 1:
            raise ValueError(f"CosineAnnealing epochs must be >= 1, got {epochs}")
        if min_lr < 0:
            raise ValueError(f"CosineAnnealing min_lr must be >= 0, got {min_lr}")
        self.epochs, self.min_lr = epochs, min_lr

    def __call__(self, epoch: int, base_lr: float) -> float:
        progress = min(epoch, self.epochs) / self.epochs
        return self.min_lr + (base_lr - self.min_lr) * (1 + math.cos(math.pi * progress)) / 2


class Warmup(Schedule):
    """Linear warm-up over the first ``epochs`` epochs, then ``after`` (default constant).

    ``lr = base_lr * (epoch + 1) / (epochs + 1)`` while ``epoch < epochs``, then ``after(epoch, base_lr)``.
    """

    def __init__(self, epochs: int, after: Schedule | None = None) -> None:
        if epochs < 1:
            raise ValueError(f"Warmup epochs must be >= 1, got {epochs}")
        self.epochs, self.after = epochs, after or Constant()

    def __call__(self, epoch: int, base_lr: float) -> float:
        if epoch < self.epochs:
            return base_lr * (epoch + 1) / (self.epochs + 1)
        return self.after(epoch, base_lr)

    def get_config(self) -> dict[str, Any]:
        return {"epochs": self.epochs, "after": repr(self.after)}
