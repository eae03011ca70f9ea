"""In practice: experiments that look at how a method trains rather than how well it scores.

``lr_find`` drives a method's own ``fit`` (its network, data encoding, loss and optimizer) and
changes one thing about the training, in this process only; nothing here writes run records.
``lr_find``: Smith's learning-rate range test. ``gradflow``: per-layer signal and gradient
of deep nets built here (and of the cnn plugin's own nets) at initialization and after training.
``suite_runs``, ``page_text``, ``page_plots``: what the pages of the practice suites share (a suite's
runs by task and label, the lr chosen on valid, curves over seeds, verdicts, figures);
``optimizers_page`` and ``lr_page``: the practice-optimizers and practice-lr pages; ``bn`` (with
``bn_ranges``, ``bn_report``, ``bn_plots``): the practice-bn page, on the same ``suite_runs`` runs;
``overfit`` (with ``overfit_page``, ``overfit_plots``): the practice-overfit page;
``summary``: the summary.json every page writes beside its README.md; ``index_page``: the "In
practice" page made from those summaries.
"""
