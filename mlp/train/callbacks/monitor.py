"""``Monitor``: the best value so far of one history entry, for the callbacks that act on improvement.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlp.messages import name_list
from mlp.train.metrics import higher_is_better


@dataclass
class Monitor:
    """Tracks the best value of one history entry: ``mode="min"`` (losses), ``"max"`` (accuracies) or
    ``"auto"`` (max for accuracies and the metrics of ``mlp.train.metrics.METRICS``, such as
    ``val_f1_macro``; min for the rest); an improvement must beat the best by ``min_delta``."""

    name: str = "val_loss"
    mode: str = "auto"
    min_delta: float = 0.0
    best: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.mode == "auto":
            self.mode = "max" if higher_is_better(self.name) else "min"
        if self.mode not in ("min", "max"):
            raise ValueError(f"monitor mode must be 'min', 'max' or 'auto', got {self.mode!r}")
        if self.min_delta < 0:
            raise ValueError(f"min_delta must be >= 0, got {self.min_delta}")

    def value(self, logs: dict[str, Any]) -> float:
        if self.name not in logs:
            hint = "; pass validation_split or validation_data" if self.name.startswith("val_") else ""
            raise ValueError(f"cannot monitor {self.name!r}: the history has {name_list(list(logs))}{hint}")
        return float(logs[self.name])

    def update(self, logs: dict[str, Any]) -> bool:
        """Whether this epoch improved on the best so far (and if so, remember it)."""
        value = self.value(logs)
        better = self.best is None or (
            value < self.best - self.min_delta if self.mode == "min" else value > self.best + self.min_delta
        )
        if better:
            self.best = value
        return better
