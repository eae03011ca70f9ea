"""ULMFiT (Howard & Ruder, "Universal Language Model Fine-tuning for Text Classification", 2018)
at CPU scale: a word-level AWD-LSTM language model trained on the task's train texts, then its
encoder under a concat-pooling head, fine-tuned with gradual unfreezing and discriminative rates.

- ``ulmfit``: LM pretraining on the stream of the train texts (never valid or test: the vocabulary
  and the stream come from train; valid's stream only measures the perplexity), then fine-tuning.
- ``ulmfit-scratch``: the same classifier, the same initial weights and the same fine-tuning, with
  no LM pretraining (the paper's "without pretraining" ablation): what pretraining buys.

Fine-tuning (fastai's recipe): stage 1 trains the head, each next stage one more layer group
(embedding, LSTM 1..n, head, top first), the last stage all of them; a group's lr is the one above
it / ``lr_decay`` (2.6), one-cycle per stage, AdamW; early stopping on valid accuracy. There is no
general-domain corpus here (the paper's WikiText-103 step): the LM sees in-domain text only.

Defaults sized and tuned on MR (valid parts only) for ~20 s of LM per epoch on one CPU thread:
a 3-layer 64-128-128-64 encoder, 3 LM epochs (valid perplexity ~75 against 197 for unigram
frequencies). The last stage's peak lr is high (5e-2 on the head, 1.1e-3 on the embedding after
four / 2.6): an LM trained on ~190k tokens gives word vectors that still have to learn sentiment,
and with fastai's decreasing stage rates (2e-2 .. 1e-3) they hardly move (MR valid 0.63-0.65).

The card imports no torch; ``lm`` holds the networks and is imported by ``fit``.
"""
from __future__ import annotations

import copy
import time
from typing import Any

import numpy as np

from bench import FitContext, Part
from bench.methods.torch import TorchMethod, on_cpu

# AWD-LSTM's dropouts in fastai's two configurations, scaled by drop_mult / lm_drop_mult
LM_DROPS = {"embed_p": 0.02, "input_p": 0.25, "hidden_p": 0.15, "weight_p": 0.2, "output_p": 0.1}
CLAS_DROPS = {"embed_p": 0.05, "input_p": 0.4, "hidden_p": 0.3, "weight_p": 0.5, "output_p": 0.4}


def as_texts(X: Any) -> list[str]:
    arr = np.asarray(X, dtype=object)
    if arr.ndim != 1:
        raise TypeError(f"a text task's X must be a 1-D array of texts, got shape {arr.shape}")
    return [str(t) for t in arr]


def unfreeze_plan(groups: list[str], n_stages: int, lr_decay: float) -> list[dict[str, float]]:
    """Per stage, the trained groups' lr multipliers: stage s trains the top s + 1 groups, the last
    stage every group; the top one gets 1, each lower one its upper neighbour's / ``lr_decay``."""
    plan = []
    for s in range(n_stages):
        k = len(groups) if s == n_stages - 1 else min(s + 1, len(groups))
        plan.append({g: lr_decay ** -(k - 1 - i) for i, g in enumerate(groups[-k:])})
    return plan


