"""A word-level LSTM language model (AWD-LSTM, Merity et al. 2018, at CPU scale) and the text
classifier built on its encoder (ULMFiT's concat pooling, Howard & Ruder 2018).

Regularization kept where it is cheap: embedding dropout (whole words dropped from the embedding
matrix), locked dropout (one mask per sequence, shared over time) on the embeddings and between
layers, and weight drop (DropConnect) on every layer's hidden-to-hidden matrix. The decoder is
tied to the embedding, so the last layer outputs ``emb_size`` features.

The LM trains through the shared ``bench.nn.fit`` loop on (N, bptt) windows of one token stream
(inputs x[t], targets x[t+1]); each window starts from a zero state (the loop permutes windows).
The model scores its own targets (``forward(x, y)`` -> per-token negative log-likelihood), so the
valid pass returns (N, bptt) numbers instead of (N, bptt, vocabulary) logits.

Imported by the ``ulmfit`` card's fit only: listing plugins does not need torch.
"""
from __future__ import annotations

import math
import time
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .vocab import BOS, EOS, PAD, UNK, Vocab


class torch_threads:
    """Run a block with ``n`` torch intra-op threads (None: leave them), then restore the count."""

    def __init__(self, n: int | None):
        self.n = n

    def __enter__(self):
        self.before = torch.get_num_threads()
        if self.n:
            torch.set_num_threads(int(self.n))

    def __exit__(self, *exc):
        torch.set_num_threads(self.before)


def locked_dropout(x: Tensor, p: float, training: bool) -> Tensor:
    """Dropout of (N, T, C) features with one mask per sequence, the same at every time step."""
    if not training or p == 0:
        return x
    mask = x.new_empty(x.shape[0], 1, x.shape[2]).bernoulli_(1 - p) / (1 - p)
    return x * mask


class WeightDropLSTM(nn.Module):
    """One LSTM layer whose hidden-to-hidden weights get a fresh dropout mask per forward pass."""

    def __init__(self, n_in: int, n_out: int, weight_drop: float):
        super().__init__()
        ref = nn.LSTM(n_in, n_out, batch_first=True)  # torch's init, then the weights live here
        self.weight_ih = nn.Parameter(ref.weight_ih_l0.detach().clone())
        self.weight_hh = nn.Parameter(ref.weight_hh_l0.detach().clone())
        self.bias_ih = nn.Parameter(ref.bias_ih_l0.detach().clone())
        self.bias_hh = nn.Parameter(ref.bias_hh_l0.detach().clone())
        self.n_out, self.weight_drop = n_out, weight_drop

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor] | None = None):
        if state is None:
            h = x.new_zeros(1, x.shape[0], self.n_out)
            state = (h, h)
        w_hh = F.dropout(self.weight_hh, self.weight_drop, self.training)
        out, h, c = torch.lstm(x, state, [self.weight_ih, w_hh, self.bias_ih, self.bias_hh],
                               True, 1, 0.0, self.training, False, True)
        return out, (h, c)


class AWDLSTM(nn.Module):
    """Embedding -> ``n_layers`` LSTMs (hidden, ..., hidden, emb_size) with AWD-LSTM's dropouts."""

    def __init__(self, vocab_size: int, emb_size: int, hidden: int, n_layers: int, *, embed_p: float,
                 input_p: float, hidden_p: float, weight_p: float, emb_std: float = 1.0):
        super().__init__()
        if n_layers < 1:
            raise ValueError(f"n_layers must be >= 1, not {n_layers}")
        # torch's N(0, 1) init, not AWD-LSTM's U(-0.1, 0.1): with small inputs three freshly
        # initialised LSTMs pass on almost nothing of them, and a short CPU run stays stuck at the
        # unigram perplexity (MR: 197 after two epochs, against 96 with this init)
        self.emb = nn.Embedding(vocab_size, emb_size, padding_idx=PAD)
        if emb_std != 1.0:
            with torch.no_grad():
                self.emb.weight.mul_(emb_std)
        sizes = [emb_size] + [hidden] * (n_layers - 1) + [emb_size]
        self.rnns = nn.ModuleList(WeightDropLSTM(a, b, weight_p) for a, b in zip(sizes, sizes[1:]))
        self.embed_p, self.input_p, self.hidden_p = embed_p, input_p, hidden_p

    def embed(self, ids: Tensor) -> Tensor:
        """Embedding dropout: a dropped word loses its whole vector, wherever it occurs in the batch."""
        w = self.emb.weight
        if self.training and self.embed_p > 0:
            w = w * (w.new_empty(w.shape[0], 1).bernoulli_(1 - self.embed_p) / (1 - self.embed_p))
        return F.embedding(ids, w, PAD)

    def forward(self, ids: Tensor, states: list | None = None, return_states: bool = False):
        """The last layer's (N, T, emb_size) output (before its dropout); with ``return_states`` the
        layers' final (h, c) too, to carry on from them (generation)."""
        x = locked_dropout(self.embed(ids), self.input_p, self.training)
        new_states = []
        for i, rnn in enumerate(self.rnns):
            x, st = rnn(x, states[i] if states is not None else None)
            new_states.append(st)
            if i < len(self.rnns) - 1:
                x = locked_dropout(x, self.hidden_p, self.training)
        return (x, new_states) if return_states else x


