"""``History``: one record per epoch (loss, accuracy, validation results, lr, time)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any


class History:
    """Per-epoch training records, e.g. ``{"epoch": 1, "loss": 0.31, "accuracy": 0.91, "val_loss": ...,
    "lr": 0.01, "time": 1.2}``.

    ``history["val_loss"]`` is the list of that metric over epochs (as Keras' ``history.history``);
    ``records`` holds the rows. ``time`` is the wall time of the epoch's training part in seconds.
    """

    def __init__(self, records: list[dict[str, Any]] | None = None) -> None:
        self.records: list[dict[str, Any]] = list(records or [])

    def append(self, record: dict[str, Any]) -> None:
        self.records.append(dict(record))

    def keys(self) -> list[str]:
        """Every metric name that occurs, in first-seen order."""
        return list(dict.fromkeys(k for record in self.records for k in record))

    def __getitem__(self, key: str) -> list[Any]:
        if key not in self.keys():
            raise KeyError(f"no {key!r} in the history; it has {', '.join(self.keys()) or 'nothing yet'}")
        return [record.get(key) for record in self.records]

    def __contains__(self, key: object) -> bool:
        return key in self.keys()

    def __len__(self) -> int:
        return len(self.records)

    def __repr__(self) -> str:
        return f"History({len(self)} epochs: {', '.join(self.keys())})"

    def to_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.records, indent=1) + "\n")

    def to_csv(self, path: str | Path) -> None:
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self.keys())
            writer.writeheader()
            writer.writerows(self.records)

    @classmethod
    def from_json(cls, path: str | Path) -> History:
        return cls(json.loads(Path(path).read_text()))
