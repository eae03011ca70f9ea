"""ULMFiT (plugins/text/): the LM sees train texts only, learns, samples under a seed; the classifier
with and without pretraining is the same net; gradual unfreezing trains the groups top down."""
from __future__ import annotations

import importlib
import math

import numpy as np
import pytest
import torch

import bench.nn as bnn
from bench import FitContext, Part
from bench.plugins.checks import tiny_task
from bench.plugins.registry import discover

REG = discover()
ULMFIT = REG.method("ulmfit").cls
PKG = ULMFIT.__module__.rpartition(".")[0]  # the plugin package, under its private name
lm = importlib.import_module(f"{PKG}.lm")
vocab_mod = importlib.import_module(f"{PKG}.vocab")
TINY = dict(ULMFIT.test_params)


@pytest.fixture(scope="module")
def parts():
    task = tiny_task("text-classification")
    return task.part("train"), task.part("valid"), task.part("test")


def fitted(variant: str, train, valid, seed: int = 0, **over):
    entry = REG.method(variant)
    ctx = FitContext(seed=seed)
    model = entry.cls(**entry.resolved_params({**TINY, **over})).fit(train, valid, ctx)
    return model, ctx


def marked(part: Part, word: str) -> Part:
    """The part with ``word`` added to every text."""
    return Part(np.array([f"{t} {word}" for t in part.X], dtype=object), part.y, part.schema, part.kind)


def test_the_lm_sees_only_the_train_texts(parts, monkeypatch):
    train, valid, test = parts
    valid, test = marked(valid, "zzvalidonly"), marked(test, "zztestonly")
    seen = {}
    real_train_lm, real_windows = lm.train_lm, lm.windows

    def spy_train_lm(encoder, vocab, train_texts, valid_texts, *a, **kw):
        seen["train_texts"], seen["valid_texts"] = list(train_texts), list(valid_texts)
        return real_train_lm(encoder, vocab, train_texts, valid_texts, *a, **kw)

    def spy_windows(stream, bptt):
        seen.setdefault("streams", []).append(np.array(stream))
        return real_windows(stream, bptt)

    monkeypatch.setattr(lm, "train_lm", spy_train_lm)
    monkeypatch.setattr(lm, "windows", spy_windows)
    model, ctx = fitted("ulmfit", train, valid)
    model.predict(test)
    assert "zzvalidonly" not in model.vocab_.stoi_ and "zztestonly" not in model.vocab_.stoi_
    assert seen["train_texts"] == list(train.X)  # the LM trains on train, in order
    assert seen["valid_texts"] == list(valid.X)  # valid only for the perplexity
    train_stream, valid_stream = seen["streams"]
    assert np.array_equal(train_stream, model.vocab_.stream(train.X))
    assert (valid_stream == vocab_mod.UNK).sum() >= len(valid)  # its marker word is unknown
    assert ctx.info["lm"]["train_tokens"] == (len(train_stream) - 1) // TINY["bptt"] * TINY["bptt"]


def test_the_lm_perplexity_falls_well_below_the_vocabulary_size():
    words = "the cat sat on a mat while dogs ran over hills near old towns".split()
    rng = np.random.default_rng(0)
    texts = [" ".join(words[i:i + 6]) for i in rng.integers(0, len(words) - 6, 300)]
    vocab = vocab_mod.Vocab().fit(texts)
    cfg = bnn.TrainConfig(epochs=12, batch_size=16, optimizer="adam", lr=1e-2, device="cpu")
    with bnn.seeded(0):
        enc = lm.AWDLSTM(len(vocab), 16, 32, 2, embed_p=0.0, input_p=0.0, hidden_p=0.0, weight_p=0.0)
        model, info = lm.train_lm(enc, vocab, texts, texts[:40], cfg, 10, 0.0, None)
    # a word's successor is fixed here except after <eos> (one of 9 starts)
    assert info["valid_perplexity"] < len(vocab) / 5, info
    assert info["epochs"] == 12 and info["vocab_size"] == len(vocab)


def test_generate_is_seeded_and_samples_words_of_the_vocabulary(parts):
    train, valid, _ = parts
    model, ctx = fitted("ulmfit", train, valid)
    texts = [model.generate("the film", 8, 0.8, seed=s) for s in range(6)]
    assert texts == [model.generate("the film", 8, 0.8, seed=s) for s in range(6)]
    assert len(set(texts)) > 1  # the seed matters
    for t in texts:
        assert t.startswith("the film") and len(t.split()) <= 2 + 8
        assert all(w in model.vocab_.stoi_ and w not in vocab_mod.SPECIALS for w in t.split()[2:])
    assert len(ctx.info["lm"]["samples"]) == len(ULMFIT.defaults["samples"])
    assert math.isfinite(ctx.info["lm"]["valid_perplexity"])


