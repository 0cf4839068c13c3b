"""``GradientNorms``: how large each layer's gradient and update are as training goes.

For every weight matrix ``W`` (key ``"<layer index>.W"``), every ``every`` batches, it records

- ``<key>/grad_norm``: ``||dL/dW||``, the Frobenius norm of the batch's gradient (docs/backprop.md §4's
  ``X.T @ Delta``). In a deep sigmoid network it shrinks layer by layer towards the input, because each
  layer multiplies the delta by ``f'(A) <= 1/4``: the vanishing gradient.
- ``<key>/update_ratio``: ``||W_after - W_before|| / ||W_before||``, the relative size of the optimizer's
  step. Around 1e-3 is the usual rule of thumb; far below, the layer barely learns; far above, it is unstable.

Each record also has ``epoch``: the fractional epoch, ``epoch index + samples seen / training rows``, so
that curves of runs with different batch sizes line up.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlp.train.callbacks.callback import CALLBACKS, Callback, TrainingState
from mlp.train.history import History


@CALLBACKS.register("gradient_norms")
class GradientNorms(Callback):
    """Records per-layer gradient norms and update/weight ratios every ``every`` batches into ``history``.

    Args:
        every: record after batch 1, 1 + every, 1 + 2 every, ... of each epoch. Each record costs about
            one extra pass over the weights (a copy before the step, two norms after it).
    """

    def __init__(self, every: int = 10) -> None:
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"GradientNorms every must be a positive integer, got {every!r}")
        self.every = every
        self.history = History()
        self._before: dict[str, np.ndarray] | None = None

    def on_batch_begin(self, state: TrainingState) -> None:
        if state.position.batch % self.every == 0:  # batches of the epoch done before this one
            self._before = {key: w.copy() for key, w in state.model.params.items() if w.ndim == 2}

    def on_batch_end(self, state: TrainingState, logs: dict[str, float]) -> None:
        if self._before is None:
            return
        record: dict[str, Any] = {"epoch": state.epoch + logs["samples"] / state.n_train}
        grads = state.model.grads
        for key, w in state.model.params.items():
            if key in self._before:
                before = self._before[key]
                record[f"{key}/grad_norm"] = float(np.linalg.norm(grads[key]))
                record[f"{key}/update_ratio"] = float(np.linalg.norm(w - before) / max(np.linalg.norm(before), 1e-30))
        self.history.append(record)
        self._before = None

    def state_dict(self) -> dict[str, Any]:
        return {"records": self.history.records}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.history = History(state["records"])