class ULMFiT(TorchMethod):
    name = "ulmfit"
    kinds = ("text-classification",)
    description = "AWD-LSTM language model on the train texts, fine-tuned as a classifier (ULMFiT)"
    defaults = {
        "pretrain": True,          # train the encoder as a language model first
        "min_freq": 2,             # vocabulary (train texts only): words seen at least this often
        "max_vocab": 30000,
        "max_len": 100,            # words per text for the classifier (MR: at most 59)
        "emb_size": 64,            # embedding = the last LSTM's width (tied decoder)
        "hidden": 128,             # the other LSTMs' width
        "n_layers": 3,
        "emb_std": 1.0,            # the word vectors' initial scale (N(0, emb_std^2))
        "lm_drop_mult": 0.3,       # x LM_DROPS (fastai's LM fine-tuning value)
        "drop_mult": 0.2,          # x CLAS_DROPS (fastai: 0.5; a few CPU epochs need less)
        "bptt": 20,                # LM window (tokens)
        "lm_epochs": 3,
        "lm_lr": 3e-2,
        "lm_batch_size": 64,
        "lm_words": 3000,          # the decoder scores the most frequent words; rarer ones are <unk>
        "lm_budget_share": 0.5,    # most of the time budget the LM may take
        "stage_epochs": (1, 1, 1, 4),  # gradual unfreezing: head, +LSTM n, +LSTM n-1, all
        "stage_lrs": (2e-2, 2e-2, 2e-2, 5e-2),  # the top group's peak lr per stage (docstring)
        "lr_decay": 2.6,           # discriminative rates: each lower group's lr / this
        "batch_size": 32,
        "patience": 2,             # epochs without a better valid accuracy (per stage)
        "optimizer": "adamw",
        "weight_decay": 0.01,
        "betas": (0.8, 0.99),
        "cycle_momentum": (0.8, 0.7),
        "grad_clip": 0.25,
        "head_hidden": 50,
        "samples": ("this movie", "the acting", "a film that"),  # LM prompts for the run record
        "sample_words": 15,
        "temperature": 0.8,
        "amp": False,              # bf16 autocast on CUDA
        "cpu_threads": None,       # torch threads on the CPU (None: as set by the runner)
        "train_options": None,     # any other bench.nn.TrainConfig field
    }
    param_types = {"max_vocab": (int, type(None)), "lm_words": (int, type(None)), "cpu_threads": (int, type(None))}
    variants = {"ulmfit": {}, "ulmfit-scratch": {"pretrain": False}}
    test_params = {"emb_size": 16, "hidden": 24, "n_layers": 2, "bptt": 12, "lm_epochs": 2, "min_freq": 1,
                   "stage_epochs": (1, 1, 2), "lm_batch_size": 16, "batch_size": 32, "sample_words": 5}

    # -- building -----------------------------------------------------------------------------
    def _drops(self, table: dict[str, float], mult: float) -> dict[str, float]:
        return {k: v * float(mult) for k, v in table.items()}

    def build_classifier(self, n_words: int, n_classes: int):
        """The classifier, initialised from torch's current (seeded) generator."""
        from .lm import AWDLSTM, TextClassifier

        p = self.params
        d = self._drops(CLAS_DROPS, p["drop_mult"])
        enc = AWDLSTM(n_words, int(p["emb_size"]), int(p["hidden"]), int(p["n_layers"]), embed_p=d["embed_p"],
                      input_p=d["input_p"], hidden_p=d["hidden_p"], weight_p=d["weight_p"],
                      emb_std=float(p["emb_std"]))
        return TextClassifier(enc, n_classes, int(p["head_hidden"]), d["output_p"])

    def training_scope(self, device):
        from .lm import torch_threads

        return torch_threads(self.params["cpu_threads"] if device.type == "cpu" else None)

    # -- fitting ------------------------------------------------------------------------------
    def fit(self, train: Part, valid: Part | None, ctx: FitContext) -> "ULMFiT":
        from bench import nn as bnn

        from .vocab import Vocab

        p = self.params
        self.check_kind(train)
        texts = as_texts(train.X)
        self.classes_ = np.unique(np.asarray(train.y))
        self.vocab_ = Vocab(int(p["min_freq"]), p["max_vocab"]).fit(texts)
        device = bnn.resolve_device(ctx.device)
        budget = ctx.time_budget
        start = time.perf_counter()
        self.lm_ = None
        with self.training_scope(device):
            with bnn.seeded(ctx.seed, device):
                clf = self.build_classifier(len(self.vocab_), len(self.classes_))
            if p["pretrain"]:
                lm_budget = None if budget is None else float(p["lm_budget_share"]) * budget
                self.lm_ = self._pretrain(clf, texts, valid, ctx, device, lm_budget)
            left = None if budget is None else max(0.0, budget - (time.perf_counter() - start))
            with bnn.seeded(ctx.seed, device):
                stages = self._fine_tune(clf, train, valid, ctx, device, left)
        self.members_ = [clf]
        ctx.info.update({"stages": stages, "vocab_size": len(self.vocab_), "device": str(device),
                         "n_parameters": self.n_parameters(), "pretrained": bool(p["pretrain"])})
        return self

    def _pretrain(self, clf, texts: list[str], valid: Part | None, ctx: FitContext, device, budget):
        """Train a copy of the classifier's initial encoder as an LM; its weights go to ``clf``."""
        from bench import nn as bnn

        from .lm import train_lm

        p = self.params
        d = self._drops(LM_DROPS, p["lm_drop_mult"])
        enc = copy.deepcopy(clf.encoder)
        enc.embed_p, enc.input_p, enc.hidden_p = d["embed_p"], d["input_p"], d["hidden_p"]
        for rnn in enc.rnns:
            rnn.weight_drop = d["weight_p"]
        cfg = self.train_config(device, epochs=int(p["lm_epochs"]), lr=float(p["lm_lr"]), schedule="onecycle",
                                batch_size=int(p["lm_batch_size"]), patience=None, eval_batch_size=256,
                                time_budget=budget, seed=ctx.seed)
        with bnn.seeded(ctx.seed, device):
            lm, info = train_lm(enc, self.vocab_, texts, as_texts(valid.X) if valid is not None else None, cfg,
                                int(p["bptt"]), d["output_p"], ctx, p["lm_words"])
        clf.encoder.load_state_dict(lm.encoder.state_dict())
        self.lm_ = lm
        info["samples"] = [self.generate(s, int(p["sample_words"]), float(p["temperature"]), seed=ctx.seed + i)
                           for i, s in enumerate(p["samples"])]
        ctx.info["lm"] = info
        return lm

    def _inputs(self, part: Part):
        import torch

        from .lm import classifier_inputs

        ids, lengths = classifier_inputs(self.vocab_, as_texts(part.X), int(self.params["max_len"]))
        return torch.from_numpy(ids), torch.from_numpy(lengths)

    def _labels(self, y: np.ndarray):
        """Class indices of ``y`` (a label never seen in train gets -1: always wrong)."""
        import torch

        y = np.asarray(y)
        idx = np.clip(np.searchsorted(self.classes_, y), 0, len(self.classes_) - 1)
        return torch.from_numpy(np.where(self.classes_[idx] == y, idx, -1).astype(np.int64))

    def _fine_tune(self, clf, train: Part, valid: Part | None, ctx: FitContext, device, budget):
        """Gradual unfreezing with discriminative rates: one ``bench.nn.fit`` per stage."""
        import torch.nn.functional as F

        from bench import nn as bnn

        p = self.params
        epochs, lrs = list(p["stage_epochs"]), list(p["stage_lrs"])
        if len(lrs) < len(epochs):
            raise ValueError(f"{self.name}: stage_lrs has {len(lrs)} values for {len(epochs)} stage_epochs; "
                             "give one peak lr per stage")
        data = (self._inputs(train), self._labels(train.y))
        valid_data = (self._inputs(valid), self._labels(valid.y)) if valid is not None and len(valid) else None

        def accuracy(out, t):
            return float((out.argmax(1) == t).float().mean())

        start, rows = time.perf_counter(), []
        base = self.train_config(device, schedule="onecycle", seed=ctx.seed)
        for s, mult in enumerate(unfreeze_plan([g + "." for g in clf.groups()], len(epochs), float(p["lr_decay"]))):
            for name, prm in clf.named_parameters():
                prm.requires_grad_(any(name.startswith(g) for g in mult))
            left = None if budget is None else max(0.0, budget - (time.perf_counter() - start))
            cfg = base.replace(epochs=int(epochs[s]), lr=float(lrs[s]), lr_mult=mult, time_budget=left)
            res = bnn.fit(clf, data, cfg, valid=valid_data, loss_fn=F.cross_entropy, metric=accuracy,
                          metric_name="valid_accuracy", maximize=True, ctx=ctx, desc=f"{self.name} stage {s + 1}",
                          log_extra={"stage": s + 1, "groups": len(mult)})
            rows.append({"stage": s + 1, "groups": [g.rstrip(".") for g in mult], "epochs_run": res.epochs_run,
                         "best_epoch": res.best_epoch, "valid_accuracy": res.best_score,
                         "stop_reason": res.stop_reason, "train_seconds": round(res.train_seconds, 3)})
        for prm in clf.parameters():
            prm.requires_grad_(True)
        return rows

    # -- using it -----------------------------------------------------------------------------
    def predict(self, data: Part) -> np.ndarray:
        from bench import nn as bnn

        self.check_fitted()
        out = bnn.predict(self.members_[0], self._inputs(data), 1024, amp=bool(self.params["amp"]))
        return self.classes_[out.argmax(1).cpu().numpy()]

    def generate(self, prompt: str, n_words: int = 15, temperature: float = 0.8, seed: int = 0) -> str:
        """The prompt continued by the pretrained LM (sampled; the same seed, the same words)."""
        from .lm import generate

        if getattr(self, "lm_", None) is None:
            raise ValueError(f"{self.name}: no language model to sample from; fit with pretrain=True first")
        return generate(self.lm_, self.vocab_, prompt, n_words, temperature, seed)

    def embeddings(self) -> dict[str, np.ndarray]:
        """The classifier's word vectors (row i is ``vocab_`` id i)."""
        self.check_fitted("embeddings")
        return {"token": self.members_[0].encoder.emb.weight.detach().float().cpu().numpy()}

    def text_vectors(self, texts) -> np.ndarray:
        """Each text as the mean of its words' input embeddings (padding excluded)."""
        E = self.embeddings()["token"]
        texts, out = as_texts(texts), []
        for lo in range(0, len(texts), 512):  # (rows, words, width) at a time
            ids, lengths = self.vocab_.encode(texts[lo:lo + 512])
            mask = (np.arange(ids.shape[1])[None, :] < lengths[:, None])[..., None]
            out.append((E[ids] * mask).sum(1) / lengths[:, None])
        return np.concatenate(out).astype(np.float32) if out else np.zeros((0, E.shape[1]), np.float32)

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        if state.get("lm_") is not None:
            state["lm_"] = on_cpu(state["lm_"])
        return state