class LanguageModel(nn.Module):
    """The encoder with a decoder tied to its embedding (its own bias): next-word logits over the
    ``n_out`` most frequent ids (the vocabulary's first rows; rarer targets count as ``<unk>``):
    the softmax is most of an LM's cost, and on a small corpus the rare words' scores teach little."""

    def __init__(self, encoder: AWDLSTM, output_p: float, n_out: int | None = None):
        super().__init__()
        self.encoder = encoder
        n_vocab = encoder.emb.num_embeddings
        self.n_out = n_vocab if n_out is None else max(EOS + 1, min(int(n_out), n_vocab))
        self.decoder_bias = nn.Parameter(torch.zeros(self.n_out))
        self.output_p = output_p

    def logits(self, h: Tensor) -> Tensor:
        return F.linear(locked_dropout(h, self.output_p, self.training), self.encoder.emb.weight[: self.n_out],
                        self.decoder_bias)

    def targets(self, y: np.ndarray) -> np.ndarray:
        """Ids the decoder scores: those beyond its words become ``<unk>``."""
        return np.where(y < self.n_out, y, UNK)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Logits (N, T, n_out); with targets ``y`` each token's negative log-likelihood (N, T)."""
        logits = self.logits(self.encoder(x))
        if y is None:
            return logits
        return F.cross_entropy(logits.flatten(0, 1).float(), y.flatten(), reduction="none").view_as(y)


def nll_loss(out: Tensor, target: Tensor) -> Tensor:
    """The loss of the fit loop: the model already scored its targets (``LanguageModel(x, y)``)."""
    return out.mean()


def perplexity(out: Tensor, target: Tensor) -> float:
    return math.exp(min(float(out.double().mean()), 50.0))


def windows(stream: np.ndarray, bptt: int) -> tuple[np.ndarray, np.ndarray]:
    """``(inputs, targets)``: the stream cut into (N, bptt) windows, targets one token ahead."""
    n = (len(stream) - 1) // bptt
    if n < 1:
        raise ValueError(f"a stream of {len(stream)} tokens is shorter than one window of bptt={bptt} "
                         f"(+1); lower bptt or give more text")
    return stream[: n * bptt].reshape(n, bptt), stream[1: n * bptt + 1].reshape(n, bptt)


@torch.no_grad()
def generate(lm: LanguageModel, vocab: Vocab, prompt: str, n_words: int = 15, temperature: float = 0.8,
             seed: int = 0) -> str:
    """The prompt continued by up to ``n_words`` words sampled from the LM at ``temperature`` (with
    a generator of its own: the same seed, the same text); stops at the end of a text."""
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, not {temperature}")
    device = lm.decoder_bias.device
    was_training = lm.training
    lm.eval()
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    banned = torch.tensor([PAD, UNK, BOS])
    ids = torch.tensor([[EOS] + vocab.ids(prompt)], device=device)  # a text starts after <eos>
    words: list[int] = []
    try:
        h, states = lm.encoder(ids, return_states=True)
        for _ in range(int(n_words)):
            logits = lm.logits(h[:, -1:]).float().flatten().cpu() / temperature
            logits[banned] = -math.inf
            nxt = int(torch.multinomial(torch.softmax(logits, 0), 1, generator=gen))
            if nxt == EOS:
                break
            words.append(nxt)
            h, states = lm.encoder(torch.tensor([[nxt]], device=device), states, return_states=True)
    finally:
        lm.train(was_training)
    return " ".join([prompt.strip()] + vocab.words(words))


