"""Text classifiers trained from scratch, for ``text-classification`` tasks (MR, IMDB).

- ``fasttext``, ``fasttext-bigram``: the mean of the word vectors (and of hashed word-bigram
  vectors) -> linear (Joulin et al. 2017, "Bag of Tricks for Efficient Text Classification").
- ``kim-cnn``: Kim (2014)'s CNN-rand: random word vectors, filters of widths 3, 4, 5 x 100 maps,
  ReLU, max over time, dropout 0.5, linear.
- ``lstm``, ``gru`` (one layer), ``lstm-2``, ``lstm-3`` (stacked), ``bilstm``, ``bigru``
  (bidirectional), ``lstm-dropout`` (two layers with dropout on the embedded words, between the
  layers and before the head), ``awd-lstm`` (AWD-LSTM's regularizers: word dropout, locked
  dropout, DropConnect on the hidden-to-hidden weights): packed sequences, ULMFiT's concat
  pooling (last state, max and mean over time) into a linear head (``rnn``).
- ``transformer``: a 2-layer, 4-head pre-norm encoder, d 64, learned positions, mean pooling.
- ``ulmfit``, ``ulmfit-scratch`` (``ulmfit``, ``lm``): Howard & Ruder (2018)'s transfer, a language
  model pretrained on the train texts, then fine-tuned with gradual unfreezing, against the same
  classifier from scratch.

The vocabulary is fitted on the train texts only (``vocab.Vocab``): a word seen only in valid or
test is ``<unk>``. Training is the shared ``bench.nn`` loop: cross-entropy, AdamW, the valid
accuracy after every epoch, early stopping (``patience``) under a generous epoch ceiling, the
best epoch's weights kept; the history (train loss, training error, valid accuracy) goes to the
run record. Without a valid part every one of ``epochs`` is trained.

Every network offers the "with EE" baselines its word vectors: ``text_vectors(texts)`` (each text
the mean of its words' input embeddings, an unknown word as ``<unk>``'s) and ``embeddings()``
(``{"token": table}``, rows labelled by ``vocab_.itos_``).

The defaults are sized for MR on a CPU (about 10k snippets of about 20 words); for IMDB raise
``max_len`` (texts are cut to their first ``max_len`` words). This module holds the cards and
imports no torch; the networks are in ``nets`` and ``rnn``, imported by ``fit``.
"""
from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.methods.torch import TorchMethod

from .ulmfit import ULMFiT
from .vocab import UNK, Vocab, tokens

if TYPE_CHECKING:
    import torch
    from torch import nn

COMMON_DEFAULTS: dict[str, Any] = {
    # vocabulary, fitted on the train texts only
    "min_freq": 2,  # rarer train words are <unk> (so <unk>'s vector is trained too)
    "max_size": 50_000,  # most frequent words kept, specials included; None: all
    "max_len": 100,  # words kept per text (MR's longest has 59); None: the longest train text
    # network
    "emb_dim": 128,  # word vector size
    "emb_init": 0.1,  # word vectors start uniform in (-emb_init, emb_init)
    "dropout": 0.0,  # before the linear head
    # training
    "epochs": 30,  # ceiling; early stopping ends most runs long before
    "patience": 2,  # epochs without a better valid accuracy before stopping (MR: best epoch 1-3)
    "restore_best": True,  # keep the weights of the best valid epoch
    "batch_size": 128,
    "optimizer": "adamw",  # sgd | rmsprop | adam | adamw
    "lr": 1e-3,
    "weight_decay": 0.01,  # decoupled (adamw); not on biases and norms
    "schedule": "constant",  # constant | step | cosine | onecycle
    "grad_clip": None,  # max global gradient norm
    "lr_mult": None,  # {param-name prefix: lr multiplier}, e.g. {"embed": 2.0} (encoder.embed: rnn)
    "ensemble": 1,  # nets averaged, each its own seed (text_vectors: the first)
    "amp": True,  # bf16 autocast on CUDA
    "eval_batch_size": 1024,
    "train_options": None,  # any other bench.nn.TrainConfig field
}
OPTIONAL_INT = (int, type(None))
SMALL = {"emb_dim": 16, "min_freq": 1, "batch_size": 16, "epochs": 6, "lr": 1e-2, "patience": None}  # test_params: tiny, quick


def texts_of(X: Any) -> list[str]:
    """The documents of a text part (a 1-D array or sequence of str)."""
    arr = np.asarray(X, dtype=object)
    if arr.ndim != 1:
        raise TypeError(f"a text task's X must be a 1-D array of texts, got shape {arr.shape}")
    return [str(t) for t in arr]


