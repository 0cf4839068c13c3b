"""``python -m mlp``: the ``mlp`` command (``mlp_command``, which handles stop signals from its first line)."""

from mlp_command import main

main()
