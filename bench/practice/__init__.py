"""In practice: experiments that look at how a method trains rather than how well it scores.

``lr_find`` drives a method's own ``fit`` (its network, data encoding, loss and optimizer) and
changes one thing about the training, in this process only; nothing here writes run records.
``lr_find``: Smith's learning-rate range test. ``gradflow``: per-layer signal and gradient
of deep nets built here (and of the cnn plugin's own nets) at initialization and after training.
"""