class TextClassifier(nn.Module):
    """The encoder, then concat pooling (last state, max and mean over the text's own steps) and
    a head of batchnorm, dropout, linear, ReLU, batchnorm, dropout, linear (fastai's ULMFiT head)."""

    def __init__(self, encoder: AWDLSTM, n_classes: int, head_hidden: int, head_p: float):
        super().__init__()
        self.encoder = encoder
        width = 3 * encoder.emb.embedding_dim
        self.head = nn.Sequential(nn.BatchNorm1d(width), nn.Dropout(head_p), nn.Linear(width, head_hidden),
                                  nn.ReLU(), nn.BatchNorm1d(head_hidden), nn.Dropout(0.1),
                                  nn.Linear(head_hidden, n_classes))

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        ids = ids[:, : int(lengths.max())]  # padding is on the right: cut the batch's own tail
        h = self.encoder(ids)  # a forward LSTM: steps before the padding never see it
        mask = (torch.arange(ids.shape[1], device=ids.device)[None, :] < lengths[:, None])[..., None]
        last = h[torch.arange(len(ids), device=ids.device), lengths - 1]
        mx = h.masked_fill(~mask, -math.inf).amax(1)
        mean = (h * mask).sum(1) / lengths[:, None].to(h.dtype)
        return self.head(torch.cat([last, mx, mean], 1))

    def groups(self) -> list[str]:
        """Parameter-name prefixes of the layer groups, bottom (embedding) to top (head)."""
        return ["encoder.emb"] + [f"encoder.rnns.{i}" for i in range(len(self.encoder.rnns))] + ["head"]


def classifier_inputs(vocab: Vocab, texts: Sequence[str], max_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Padded ids with ``<eos>`` in front (where the LM saw each text start) and their lengths."""
    ids, lengths = vocab.encode(texts, max_len)
    return np.concatenate([np.full((len(ids), 1), EOS, np.int64), ids], 1), lengths + 1


def train_lm(encoder: AWDLSTM, vocab: Vocab, train_texts: Sequence[str], valid_texts: Sequence[str] | None,
             cfg: Any, bptt: int, output_p: float, ctx: Any, n_out: int | None = None
             ) -> tuple[LanguageModel, dict[str, Any]]:
    """Train ``encoder`` as a language model on the stream of the train texts (valid's stream for the
    perplexity only) and return the LM with what the run record keeps about it."""
    from bench import nn as bnn

    lm = LanguageModel(encoder, output_p, n_out)
    x, y = windows(vocab.stream(train_texts), bptt)
    y = lm.targets(y)
    data = ((torch.from_numpy(x), torch.from_numpy(y)), torch.from_numpy(y))
    valid = None
    vs = vocab.stream(valid_texts) if valid_texts is not None else np.zeros(0, np.int64)
    if len(vs) > 1:
        vx, vy = windows(vs, min(bptt, len(vs) - 1))
        vy = lm.targets(vy)
        valid = ((torch.from_numpy(vx), torch.from_numpy(vy)), torch.from_numpy(vy))
    t0 = time.perf_counter()
    res = bnn.fit(lm, data, cfg, valid=valid, loss_fn=nll_loss, metric=perplexity,
                  metric_name="valid_perplexity", ctx=ctx, desc="ulmfit LM", log_extra={"stage": "lm"})
    rows = [r for r in res.history if "train_loss" in r]
    info = {"valid_perplexity": None if res.best_score is None else round(res.best_score, 2),
            "train_perplexity": round(math.exp(min(rows[-1]["train_loss"], 50.0)), 2) if rows else None,
            "epochs": res.epochs_run, "best_epoch": res.best_epoch, "stop_reason": res.stop_reason,
            "seconds": round(time.perf_counter() - t0, 2), "train_tokens": int(x.size),
            "vocab_size": len(vocab), "decoder_words": lm.n_out}
    return lm, info
