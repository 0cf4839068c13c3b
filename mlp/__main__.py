"""``python -m mlp``: the ``mlp`` command."""

from mlp.cli import main

main()
