"""Transfer learning without downloading weights: a CIFAR network pretrained on some classes of a
task learns the others from a few images each (the deck's beehive example).

``cnn-transfer`` reads one task whose valid part holds only the new (target) classes, such as
cifar10's ``transfer`` split: the train rows of the other (source) classes pretrain the network,
and ``shots`` images per target class, drawn from the target rows of train with the run's seed,
are all the new task gets. Variants (the same network, shots and training steps for each):

- ``transfer-scratch``: a fresh network, nothing pretrained;
- ``transfer-frozen``: the pretrained body, fixed (its batchnorms at their pretrained
  statistics), under a new linear head: only the head trains;
- ``transfer-finetune``: the pretrained body and a new head, everything trained at one rate;
- ``transfer-discriminative``: the same with discriminative rates (ULMFiT's, Howard & Ruder 2018):
  the head at ``lr``, each earlier stage at the rate of the one above / ``lr_decay`` (the stem last).

The pretrained network is a shared fit: the variant ``transfer-pretrain`` (He et al.'s CIFAR
ResNet at this family's depth and widths, with the training recipe in its own defaults) fitted
through ``ctx.fitted`` on the source rows under the fixed ``pretrain_seed``, so every run of every
mode, shot count and seed on the task reuses one network, built once (a signed pickle in the cache's
artifacts; parallel workers wait for the first). ``depends_on`` names it, so a change to its code or
parameters re-runs the transfer rows. ``pretrain_valid_per_class`` source images per class are held
out of its training to score it. The record's info says what it scored (``pretrained``: valid
accuracy on the source classes and its per-epoch history), and which images the run drew.

A run trains at least ``epochs`` epochs and at least ``min_steps`` steps (50 images per class make
4 steps an epoch at batch 32). The valid part is scored once, after training (``valid_history``:
after every epoch), so that a few hundred images of training do not pay for scoring a larger valid
set each epoch. The cards import no torch; ``transfer_nets`` holds the torch side.
"""
from __future__ import annotations

import hashlib
import math
from typing import Any

import numpy as np

from bench import FitContext, Part

from . import COMMON_DEFAULTS, CifarResNet

MODES = ("scratch", "frozen", "finetune", "discriminative")
ARCHITECTURE = ("depth", "widths", "residual", "batchnorm")  # what the pretrained body and the new net share
WIDTHS = (8, 16, 32)  # a quarter of He et al.'s channels: CPU scale


def draw_shots(y: np.ndarray, targets: np.ndarray, shots: int | None, seed: int) -> np.ndarray:
    """Sorted positions of ``shots`` rows of each target class (all when None), drawn with ``seed``.
    The draws are nested: with the same seed, the 50 images of a class are the first 50 of its 100."""
    rng = np.random.default_rng(seed)
    keep = []
    for c in targets:
        rows = rng.permutation(np.flatnonzero(y == c))
        if shots is not None and shots > len(rows):
            raise ValueError(f"cnn-transfer: shots={shots} images per class asked for, target class {c!r} has "
                             f"{len(rows)} in train")
        keep.append(rows if shots is None else rows[:shots])
    return np.sort(np.concatenate(keep)) if keep else np.zeros(0, dtype=np.int64)


