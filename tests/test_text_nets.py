"""The text networks (plugins/text/): vocabulary from train only, blind to padding, seeded,
learning the tiny text task, and the averaged word vectors the "with EE" baselines read."""
from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch

from bench import FitContext, Part
from bench import nn as bnn
from bench.methods.text_features import AveragedEmbeddings
from bench.plugins.checks import tiny_task
from bench.plugins.registry import discover

REG = discover()
TEXT = importlib.import_module(REG.method("fasttext").cls.__module__)  # the plugin package
rnn = importlib.import_module(f"{TEXT.__name__}.rnn")
vocab = importlib.import_module(f"{TEXT.__name__}.vocab")
VARIANTS = sorted(v for v, e in REG.methods.items() if e.cls.__module__ == TEXT.__name__)
PADDED = ["kim-cnn", "lstm", "gru", "bilstm", "lstm-3", "awd-lstm", "transformer", "fasttext-bigram"]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny batches: torch's thread pool only waits on the other cores' work."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def parts():
    task = tiny_task("text-classification")
    return task.part("train"), task.part("valid"), task.part("test")


def make(variant: str, **params):
    entry = REG.method(variant)
    return entry.cls(**{**entry.resolved_params({}), **entry.cls.test_params, **params})


_FITTED: dict[str, object] = {}


def fitted(variant: str, parts):
    """The variant fitted once (test_params, seed 0) for the tests of this module."""
    if variant not in _FITTED:
        train, valid, _ = parts
        _FITTED[variant] = make(variant).fit(train, valid, FitContext(seed=0))
    return _FITTED[variant]


def text_part(texts, like: Part) -> Part:
    return Part(np.array(texts, dtype=object), np.zeros(len(texts), np.int64), like.schema, like.kind)


def logits(model, texts, like: Part) -> np.ndarray:
    """The first net's raw outputs (softmax would hide small differences of a saturated net)."""
    return bnn.predict(model.members_[0], model._tensors(text_part(texts, like).X)).numpy()


def test_every_family_is_registered():
    assert {"fasttext", "kim-cnn", "lstm", "gru", "lstm-2", "lstm-3", "bilstm", "bigru", "lstm-dropout",
            "awd-lstm", "transformer"} <= set(VARIANTS)


def test_the_vocabulary_is_fitted_on_the_train_texts_only(parts):
    train, valid, test = parts
    leak = "zzzleak"  # in every valid and test text, never in train
    valid2, test2 = (text_part([f"{t} {leak} {leak}" for t in p.X], p) for p in (valid, test))
    model = make("fasttext", min_freq=1).fit(train, valid2, FitContext(seed=0))
    assert leak not in model.vocab_.stoi_ and model.vocab_.ids(leak) == [vocab.UNK]
    assert "superb" in model.vocab_.stoi_  # a train word is known: the check above can fail
    table = model.embeddings()["token"]
    assert np.allclose(model.text_vectors([leak])[0], table[vocab.UNK])
    assert model.predict(test2).shape == (len(test2),)


@pytest.mark.parametrize("variant", VARIANTS)
def test_each_variant_learns_the_tiny_task(parts, variant):
    _, _, test = parts
    model = fitted(variant, parts)
    acc = float(np.mean(model.predict(test) == test.y))
    assert acc >= 0.85, f"{variant}: test accuracy {acc:.3f} on the tiny task (chance ~0.5)"