def test_ulmfit_and_scratch_differ_only_by_pretraining(parts):
    train, valid, _ = parts
    a, b = (REG.method(v) for v in ("ulmfit", "ulmfit-scratch"))
    pa, pb = a.resolved_params({}), b.resolved_params({})
    assert a.cls is b.cls and {k for k in pa if pa[k] != pb[k]} == {"pretrain"}
    (ma, ca), (mb, cb) = fitted("ulmfit", train, valid), fitted("ulmfit-scratch", train, valid)
    na, nb = dict(ma.members_[0].named_parameters()), dict(mb.members_[0].named_parameters())
    assert {k: v.shape for k, v in na.items()} == {k: v.shape for k, v in nb.items()}
    assert ma.n_parameters() == mb.n_parameters() and repr(ma.members_[0].head) == repr(mb.members_[0].head)
    assert "lm" in ca.info and "lm" not in cb.info and mb.lm_ is None
    with pytest.raises(ValueError, match="pretrain"):
        mb.generate("the")
    # same seed, same start: the two classifiers are built alike, the LM's copy starts from it
    with bnn.seeded(0):
        fresh = ma.build_classifier(len(ma.vocab_), 2)
    with bnn.seeded(0):
        again = mb.build_classifier(len(mb.vocab_), 2)
    for (k, v), (_, w) in zip(fresh.state_dict().items(), again.state_dict().items()):
        assert torch.equal(v, w), k


def test_gradual_unfreezing_trains_the_groups_top_down(parts, monkeypatch):
    train, valid, _ = parts
    calls = []
    real_fit = bnn.fit

    def spy_fit(model, data, cfg, **kw):
        before = {k: v.detach().clone() for k, v in model.named_parameters()}
        res = real_fit(model, data, cfg, **kw)
        changed = {k for k, v in model.named_parameters() if not torch.equal(v.detach().cpu(), before[k].cpu())}
        calls.append((kw.get("log_extra", {}).get("stage"), dict(cfg.lr_mult or {}), changed))
        return res

    monkeypatch.setattr(bnn, "fit", spy_fit)
    model, ctx = fitted("ulmfit", train, valid, n_layers=2, stage_epochs=(1, 1, 1), stage_lrs=(1e-2, 1e-2, 1e-2))
    assert [c[0] for c in calls] == ["lm", 1, 2, 3]
    prefixes = ["encoder.emb.", "encoder.rnns.0.", "encoder.rnns.1.", "head."]
    names = [k for k, _ in model.members_[0].named_parameters()]

    def in_groups(groups):
        return {k for k in names if k.startswith(tuple(groups))}

    (_, m1, c1), (_, m2, c2), (_, m3, c3) = calls[1:]
    assert c1 == in_groups(["head."])  # stage 1: the head alone
    assert c2 == in_groups(["encoder.rnns.1.", "head."])  # stage 2: + the top LSTM
    assert c3 == in_groups(prefixes) == set(names)  # the last stage: every group
    assert m1 == {"head.": 1.0}
    assert m2 == pytest.approx({"encoder.rnns.1.": 1 / 2.6, "head.": 1.0})
    assert m3 == pytest.approx({p: 2.6 ** -(3 - i) for i, p in enumerate(prefixes)})
    assert [row["groups"] for row in ctx.info["stages"]] == [["head"], ["encoder.rnns.1", "head"],
                                                           [p.rstrip(".") for p in prefixes]]
    stages = {row.get("stage") for row in ctx.history}
    assert stages == {"lm", 1, 2, 3}  # every stage's epochs in the run's history
    assert all(p.requires_grad for p in model.members_[0].parameters())  # left trainable


def test_same_seed_same_model_and_another_seed_another(parts):
    train, valid, test = parts
    (m1, c1), (m2, c2) = fitted("ulmfit", train, valid, seed=3), fitted("ulmfit", train, valid, seed=3)
    assert np.array_equal(m1.predict(test), m2.predict(test))
    for (k, v), (_, w) in zip(m1.members_[0].state_dict().items(), m2.members_[0].state_dict().items()):
        assert torch.equal(v, w), k
    timeless = [{k: v for k, v in c.info["lm"].items() if k != "seconds"} for c in (c1, c2)]
    assert timeless[0] == timeless[1]  # perplexity, epochs, samples
    m3, _ = fitted("ulmfit", train, valid, seed=4)
    assert not torch.equal(m1.members_[0].head[-1].weight, m3.members_[0].head[-1].weight)


def test_text_vectors_average_the_input_embeddings_without_padding(parts):
    train, valid, _ = parts
    model, _ = fitted("ulmfit-scratch", train, valid)
    E = model.embeddings()["token"]
    assert E.shape == (len(model.vocab_), TINY["emb_size"])
    texts = ["the film", "the film is dull and boring ."]
    V = model.text_vectors(np.array(texts, dtype=object))
    for t, v in zip(texts, V):
        ids = model.vocab_.ids(t)
        assert np.allclose(v, E[ids].mean(0), atol=1e-6)