class _TextNN(TorchMethod):
    """Shared fit/predict: vocabulary on train, ids and lengths as tensors, cross-entropy."""

    kinds = ("text-classification",)
    param_types = {"max_len": OPTIONAL_INT, "max_size": OPTIONAL_INT}
    budget_share = 0.9  # of ctx.time_budget for training; the rest for predicting

    def _network(self, n_words: int, n_classes: int) -> nn.Module:
        raise NotImplementedError

    def _tensors(self, X: Any) -> tuple[torch.Tensor, torch.Tensor]:
        import torch

        ids, lengths = self.vocab_.encode(texts_of(X), self.max_len_)
        return torch.from_numpy(ids), torch.from_numpy(lengths)

    def fit(self, train, valid, ctx) -> "_TextNN":
        import torch
        import torch.nn.functional as F

        from bench import nn as bnn

        p = self.params
        self.check_kind(train)
        texts = texts_of(train.X)
        self.vocab_ = Vocab(int(p["min_freq"]), p["max_size"]).fit(texts)
        words = np.array([len(tokens(t)) for t in texts], dtype=np.int64)
        self.max_len_ = int(p["max_len"]) if p["max_len"] is not None else max(1, int(words.max(initial=1)))
        y = np.asarray(train.y)
        self.classes_ = np.unique(y)
        y_t = torch.from_numpy(np.searchsorted(self.classes_, y).astype(np.int64))
        x = self._tensors(train.X)
        device = bnn.resolve_device(ctx.device)

        valid_data = metric = None
        if valid is not None and len(valid):
            valid_data = (self._tensors(valid.X), torch.zeros(len(valid)))
            v_true = np.asarray(valid.y)

            def metric(out: torch.Tensor, _target) -> float:
                return float(np.mean(self.classes_[out.argmax(1).cpu().numpy()] == v_true))

        results = self.fit_members(lambda: self._network(len(self.vocab_), len(self.classes_)), (x, y_t),
                                   self.train_config(device), ctx, device, valid=valid_data,
                                   loss_fn=F.cross_entropy, metric=metric, metric_name="valid_accuracy",
                                   maximize=True, train_metric=train_error, train_metric_name="train_error")
        ctx.info.update({"nn_fits": self.member_fits(results, "valid_accuracy"), "device": str(device),
                         "n_parameters": self.n_parameters(), "vocab_size": len(self.vocab_),
                         "max_len": self.max_len_, "train_texts_cut": int((words > self.max_len_).sum())})
        return self

    def predict_proba(self, data) -> np.ndarray:
        """Class probabilities (N, n_classes), averaged over the ensemble, columns as ``classes_``."""
        import torch

        from bench import nn as bnn

        self.check_fitted()
        if len(data) == 0:
            return np.zeros((0, len(self.classes_)))
        x = self._tensors(data.X)
        bs, amp = int(self.params["eval_batch_size"]), bool(self.params["amp"])
        return np.mean([torch.softmax(bnn.predict(m, x, bs, amp=amp), 1).cpu().numpy() for m in self.members_], 0)

    def predict(self, data) -> np.ndarray:
        return self.classes_[self.predict_proba(data).argmax(1)]

    # the word vectors, for the "with EE" baselines
    def embeddings(self) -> dict[str, np.ndarray]:
        """``{"token": (vocab, dim)}``, the input embedding table of the first net; row i is the
        word ``vocab_.itos_[i]`` (row 0, ``<pad>``, is zero)."""
        self.check_fitted("embeddings")
        return {"token": self.members_[0].token_table().detach().float().cpu().numpy().copy()}

    def text_vectors(self, texts: Any) -> np.ndarray:
        """(n, dim) float32: each text the mean of its words' input embeddings (every word, not cut
        at ``max_len``; an unknown word counts as ``<unk>``, an empty text is ``<unk>``)."""
        from scipy import sparse

        table = self.embeddings()["token"]
        seqs = [self.vocab_.ids(t) or [UNK] for t in texts_of(texts)]
        lengths = np.array([len(s) for s in seqs], dtype=np.int64)
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        indices = np.fromiter(itertools.chain.from_iterable(seqs), np.int64, int(indptr[-1]))
        counts = sparse.csr_matrix((np.ones(len(indices), np.float32), indices, indptr),
                                   shape=(len(seqs), len(table)))  # a repeated word counts each time
        return (np.asarray(counts @ table) / np.maximum(lengths, 1)[:, None]).astype(np.float32)


def train_error(out, target):
    """The share of a training batch the net gets wrong (logged per epoch as ``train_error``)."""
    return (out.argmax(1) != target).float().mean()


class FastText(_TextNN):
    name = "fasttext"
    description = "fastText: mean of word (and hashed bigram) vectors -> linear (Joulin et al. 2017)"
    defaults = {**COMMON_DEFAULTS, "emb_dim": 100, "lr": 3e-3,
                "bigram_buckets": 0}  # hashed word-bigram vectors (0: words only)
    variants = {"fasttext": {}, "fasttext-bigram": {"bigram_buckets": 50_000}}
    test_params = {**SMALL}

    def _network(self, n_words, n_classes):
        from .nets import FastText as Net

        p = self.params
        return Net(n_words, int(p["emb_dim"]), n_classes, int(p["bigram_buckets"]), float(p["dropout"]),
                   float(p["emb_init"]))


