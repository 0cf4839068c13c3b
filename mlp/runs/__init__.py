"""Configs into run directories: what ``mlp train`` and ``mlp sweep`` do, as a library.

- ``config``: the YAML schema, its defaults, ``--set`` overrides, and validation into a ``RunSpec``.
- ``build``: from a ``RunSpec`` to the data and the network.
- ``run``: a training run (fresh, resumed, or one process of ``mpiexec``) and the files it writes.
- ``folder``: a run directory's files and what a directory holds; ``trained``: a trained run opened again.
- ``sweep``: many short runs of one config over a search space; ``outputs``: where a command may write.
"""
