"""Files that survive kills, full disks and hostile contents.

- ``atomic``: every file ``mlp`` writes is written whole or not at all.
- ``lock``: one process at a time in a run directory or sweep folder.
- ``reading``, ``npzfile``, ``yamlfile``: reading what users hand in (JSON, ``.npz`` archives, YAML) within
  bounds of size and memory, without pickle.
"""
