"""``Position``: where training stands, the epoch, the batch and the epoch's running sums, which a checkpoint
stores so that training resumes from any batch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass



@dataclass
class Position:
    """Where training stands: epoch ``epoch`` (0-based; equal to the number of completed epochs) is in
    progress with ``batch`` of its batches done.

    ``shuffle_state`` is the shuffling generator's state before this epoch drew its permutation, so that a
    resumed run draws the same one; ``loss_sum`` (the sum of batch loss times batch weight: its rows, or the
    sum of their weights), ``weight``, ``correct``, ``counted`` (weighted too, where the rows have weights) and
    ``seen`` (rows) are the epoch's running sums, and ``elapsed`` its training seconds so far.
    """

    epoch: int = 0
    batch: int = 0
    shuffle_state: dict[str, Any] | None = None
    loss_sum: float = 0.0
    correct: float = 0
    counted: float = 0
    seen: int = 0
    elapsed: float = 0.0
    weight: float = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Position:
        """A position as ``to_dict`` gave it; files written before rows had weights count each row 1."""
        return cls(**{"weight": data.get("seen", 0)} | data)
