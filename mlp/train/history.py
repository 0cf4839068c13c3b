"""``History``: one record per epoch (loss, accuracy, validation results, lr, time), and how training ended."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlp.files.atomic import write_text
from mlp.files.reading import read_json
from mlp.messages import name_list


@dataclass(frozen=True)
class Ending:
    """How ``fit`` ended. ``status``: "completed" (every epoch), "stopped" (a callback such as early stopping
    ended it), "interrupted" (Ctrl-C or a stop signal; ``signal`` names it) or "diverged"; ``headline`` says
    it in words and ``notes`` what callbacks did about it ("saved ..."). ``resumable``: the weights and
    optimizer state were a consistent, finite point when training stopped."""

    status: str = "completed"
    headline: str = ""
    notes: tuple[str, ...] = ()
    signal: str | None = None
    resumable: bool = True

    @property
    def reason(self) -> str:
        """The headline and the notes in one line."""
        return "; ".join([self.headline, *self.notes])


class History:
    """Per-epoch training records, e.g. ``{"epoch": 1, "loss": 0.31, "accuracy": 0.91, "val_loss": ...,
    "lr": 0.01, "time": 1.2}``, and ``ending``, how training ended.

    ``history["val_loss"]`` is the list of that metric over epochs, ``history.history`` all of them as a dict of
    lists (as Keras' ``history.history``: ``pandas.DataFrame(history.history)`` is a table, a row per epoch);
    ``records`` holds the rows. ``time`` is the wall time of the epoch's training part in seconds.
    """

    def __init__(self, records: list[dict[str, Any]] | None = None) -> None:
        self.records: list[dict[str, Any]] = list(records or [])
        self.ending = Ending()

    def append(self, record: dict[str, Any]) -> None:
        self.records.append(dict(record))

    def keys(self) -> list[str]:
        """Every metric name that occurs, in first-seen order."""
        return list(dict.fromkeys(k for record in self.records for k in record))

    def __getitem__(self, key: str) -> list[Any]:
        if key not in self.keys():
            raise KeyError(f"no {key!r} in the history; it has {name_list(self.keys()) or 'nothing yet'}")
        return [record.get(key) for record in self.records]

    @property
    def history(self) -> dict[str, list[Any]]:
        """``{"epoch": [1, 2, ...], "loss": [...], "val_loss": [...], ...}``: a list per metric, an entry per epoch
        (``None`` where an epoch has no such value), in the order of ``keys()``."""
        return {key: self[key] for key in self.keys()}

    def __contains__(self, key: object) -> bool:
        return key in self.keys()

    def __len__(self) -> int:
        return len(self.records)

    def __repr__(self) -> str:
        return f"History({len(self)} epochs: {', '.join(self.keys())})"

    def to_json(self, path: str | Path) -> None:
        """Write the records as a JSON list (atomically)."""
        write_text(path, json.dumps(self.records, indent=1) + "\n")

    def to_csv(self, path: str | Path) -> None:
        """Write the records as CSV, one column per metric (atomically)."""
        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, fieldnames=self.keys())
        writer.writeheader()
        writer.writerows(self.records)
        write_text(path, text.getvalue())

    @classmethod
    def from_json(cls, path: str | Path) -> History:
        """The records of a ``to_json`` file; ``ValueError`` naming the file if it holds something else."""
        path = Path(path)
        records = read_json(path, "a training history")
        if not isinstance(records, list) or not all(isinstance(record, dict) for record in records):
            raise ValueError(f"{path} is not a training history: expected a JSON list of per-epoch records")
        return cls(records)
