"""The recipes shipped with ``mlp``: the YAML configs of this folder, installed as the package data
``mlp.configs``, so that ``mlp train spirals`` finds ``spirals.yaml`` wherever ``mlp`` is installed."""
