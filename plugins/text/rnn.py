"""Recurrent text networks: stacked LSTM / GRU over packed sequences, with the dropouts of
AWD-LSTM (Merity, Keskar & Socher 2017, "Regularizing and Optimizing LSTM Language Models").

``RNNEncoder`` reads word ids into one output per word and a final state; it is the reusable part
(a language model or ULMFiT's classifier can put its own head on it). ``RNNClassifier`` pools it
(ULMFiT's concat pooling by default: last state, max and mean over time) into a linear head.

The texts go through the recurrence as packed sequences (``pack_padded_sequence``), so padding
costs no steps and never reaches a state. Dropouts, each off at 0:

- ``word_dropout``: whole words dropped from the embedding table (``nets.WordEmbedding``);
- ``emb_dropout``: on the embedded words; ``hidden_dropout``: between stacked layers;
- ``locked``: those two draw one mask per text, shared by all its time steps (variational /
  locked dropout, Gal & Ghahramani 2016), instead of one per element;
- ``weight_dropout``: DropConnect on the hidden-to-hidden weights, one mask per batch (the
  recurrence is untouched otherwise, so the fused LSTM/GRU kernels still run).
"""
from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from .nets import PAD, WordEmbedding, masked_max, masked_mean, trim

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU}


def sequence_dropout(x: Tensor, p: float, locked: bool, training: bool) -> Tensor:
    """Dropout on (N, L, D): one mask per text shared over time when ``locked``, else per element."""
    if not training or p <= 0:
        return x
    if not locked:
        return F.dropout(x, p, True)
    return x * x.new_empty(x.shape[0], 1, x.shape[2]).bernoulli_(1 - p).div_(1 - p)


def packed_dropout(seq: PackedSequence, p: float, locked: bool, training: bool) -> PackedSequence:
    """Dropout on a packed sequence's rows; ``locked``: one mask per text for all its steps."""
    if not training or p <= 0:
        return seq
    data = seq.data
    if locked:
        sizes = seq.batch_sizes  # texts still running at each step, longest first (sorted order)
        mask = data.new_empty(int(sizes[0]), data.shape[1]).bernoulli_(1 - p).div_(1 - p)
        starts = torch.cumsum(sizes, 0) - sizes
        text = torch.arange(len(data)) - torch.repeat_interleave(starts, sizes)  # row -> its text
        data = data * mask[text.to(data.device)]
    else:
        data = F.dropout(data, p, True)
    return PackedSequence(data, seq.batch_sizes, seq.sorted_indices, seq.unsorted_indices)


class RNNEncoder(nn.Module):
    """Word ids -> stacked LSTM/GRU layers (each its own module, so dropouts fit between them)."""

    def __init__(self, n_words: int, emb_dim: int, hidden: int, layers: int = 1, cell: str = "lstm",
                 bidirectional: bool = False, word_dropout: float = 0.0, emb_dropout: float = 0.0,
                 hidden_dropout: float = 0.0, weight_dropout: float = 0.0, locked: bool = False,
                 init: float = 0.1):
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {sorted(CELLS)}, not {cell!r}")
        if layers < 1:
            raise ValueError(f"layers must be >= 1, not {layers}")
        self.embed = WordEmbedding(n_words, emb_dim, init, word_dropout)
        dirs = 2 if bidirectional else 1
        self.rnns = nn.ModuleList(CELLS[cell](emb_dim if i == 0 else hidden * dirs, hidden, batch_first=True,
                                              bidirectional=bidirectional) for i in range(layers))
        self.out_dim = hidden * dirs
        self.emb_dropout, self.hidden_dropout = float(emb_dropout), float(hidden_dropout)
        self.weight_dropout, self.locked = float(weight_dropout), bool(locked)

    def forward(self, ids: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """``(outputs, last)``: the top layer's output at every position (N, L, out_dim; zero on
        padding) and its final state (N, out_dim; a backward direction's is at the first word)."""
        x = sequence_dropout(self.embed(ids), self.emb_dropout, self.locked, self.training)
        seq = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        for i, rnn in enumerate(self.rnns):
            if i:
                seq = packed_dropout(seq, self.hidden_dropout, self.locked, self.training)
            seq, state = self._run(rnn, seq)
        h = state[0] if isinstance(state, tuple) else state  # (directions, N, hidden), in input order
        out, _ = pad_packed_sequence(seq, batch_first=True, total_length=ids.shape[1])
        return out, torch.cat(list(h), 1)

    def _run(self, rnn: nn.RNNBase, seq: PackedSequence):
        """One layer; in training with ``weight_dropout``, on DropConnect-ed hidden-to-hidden
        weights (``functional_call`` swaps them in for this call only)."""
        if not (self.training and self.weight_dropout > 0):
            return rnn(seq)
        weights = {name: F.dropout(w, self.weight_dropout, True) if name.startswith("weight_hh") else w
                   for name, w in rnn.named_parameters()}
        with warnings.catch_warnings():  # cuDNN: the swapped-in weights are not one flat buffer
            warnings.filterwarnings("ignore", message=".*not part of single contiguous chunk")
            return torch.func.functional_call(rnn, weights, (seq,))


class RNNClassifier(nn.Module):
    """``RNNEncoder`` -> pooling -> dropout -> linear. ``pool``: ``concat`` (last state, max and
    mean over the words: ULMFiT's concat pooling), ``last``, ``max`` or ``mean``."""

    POOLS = ("concat", "last", "max", "mean")

    def __init__(self, encoder: RNNEncoder, n_classes: int, pool: str = "concat", dropout: float = 0.0):
        super().__init__()
        if pool not in self.POOLS:
            raise ValueError(f"pool must be one of {self.POOLS}, not {pool!r}")
        self.encoder, self.pool = encoder, pool
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(encoder.out_dim * (3 if pool == "concat" else 1), n_classes)

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        ids = trim(ids, lengths)
        out, last = self.encoder(ids, lengths)
        words = ids != PAD
        pooled = {"last": lambda: last, "max": lambda: masked_max(out, words),
                  "mean": lambda: masked_mean(out, words),
                  "concat": lambda: torch.cat([last, masked_max(out, words), masked_mean(out, words)], 1)}
        return self.head(self.drop(pooled[self.pool]()))

    def token_table(self) -> Tensor:
        return self.encoder.embed.weight