@pytest.mark.parametrize("variant", PADDED)
def test_padding_does_not_change_a_texts_output(parts, variant):
    _, _, test = parts
    model = fitted(variant, parts)
    short = str(test.X[0])
    long = " ".join([str(test.X[1])] * 6)  # many more words: the short text is padded
    alone, batched = logits(model, [short], test), logits(model, [short, long], test)
    ids, _ = model._tensors(text_part([short, long], test).X)
    assert (ids[0] == vocab.PAD).sum() > 20  # really padded
    np.testing.assert_allclose(batched[0], alone[0], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("variant", ["lstm", "awd-lstm", "kim-cnn", "transformer"])
def test_the_same_seed_gives_the_same_net(parts, variant):
    train, valid, test = parts
    a, b, c = (make(variant).fit(train, valid, FitContext(seed=s)) for s in (3, 3, 4))
    assert np.array_equal(a.embeddings()["token"], b.embeddings()["token"])
    assert np.array_equal(logits(a, list(test.X), test), logits(b, list(test.X), test))
    assert not np.array_equal(a.embeddings()["token"], c.embeddings()["token"])  # the seed matters


def test_text_vectors_average_the_words_input_embeddings(parts):
    train, valid, test = parts
    model = fitted("lstm", parts)
    table = model.embeddings()["token"]
    v = model.vocab_.stoi_
    assert table.shape == (len(model.vocab_), model.params["emb_dim"])
    assert not table[vocab.PAD].any()  # <pad> is the zero vector
    vecs = model.text_vectors(["Superb superb zzznever", "", "dull"])
    assert vecs.shape == (3, table.shape[1]) and vecs.dtype == np.float32
    np.testing.assert_allclose(vecs[0], (2 * table[v["superb"]] + table[vocab.UNK]) / 3, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(vecs[1], table[vocab.UNK], rtol=1e-6)  # an empty text: <unk>
    np.testing.assert_allclose(vecs[2], table[v["dull"]], rtol=1e-6)
    # what a "with EE" baseline sees: one row per text, the same vectors
    enc = AveragedEmbeddings(model).fit_transform(test.X)
    np.testing.assert_allclose(enc, model.text_vectors(test.X), rtol=1e-6)
    assert enc.shape == (len(test), table.shape[1])


def test_locked_dropout_on_packed_texts_keeps_one_mask_per_text():
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    torch.manual_seed(0)
    lengths = torch.tensor([5, 2, 4])
    seq = pack_padded_sequence(torch.ones(3, 5, 64), lengths, batch_first=True, enforce_sorted=False)
    out, _ = pad_packed_sequence(rnn.packed_dropout(seq, 0.5, True, True), batch_first=True)
    for i, n in enumerate(lengths.tolist()):
        assert torch.equal(out[i, :n], out[i, :1].expand(n, -1))  # every step: the text's one mask
    assert set(out[0, 0].unique().tolist()) == {0.0, 2.0}
    assert not torch.equal(out[0, 0], out[2, 0])  # texts draw their own masks
    free, _ = pad_packed_sequence(rnn.packed_dropout(seq, 0.5, False, True), batch_first=True)
    assert not torch.equal(free[0, 0], free[0, 1])  # not locked: a mask per element


def test_weight_dropout_perturbs_training_only_and_leaves_the_weights(parts):
    torch.manual_seed(0)
    enc = rnn.RNNEncoder(30, 8, 6, layers=1, weight_dropout=0.5)
    ids, lengths = torch.randint(4, 30, (4, 7)), torch.full((4,), 7)
    before = enc.rnns[0].weight_hh_l0.detach().clone()
    enc.eval()
    plain = enc(ids, lengths)[1]
    enc.train()
    dropped = enc(ids, lengths)[1]
    assert not torch.allclose(plain, dropped)
    dropped.sum().backward()
    assert enc.rnns[0].weight_hh_l0.grad is not None and enc.rnns[0].weight_hh_l0.grad.abs().sum() > 0
    assert torch.equal(enc.rnns[0].weight_hh_l0.detach(), before)
    enc.eval()
    assert torch.equal(enc(ids, lengths)[1], plain)


def test_kim_cnn_windows_without_a_word_never_win():
    """Made so that an all-padding window (ReLU(bias)) would beat every real one, were it kept:
    positive word vectors, negative filters, a large bias."""
    nets = importlib.import_module(f"{TEXT.__name__}.nets")
    torch.manual_seed(0)
    net = nets.KimCNN(30, 8, 2, widths=(2, 3), maps=4, dropout=0.5).eval()
    with torch.no_grad():
        net.embed.weight.abs_()
        for conv in net.convs:
            conv.weight.copy_(-conv.weight.abs())
            conv.bias.fill_(5.0)
    short = torch.tensor([[5, 6, 7]])
    batch = torch.cat([torch.cat([short, torch.zeros(1, 17, dtype=torch.long)], 1), torch.arange(4, 24)[None]])
    with torch.no_grad():
        alone, padded = net(short, torch.tensor([3])), net(batch, torch.tensor([3, 20]))
    torch.testing.assert_close(padded[0], alone[0], rtol=1e-5, atol=1e-6)


def test_no_texts_no_predictions(parts):
    model = fitted("fasttext", parts)
    empty = text_part([], parts[2])
    assert model.predict(empty).shape == (0,) and model.predict_proba(empty).shape == (0, 2)
