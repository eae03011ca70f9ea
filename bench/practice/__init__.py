"""In practice: experiments that look at how a method trains rather than how well it scores.

Each one drives a method's own ``fit`` (its network, data encoding, loss and optimizer) and
changes one thing about the training, in this process only; nothing here writes run records.
``lr_find``: Smith's learning-rate range test.
"""
