"""``fit`` and what it keeps: the loop, its callbacks, schedules, checkpoint files, history, stop signals,
data-parallel training and metrics.

- ``loop``: ``fit`` and ``evaluate``, mini-batch gradient descent over the ``mlp.nn`` step.
- ``callbacks``: the hooks ``fit`` calls, the ``TrainingState`` they get, and the built-in callbacks.
- ``position``: where training stands, which checkpoints store so that training resumes from any batch.
- ``schedules``: learning rate by epoch; ``history``: one record per epoch and how training ended.
- ``checkpoint``: model and training-state files; ``interrupts``: stop signals end training at a batch boundary.
- ``parallel`` and ``watcher``: the same step on several processes (``mpiexec``); ``metrics``: accuracy and
  confusion matrices.

(This package's ``__init__`` imports nothing: the ``mlp`` command installs its signal handlers from
``mlp.train.interrupts`` before NumPy loads.)
"""
