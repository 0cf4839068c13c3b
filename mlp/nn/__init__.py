"""The math of one training step, exactly what ``docs/backprop.md`` derives.

- ``layer``: the ``Layer`` interface (``forward``, ``backward``, ``params``, ``grads``) and ``LAYERS``.
- ``dense``, ``activations``, ``dropout``: the layers; ``init``: the Dense layers' initial weights.
- ``losses``: a loss and the delta it gives at the output; ``sample_weights``: how much each row counts.
- ``functional``: the numerically stable functions layers and losses share.
- ``sequential``: a network as a chain of layers; ``optim``: the update from the gradients.
- ``gradcheck``: backprop checked against centered differences.

Nothing here knows about epochs, files or configs: that is ``mlp.train`` and ``mlp.runs``.
"""