def hold_out(y: np.ndarray, rows: np.ndarray, per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, valid) positions: ``per_class`` of each class's ``rows`` (at most half of them) for valid."""
    rng = np.random.default_rng(seed)
    valid = []
    for c in np.unique(y[rows]):
        of_class = rows[y[rows] == c]
        valid.append(rng.permutation(of_class)[:min(per_class, len(of_class) // 2)])
    valid = np.sort(np.concatenate(valid)) if valid else rows[:0]
    return np.setdiff1d(rows, valid), valid


def stage_lr_mult(depth: int, n_stages: int, decay: float) -> dict[str, float]:
    """Discriminative rates for a CIFAR net: {parameter-name prefix: lr multiplier}. The head keeps
    1; the last stage's blocks get 1 / decay, each earlier stage another / decay, the stem last."""
    n = (int(depth) - 2) // 6
    mult = {"stem.": float(decay) ** -(n_stages + 1)}
    for s in range(n_stages):
        for b in range(s * n, (s + 1) * n):
            mult[f"blocks.{b}."] = float(decay) ** -(n_stages - s)
    return mult


def _part(part: Part, rows: np.ndarray) -> Part:
    return Part(X=part.X[rows], y=np.asarray(part.y)[rows], schema=part.schema, kind=part.kind,
                target_transform=part.target_transform)


class TransferPretrain(CifarResNet):
    """The network ``cnn-transfer`` starts from: a CIFAR ResNet that keeps its training history."""

    name = "cnn-pretrain"
    description = "the network cnn-transfer pretrains on the source classes (a CIFAR ResNet, one-cycle)"
    defaults = {**CifarResNet.defaults, "widths": WIDTHS, "epochs": 10, "batch_size": 128, "lr": 0.2,
                "weight_decay": 5e-4, "schedule": "onecycle"}
    variants = {"transfer-pretrain": {}}
    test_params = CifarResNet.test_params

    def fit(self, train, valid, ctx) -> "TransferPretrain":
        super().fit(train, valid, ctx)
        # kept with the net, so a run that reuses the cached fit can still say what it scored
        self.history_ = [dict(row) for row in ctx.history]
        self.fit_info_ = {k: v for k, v in ctx.info.items() if k != "helper_fits"}
        return self

    def summary(self) -> dict[str, Any]:
        """What the pretrained net scored: the last epoch's valid accuracy (its weights are the last
        epoch's), the classes, the fit facts and the per-epoch history."""
        self.check_fitted("summary")
        scores = [r["valid_accuracy"] for r in self.history_ if "valid_accuracy" in r]
        return {"classes": self.classes_.tolist(), "valid_accuracy": scores[-1] if scores else None,
                **{k: self.fit_info_.get(k) for k in ("epochs_run", "stop_reason", "train_seconds", "n_parameters")},
                "history": self.history_}


class CnnTransfer(CifarResNet):
    """A pretrained CIFAR ResNet on a new task from few images: scratch, frozen, fine-tuned, discriminative."""

    name = "cnn-transfer"
    description = ("transfer to new classes from few images: from scratch / frozen body + new head / "
                   "fine-tune all / discriminative rates, from a net pretrained on the other classes")
    defaults = {
        **CifarResNet.defaults, "widths": WIDTHS, "epochs": 10, "batch_size": 32, "lr": 0.2,
        "weight_decay": 5e-4, "schedule": "onecycle",
        "mode": "finetune",                 # scratch | frozen | finetune | discriminative
        "shots": 50,                        # images per target class (seeded by the run's seed); None: all
        "target_classes": None,             # the new task's labels; None: the classes of the valid part
        "min_steps": 200,                   # at least this many steps (few images: more epochs)
        "lr_decay": 2.6,                    # discriminative: each earlier stage's lr / this (ULMFiT's)
        "pretrain_variant": "transfer-pretrain",
        "pretrain_params": None,            # {param: value} for the pretraining, on top of its defaults
        "pretrain_seed": 0,                 # one pretrained net for every run, whatever the run's seed
        "pretrain_valid_per_class": 100,    # source images per class held out to score the pretrained net
        "valid_history": False,             # score valid after every epoch (else once, after training)
    }
    param_types = {"shots": (int, type(None)), "target_classes": (list, tuple, type(None)),
                   "pretrain_params": (dict, type(None))}
    # the rates: the best valid accuracy of a small grid, one seed, 100 images per class (suite's comment)
    variants = {"transfer-scratch": {"mode": "scratch"}, "transfer-frozen": {"mode": "frozen"},
                "transfer-finetune": {"mode": "finetune"},
                "transfer-discriminative": {"mode": "discriminative", "lr": 0.3}}
    test_params = {**CifarResNet.test_params, "shots": 10, "target_classes": (1, 2), "min_steps": 0,
                   "batch_size": 16, "pretrain_params": {"epochs": 1}, "pretrain_valid_per_class": 4}

    @classmethod
    def pretrain_overrides(cls, params: dict[str, Any]) -> dict[str, Any]:
        """The pretraining's parameters: this net's architecture, then ``pretrain_params``."""
        arch = {k: params[k] for k in ARCHITECTURE}
        arch["widths"] = tuple(int(w) for w in arch["widths"])
        return {**arch, **dict(params.get("pretrain_params") or {})}

    @classmethod
    def depends_on(cls, params: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """Every mode but scratch starts from the pretrained net: its code and parameters are part
        of the run's identity."""
        if params.get("mode") == "scratch":
            return []
        return [(str(params["pretrain_variant"]), cls.pretrain_overrides(params))]

    # -- fitting ----------------------------------------------------------------------------------
    def fit(self, train: Part, valid: Part | None, ctx: FitContext) -> "CnnTransfer":
        p = self.params
        if p["mode"] not in MODES:
            raise ValueError(f"{self.name}: mode {p['mode']!r} is not one of {', '.join(MODES)}")
        self.check_kind(train)
        y = np.asarray(train.y)
        targets = self._targets(y, valid)
        shots = None if p["shots"] is None else int(p["shots"])
        rows = draw_shots(y, targets, shots, ctx.seed)
        target_valid = None
        if valid is not None and len(valid):
            target_valid = _part(valid, np.flatnonzero(np.isin(np.asarray(valid.y), targets)))
        self.source_state_ = None
        pretrained = None
        if p["mode"] != "scratch":
            pretrained = self._pretrained(train, np.flatnonzero(~np.isin(y, targets)), ctx)
            from .transfer_nets import body_state

            self.source_state_ = body_state(pretrained.members_[0])
        self.n_images_ = len(rows)
        try:
            super().fit(_part(train, rows), target_valid if p["valid_history"] else None, ctx)
        finally:
            self.source_state_ = None  # the body lives on in the trained net; no second copy pickled
        self._record(ctx, targets, y, rows, target_valid, pretrained)
        return self

    def _targets(self, y: np.ndarray, valid: Part | None) -> np.ndarray:
        """The new task's labels: ``target_classes``, else the valid part's; some train classes
        must be left over to pretrain on."""
        given = self.params["target_classes"]
        if given is not None:
            targets = np.unique(np.asarray(list(given)))
        elif valid is not None and len(valid):
            targets = np.unique(np.asarray(valid.y))
        else:
            raise ValueError(f"{self.name}: no valid part to tell the target classes by; set target_classes")
        missing = [t for t in targets.tolist() if t not in set(np.unique(y).tolist())]
        if missing:
            raise ValueError(f"{self.name}: target classes {missing} have no train rows")
        if self.params["mode"] != "scratch" and not np.any(~np.isin(y, targets)):
            raise ValueError(f"{self.name}: every train class is a target class, so nothing is left to pretrain "
                             f"on; use a split whose valid part holds only the new classes (cifar10's transfer "
                             f"split) or set target_classes")
        return targets

    def _pretrained(self, train: Part, rows: np.ndarray, ctx: FitContext):
        """The pretrained net (a fitted ``pretrain_variant``): the shared fit through ``ctx.fitted``
        when the runner attached a registry, else fitted here (the contract checks, direct use)."""
        p = self.params
        fit_rows, valid_rows = hold_out(np.asarray(train.y), rows, int(p["pretrain_valid_per_class"]),
                                        int(p["pretrain_seed"]))
        src_train = _part(train, fit_rows)
        src_valid = _part(train, valid_rows) if len(valid_rows) else None
        sub = ctx.child()
        sub.seed = int(p["pretrain_seed"])
        overrides = self.pretrain_overrides(p)
        if ctx.resolve_method is not None:
            model = sub.fitted(str(p["pretrain_variant"]), src_train, src_valid, **overrides)
        elif p["pretrain_variant"] == "transfer-pretrain":
            model = TransferPretrain(**overrides).fit(src_train, src_valid, sub)
            sub.info.setdefault("helper_fits", []).append({"variant": "transfer-pretrain"})
        else:
            raise ValueError(f"{self.name}: pretrain_variant {p['pretrain_variant']!r} needs a registry to resolve "
                             "it (run through `bench run`)")
        if not hasattr(model, "summary") or not hasattr(model, "members_"):
            raise ValueError(f"{self.name}: pretrain_variant {p['pretrain_variant']!r} is not a cnn-pretrain "
                             "variant (it has no summary of its fit)")
        built = sub.info.get("helper_fits", [])
        if built:  # only the run that trained it records the helper fit
            ctx.info.setdefault("helper_fits", []).extend(built)
        self.pretrained_info_ = {"variant": p["pretrain_variant"], "seed": int(p["pretrain_seed"]),
                                 "params": overrides, "n_train": len(fit_rows), "n_valid": len(valid_rows),
                                 "built_in_this_run": bool(built), **model.summary()}
        return model

    def _record(self, ctx: FitContext, targets, y, rows, target_valid: Part | None, pretrained) -> None:
        from .nets import images_nchw, predict_indices
        from .transfer_nets import trainable

        p = self.params
        info: dict[str, Any] = {"mode": p["mode"], "shots": p["shots"], "target_classes": targets.tolist(),
                                "images": int(len(rows)), "images_per_class": np.bincount(
                                    np.searchsorted(targets, y[rows]), minlength=len(targets)).tolist(),
                                "rows_hash": _rows_hash(rows), "trainable_parameters": trainable(self.members_[0]),
                                "lr_mult": self._lr_mult()}
        if target_valid is not None and len(target_valid):
            kw = dict(amp=bool(p["amp"]), channels_last=self.channels_last_)
            pred = self.classes_[predict_indices(self.members_[0], images_nchw(target_valid.X),
                                                 int(p["eval_batch_size"]), bool(p["tta"]), **kw)]
            info["valid_accuracy"] = float(np.mean(pred == np.asarray(target_valid.y)))
        if pretrained is not None:
            info["pretrained"] = self.pretrained_info_
        ctx.info["transfer"] = info

    # -- hooks of the cnn plugin's fit ------------------------------------------------------------
    def train_config(self, device: Any, **fields: Any) -> Any:
        """The plugin's config, trained for at least ``min_steps`` steps, with the stage rates of
        the discriminative mode."""
        cfg = super().train_config(device, **fields)
        p = self.params
        n = getattr(self, "n_images_", None) or cfg.batch_size
        steps = max(1, n // min(cfg.batch_size, n)) if cfg.drop_last else math.ceil(n / cfg.batch_size)
        epochs = max(int(cfg.epochs), math.ceil(int(p["min_steps"]) / steps))
        milestones = tuple(int(round(f * epochs)) for f in p["milestones"])
        return cfg.replace(epochs=epochs, milestones=milestones, lr_mult=self._lr_mult() or cfg.lr_mult)

    def _lr_mult(self) -> dict[str, float] | None:
        p = self.params
        if p["mode"] != "discriminative":
            return None
        return stage_lr_mult(int(p["depth"]), len(p["widths"]), float(p["lr_decay"]))

    def _after_init(self, net) -> None:
        super()._after_init(net)
        if self.source_state_ is None:
            return
        from .transfer_nets import freeze_body, load_body

        load_body(net, self.source_state_)
        if self.params["mode"] == "frozen":
            freeze_body(net)


def _rows_hash(rows: np.ndarray) -> str:
    """A short hash of the drawn train positions (two runs drew the same images iff equal)."""
    return hashlib.sha256(np.ascontiguousarray(rows, dtype=np.int64).tobytes()).hexdigest()[:12]


__all__ = ["CnnTransfer", "TransferPretrain", "draw_shots", "hold_out", "stage_lr_mult", "MODES"]
