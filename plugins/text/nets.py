"""The torch modules of the text classifiers: fastText, Kim's CNN and a small transformer encoder
(the recurrent ones are in ``rnn``), and the pieces they share.

Every network is called as ``net(ids, lengths)``: ids (N, L) int64 padded on the right with
``<pad>`` (0), lengths (N,) the number of words of each text. Each is blind to the padding (the
``<pad>`` vector is always zero and masked out of every pooling), so a text gets the same output
alone or in a batch with a longer one; a batch is first cut to its longest text (``trim``), which
only saves work. ``token_table()`` is the input embedding table, row i the vector of word id i.

A module of its own so that loading the text cards (listing, tables) does not import torch.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

PAD = 0  # plugins/text/vocab.py: <pad> is id 0


def trim(ids: Tensor, lengths: Tensor) -> Tensor:
    """The ids without the columns past the batch's longest text (one host sync per batch)."""
    return ids[:, : max(1, int(lengths.max()))] if len(lengths) else ids


def masked_mean(h: Tensor, mask: Tensor) -> Tensor:
    """Mean over time (dim 1) of the positions where ``mask`` is true; (N, L, D) -> (N, D)."""
    h = h.masked_fill(~mask.unsqueeze(-1), 0.0)
    return h.sum(1) / mask.sum(1, keepdim=True).clamp(min=1).to(h.dtype)


def masked_max(h: Tensor, mask: Tensor) -> Tensor:
    """Max over time (dim 1) of the positions where ``mask`` is true; (N, L, D) -> (N, D)."""
    return h.masked_fill(~mask.unsqueeze(-1), float("-inf")).max(1).values


class WordEmbedding(nn.Module):
    """Word vectors, uniform in (-init, init); ``<pad>`` is always the zero vector.

    ``word_dropout`` drops whole words in training: each row of the table is zeroed with that
    probability for the batch (the rest scaled by 1 / (1 - p)), so a dropped word is missing
    wherever it occurs (Gal & Ghahramani 2016; AWD-LSTM's embedding dropout).
    """

    def __init__(self, n_words: int, dim: int, init: float = 0.1, word_dropout: float = 0.0):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_words, dim).uniform_(-init, init))
        with torch.no_grad():
            self.weight[PAD] = 0.0  # and it stays so: masked out of every lookup, it gets no gradient
        self.word_dropout = float(word_dropout)

    def forward(self, ids: Tensor) -> Tensor:
        w = self.weight
        if self.training and self.word_dropout > 0:
            keep = 1.0 - self.word_dropout
            w = w * w.new_empty(w.shape[0], 1).bernoulli_(keep).div_(keep)
        x = F.embedding(ids, w)
        return x.masked_fill((ids == PAD).unsqueeze(-1), 0.0)


class FastText(nn.Module):
    """Bag of tricks (Joulin et al. 2017): the mean of the text's word vectors (and, with
    ``bigram_buckets``, of its hashed word-bigram vectors) -> dropout -> linear."""

    def __init__(self, n_words: int, dim: int, n_classes: int, bigram_buckets: int = 0,
                 dropout: float = 0.0, init: float = 0.1):
        super().__init__()
        self.embed = WordEmbedding(n_words, dim, init)
        self.buckets = int(bigram_buckets)
        self.bigrams = WordEmbedding(self.buckets + 1, dim, init) if self.buckets else None  # row 0: none
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(dim, n_classes)

    def bigram_ids(self, ids: Tensor) -> Tensor:
        """Bucket + 1 of each pair of neighbouring words (a fixed hash of their ids), 0 where
        either is padding."""
        a, b = ids[:, :-1], ids[:, 1:]
        both = (a != PAD) & (b != PAD)
        return torch.where(both, (a * 1_000_003 + b) % self.buckets + 1, 0)

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        ids = trim(ids, lengths)
        total, count = self.embed(ids).sum(1), (ids != PAD).sum(1)
        if self.bigrams is not None and ids.shape[1] > 1:
            bi = self.bigram_ids(ids)
            total = total + self.bigrams(bi).sum(1)
            count = count + (bi != PAD).sum(1)
        return self.head(self.drop(total / count.clamp(min=1).unsqueeze(1).to(total.dtype)))

    def token_table(self) -> Tensor:
        return self.embed.weight


class KimCNN(nn.Module):
    """Kim (2014): word vectors -> convolutions of several widths -> ReLU -> max over time ->
    dropout -> linear. Convolutions are wide (k - 1 zero vectors on each side of the text, as in
    Kim's code), so a text shorter than a filter still has windows, and every window that holds
    no word of the text is left out of the max."""

    def __init__(self, n_words: int, dim: int, n_classes: int, widths: tuple[int, ...] = (3, 4, 5),
                 maps: int = 100, dropout: float = 0.5, init: float = 0.25):
        super().__init__()
        self.embed = WordEmbedding(n_words, dim, init)
        self.convs = nn.ModuleList(nn.Conv1d(dim, maps, k, padding=k - 1) for k in widths)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(maps * len(widths), n_classes)

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        ids = trim(ids, lengths)
        x = self.embed(ids).transpose(1, 2)  # (N, dim, L)
        lengths = lengths.to(x.device)
        feats = []
        for conv in self.convs:
            h = F.relu(conv(x))  # (N, maps, L + k - 1); position t covers words t - k + 1 .. t
            k = conv.kernel_size[0]
            windows = torch.arange(h.shape[2], device=h.device) < (lengths + k - 1).unsqueeze(1)
            # ReLU outputs are >= 0, so a zeroed window never wins over a real one
            feats.append(h.masked_fill(~windows.unsqueeze(1), 0.0).max(2).values)
        return self.head(self.drop(torch.cat(feats, 1)))

    def token_table(self) -> Tensor:
        return self.embed.weight


class TextTransformer(nn.Module):
    """A small pre-norm transformer encoder: word vectors + learned positions -> ``layers``
    self-attention blocks (padding masked out of the keys) -> layer norm -> mean over the text's
    words -> dropout -> linear."""

    def __init__(self, n_words: int, dim: int, n_classes: int, max_len: int, layers: int = 2,
                 heads: int = 4, ff: int = 256, dropout: float = 0.1, init: float = 0.05):
        super().__init__()
        self.embed = WordEmbedding(n_words, dim, init)
        self.positions = nn.Parameter(torch.empty(max_len, dim).uniform_(-init, init))
        block = nn.TransformerEncoderLayer(dim, heads, ff, dropout, activation="gelu", batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(block, layers, norm=nn.LayerNorm(dim), enable_nested_tensor=False)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(dim, n_classes)

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        ids = trim(ids, lengths)
        if ids.shape[1] > len(self.positions):
            raise ValueError(f"texts of {ids.shape[1]} words, but the network has {len(self.positions)} "
                             "positions (max_len)")
        words = ids != PAD
        x = self.drop(self.embed(ids) + self.positions[: ids.shape[1]])
        h = self.encoder(x, src_key_padding_mask=~words)
        return self.head(self.drop(masked_mean(h, words)))

    def token_table(self) -> Tensor:
        return self.embed.weight