class KimCNN(_TextNN):
    name = "kim-cnn"
    description = "Kim (2014) CNN-rand: filters 3,4,5 x 100, max over time, dropout 0.5"
    defaults = {**COMMON_DEFAULTS, "emb_init": 0.25,  # Kim's random vectors: uniform (-0.25, 0.25)
                "widths": (3, 4, 5),  # filter widths, in words
                "maps": 100,  # feature maps per width
                "dropout": 0.5}
    variants = {"kim-cnn": {}}
    test_params = {**SMALL, "maps": 8}

    def _network(self, n_words, n_classes):
        from .nets import KimCNN as Net

        p = self.params
        widths = tuple(int(w) for w in p["widths"])
        if not widths or min(widths) < 1:
            raise ValueError(f"{self.name}: widths must be positive filter widths, not {p['widths']!r}")
        return Net(n_words, int(p["emb_dim"]), n_classes, widths, int(p["maps"]), float(p["dropout"]),
                   float(p["emb_init"]))


class TextRNN(_TextNN):
    name = "text-rnn"
    description = "LSTM/GRU text classifiers: stacked, bidirectional, dropout, AWD-LSTM; concat pooling"
    defaults = {**COMMON_DEFAULTS, "lr": 2e-3, "grad_clip": 1.0,
                "emb_dim": 64,  # sized for a CPU (MR, 2 cores): 128 costs ~2x the time for ~1 point
                "cell": "lstm",  # lstm | gru
                "hidden": 64,  # units per layer and direction
                "layers": 1,
                "bidirectional": False,
                "pool": "concat",  # concat (last state, max, mean) | last | max | mean
                "word_dropout": 0.0,  # whole words dropped from the embedding table (AWD)
                "emb_dropout": 0.0,  # on the embedded words
                "hidden_dropout": 0.0,  # between stacked layers
                "weight_dropout": 0.0,  # DropConnect on the hidden-to-hidden weights (AWD)
                "locked": False,  # one dropout mask per text for all its words (AWD's locked dropout)
                "amp": False}  # recurrent kernels: float32 on CUDA too
    variants = {
        "lstm": {},
        "gru": {"cell": "gru"},
        "lstm-2": {"layers": 2},
        "lstm-3": {"layers": 3},
        "bilstm": {"bidirectional": True},
        "bigru": {"cell": "gru", "bidirectional": True},
        "lstm-dropout": {"layers": 2, "emb_dropout": 0.3, "hidden_dropout": 0.3, "dropout": 0.5},
        "awd-lstm": {"layers": 2, "locked": True, "word_dropout": 0.1, "emb_dropout": 0.3,
                     "hidden_dropout": 0.2, "weight_dropout": 0.3, "dropout": 0.3},
    }
    test_params = {**SMALL, "hidden": 16}

    def _network(self, n_words, n_classes):
        from .rnn import RNNClassifier, RNNEncoder

        p = self.params
        encoder = RNNEncoder(n_words, int(p["emb_dim"]), int(p["hidden"]), int(p["layers"]), str(p["cell"]),
                             bool(p["bidirectional"]), float(p["word_dropout"]), float(p["emb_dropout"]),
                             float(p["hidden_dropout"]), float(p["weight_dropout"]), bool(p["locked"]),
                             float(p["emb_init"]))
        return RNNClassifier(encoder, n_classes, str(p["pool"]), float(p["dropout"]))


class TextTransformer(_TextNN):
    name = "transformer"
    description = "a small transformer encoder (2 layers, 4 heads, d 64), learned positions, mean pool"
    defaults = {**COMMON_DEFAULTS, "lr": 5e-4, "emb_init": 0.05,
                "emb_dim": 64,  # sized for a CPU: d 64 with 4 heads of 16
                "layers": 2,
                "heads": 4,  # emb_dim must be a multiple
                "ff": 128,  # width of each block's feed-forward layer
                "dropout": 0.1,  # in the blocks, on the input and before the head
                "warmup_epochs": 1.0}  # linear lr warm-up
    variants = {"transformer": {}}
    test_params = {**SMALL, "ff": 32, "heads": 2}

    def _network(self, n_words, n_classes):
        from .nets import TextTransformer as Net

        p = self.params
        dim, heads = int(p["emb_dim"]), int(p["heads"])
        if dim % heads:
            raise ValueError(f"{self.name}: emb_dim ({dim}) must be a multiple of heads ({heads})")
        return Net(n_words, dim, n_classes, self.max_len_, int(p["layers"]), heads, int(p["ff"]),
                   float(p["dropout"]), float(p["emb_init"]))
