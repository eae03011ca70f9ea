"""What `bench practice init` leaves: init.json (every per-layer series), README.md (the claim,
a table per network family with verdicts computed from the numbers), one PNG per family and
summary.json; and the same page again from a saved init.json (``--from-json``), without training."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from bench.core import environment
from bench.data.paths import atomic_write, write_file
from bench.practice import summary as sm
from bench.practice.gradflow import Outcome, Profile, Training
from bench.practice.gradflow_run import Data, Experiment
from bench.practice.jsonable import jsonable, read_strict
from bench.practice.page_text import Verdict, claim_block

CLAIM = ("Signals and gradients vanish or explode in deep networks; the culprits are depth, the "
         "activation function and a bad initialization; the cures are residual connections, a fitting "
         "initialization and batchnorm.")
FACTOR = 1.0  # a change of 10^1 or more across the layers counts as vanishing / exploding
TITLES = {"mlp": "Deep MLPs on flattened images", "cnn": "He et al.'s CIFAR nets: plain vs residual"}
TITLE = "In practice: initialization and gradient flow"
ROLES = {  # role -> (what its networks should do, the claim about them)
    "culprit": ("vanish or explode (10x or more across the layers) or diverge",
                "Depth, a saturating activation or a bad initialization make the signal or the gradient vanish "
                "or explode (10x or more across the layers), or training diverge."),
    "cure": ("keep signal and gradient within 10x and train",
             "Residual connections, a fitting initialization and batchnorm keep the signal and the gradient "
             "within 10x across the layers, and the network trains."),
}


def log_ratio(a: float, b: float) -> float | None:
    """log10(a / b), or None when either is not a positive finite number."""
    if not all(isinstance(v, float) and math.isfinite(v) and v > 0 for v in (a, b)):
        return None
    return math.log10(a / b)


def signal_change(p: Profile) -> float | None:
    """log10 of the last layer's activation std over the first's."""
    return log_ratio(p.act_std[-1], p.act_std[0])


def gradient_change(p: Profile) -> float | None:
    """log10 of the first layer's weight-gradient norm over the last's (backward: last to first)."""
    return log_ratio(p.grad_norm[0], p.grad_norm[-1])


def backward_change(p: Profile) -> float | None:
    """log10 of the first layer's backward signal (std of d loss / d output) over the last's."""
    return log_ratio(p.grad_std[0], p.grad_std[-1])


def learned(o: Outcome) -> bool | None:
    """Whether the training loss fell by at least 2 % from its value at init (None: diverged)."""
    final = o.training.final_loss()
    if final is None or not math.isfinite(o.at_init.loss):
        return None
    return final < 0.98 * o.at_init.loss


def healthy(o: Outcome) -> bool:
    """Signal and gradient within 10x across the layers at init, no divergence, and the loss fell."""
    s, g = signal_change(o.at_init), gradient_change(o.at_init)
    return (s is not None and abs(s) < FACTOR and g is not None and abs(g) < FACTOR
            and o.training.diverged_at is None and bool(learned(o)))


def _trend(k: float | None, up: str, down: str) -> str:
    if k is None:
        return "not measurable (zero or non-finite)"
    if abs(k) < FACTOR:
        return f"within 10x (10^{k:+.1f})"
    return f"{up if k > 0 else down} 10^{abs(k):.1f}"


def verdict(o: Outcome) -> str:
    """One line from the numbers: the signal's change over the layers, the gradient's from the last
    layer down to the first, and how training went."""
    n = len(o.at_init.layers)
    parts = [f"signal {_trend(signal_change(o.at_init), 'grows', 'shrinks')} over {n} layers",
             f"gradient {_trend(gradient_change(o.at_init), 'grows', 'falls')} from last layer to first"]
    t = o.training
    if t.diverged_at is not None:
        parts.append(f"training diverges (non-finite loss at step {t.diverged_at})")
    elif not learned(o):
        parts.append("the loss does not fall")
    return "; ".join(parts)


def role_verdicts(family: str, outcomes: list[Outcome]) -> dict[str, Verdict]:
    """Per role (culprit, cure) of one family: whether every network of it did what the claim says,
    and the count that says so."""
    out = {}
    for role, (text, _) in ROLES.items():
        group = [o for o in outcomes if o.role == role]
        if not group:
            continue
        hits = [o.setting for o in group if healthy(o) == (role == "cure")]
        misses = [o.setting for o in group if healthy(o) != (role == "cure")]
        line = f"{role}s: {len(hits)} of {len(group)} {text}"
        out[role] = Verdict(family, not misses, line + (f"; not: {', '.join(misses)}" if misses else ""))
    return out


def summary(outcomes: list[Outcome]) -> list[str]:
    """How the culprits and the cures of one family came out, counted from the verdicts."""
    return [v.evidence for v in role_verdicts("", outcomes).values()]


def claim_verdicts(exp: Experiment) -> list[tuple[str, list[Verdict]]]:
    """Each role's claim with its verdict per family (the families that have networks of that role)."""
    per_family = {family: role_verdicts(family, outcomes) for family, outcomes in exp.outcomes.items()}
    return [(claim, [v[role] for v in per_family.values() if role in v]) for role, (_, claim) in ROLES.items()
            if any(role in v for v in per_family.values())]


def residual_gains(outcomes: list[Outcome]) -> list[str]:
    """For each plain net with its residual twin (plain-56 / resnet-56, ...): their losses after training."""
    by_name = {o.setting: o for o in outcomes}
    lines = []
    for o in outcomes:
        twin = by_name.get(o.setting.replace("plain-", "resnet-", 1)) if o.setting.startswith("plain-") else None
        if twin is None:
            continue
        a, b = o.training.final_loss(), twin.training.final_loss()
        if a is None or b is None:
            lines.append(f"{twin.setting} vs {o.setting}: not comparable (a run diverged)")
            continue
        better = "lower" if b < a else "not lower"
        lines.append(f"{twin.setting} ends at loss {b:.3g}, {o.setting} at {a:.3g} after {o.steps} steps "
                     f"(the residual net's is {better})")
    return lines


def held(outcomes: list[Outcome]) -> bool:
    return all(healthy(o) == (o.role == "cure") for o in outcomes)


def _g(x: Any) -> str:
    return f"{x:.3g}" if isinstance(x, float) and math.isfinite(x) else ("n/a" if x is None else str(x))


def table(outcomes: list[Outcome], steps: int) -> list[str]:
    n = len(outcomes[0].at_init.layers)
    lines = [f"| setting | signal std, layer 1 / layer {n} (init) | grad norm, layer 1 / layer {n} (init) | "
             f"first/last grad ratio | backward signal, first/last | loss at init -> after {steps} steps | "
             "diverged? | verdict |", "|---|---|---|---|---|---|---|---|"]
    for o in outcomes:
        a, t = o.at_init, o.training
        g = gradient_change(a)
        ratio = f"10^{g:+.1f}" if g is not None else "n/a"
        b = backward_change(a)
        back = f"10^{b:+.1f}" if b is not None else "n/a"
        div = f"yes (step {t.diverged_at})" if t.diverged_at is not None else "no"
        lines.append(f"| {o.setting} | {_g(a.act_std[0])} / {_g(a.act_std[-1])} | {_g(a.grad_norm[0])} / "
                     f"{_g(a.grad_norm[-1])} | {ratio} | {back} | {_g(a.loss)} -> {_g(t.final_loss())} | {div} | "
                     f"{verdict(o)} |")
    return lines


def readme(exp: Experiment, command: str = "") -> str:
    d = exp.data
    out = [f"# {TITLE}", "", f"**Claim.** {CLAIM}", "",
           f"Data: the training part of `{d.ref}` (split {d.split}, fingerprint `{d.fingerprint}`, "
           f"{len(d.labels)} images); every network is measured on the same {len(d.measure_rows)} of them. "
           f"Seed {exp.seed}, device {exp.device}, {exp.seconds:.0f} s in all.", "",
           "Per layer (first = nearest the input): the standard deviation of the layer's output (the "
           "signal) and the L2 norm of the loss's gradient with respect to the layer's weights, at "
           "initialization and after training, in train mode. A weight's gradient is the backward signal "
           "(the loss's gradient with respect to the layer's output, whose std is in its own column) times "
           "the layer's input, so the two can differ: a signal that explodes forward and a gradient that "
           "explodes backward cancel in the weights' gradient. \"Loss at init\" is on the measuring batch, "
           "\"after N steps\" the mean training loss of the last 10 steps. A change of 10x or more across "
           "the layers counts as vanishing or exploding; the verdicts and counts below are computed from the "
           "signal and the weights' gradient.", ""]
    for family, outcomes in exp.outcomes.items():
        cfg = exp.settings[family]
        out += [f"## {TITLES.get(family, family)}", "", _setup(family, cfg), ""]
        out += table(outcomes, int(cfg["steps"])) + [""]
        out += [f"- **{o.setting}** ({o.role}): {o.shows}" for o in outcomes] + [""]
        out += [f"- {line}" for line in summary(outcomes) + residual_gains(outcomes)]
        out += [f"- the claim {'holds' if held(outcomes) else 'holds only in part'} for this family at this scale",
                "", f"![{family}: per-layer signal and gradient]({family}.png)", ""]
    out += ["## Verdicts", "", "The claim in two parts, judged per family from the counts above (a part holds "
            "for a family when every network of its role does what the part says).", ""]
    for i, (claim, verdicts) in enumerate(claim_verdicts(exp)):
        out += claim_block(i + 1, claim, verdicts)
    if command:
        out += ["Command:", "", "```bash", command, "```", ""]
    return "\n".join(out)


def _setup(family: str, cfg: dict[str, Any]) -> str:
    if family == "mlp":
        return (f"{cfg['depth']} hidden layers of {cfg['width']} units on {cfg['inputs']} inputs "
                f"({cfg['input']}); SGD momentum {cfg['momentum']}, lr {cfg['lr']}, batch {cfg['batch_size']}, "
                f"{cfg['steps']} steps. Residual layers (all but the first) are x + linear(act([bn](x))).")
    return (f"The cnn plugin's `cifar-resnet` nets, depth {cfg['depth']}, widths {tuple(cfg.get('widths', ()))}; "
            f"layers = the stem and every block (a block's gradient norm covers its two convs). Each "
            f"variant's own lr, momentum, weight decay and batch size, constant, no augmentation, "
            f"{cfg['steps']} steps.")


def _profile(p: Profile | None) -> dict[str, Any] | None:
    if p is None:
        return None
    return {"layers": p.layers, "act_std": p.act_std, "grad_norm": p.grad_norm, "grad_std": p.grad_std,
            "loss": p.loss}


def document(exp: Experiment, command: str = "") -> dict[str, Any]:
    d = exp.data
    import torch

    families = {}
    for family, outcomes in exp.outcomes.items():
        families[family] = {"settings": exp.settings[family], "held": held(outcomes),
                            "summary": summary(outcomes) + residual_gains(outcomes),
                            "networks": [{"setting": o.setting, "role": o.role, "shows": o.shows, "config": o.config,
                                          "at_init": _profile(o.at_init), "after": _profile(o.after),
                                          "steps": o.steps, "losses": o.training.losses,
                                          "diverged_at": o.training.diverged_at,
                                          "final_loss": o.training.final_loss(), "verdict": verdict(o),
                                          "healthy": healthy(o), "seconds": round(o.training.seconds, 3)}
                                         for o in outcomes]}
    return {"claim": CLAIM,
            "dataset": {"name": d.dataset, "params": d.params, "split": d.split, "fingerprint": d.fingerprint,
                        "train_rows": len(d.labels), "measure_rows": d.measure_rows.tolist()},
            "seed": exp.seed, "device": exp.device, "torch_threads": torch.get_num_threads(),
            "seconds": round(exp.seconds, 3), "families": families, "versions": environment.versions(),
            "command": command}


def write_png(family: str, outcomes: list[Outcome], steps: int, path: Path) -> Path:
    """3 x 2 panels: signal std, weights' gradient norm and backward signal (rows) per layer, at
    init and after training (columns), log y; one line per network (a diverged one is missing
    after training)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 2, figsize=(13, 11), sharex=True)
    colours = plt.get_cmap("tab20").colors
    for j, moment in enumerate(("at_init", "after")):
        for i, (attr, label) in enumerate((("act_std", "signal: std of the layer's output"),
                                           ("grad_norm", "gradient norm of the layer's weights"),
                                           ("grad_std", "backward signal: std of d loss / d output"))):
            ax = axes[i][j]
            for k, o in enumerate(outcomes):
                p = getattr(o, moment)
                style = dict(color=colours[(2 * k) % 20 if k < 10 else (2 * k + 1) % 20],
                             ls="-" if o.role == "cure" else "--", lw=1.5, marker=".", ms=4)
                if p is None:
                    ax.plot([], [], label=f"{o.setting} (diverged)", **style)
                    continue
                ys = [v if math.isfinite(v) and v > 0 else math.nan for v in getattr(p, attr)]
                ax.plot(range(1, len(ys) + 1), ys, label=o.setting, **style)
            ax.set_yscale("log")
            ax.grid(True, which="major", alpha=0.3)
            ax.set_ylabel(label, fontsize=9)
            ax.set_title(f"{'at initialization' if moment == 'at_init' else f'after {steps} steps'}", fontsize=10)
            if i == 2:
                ax.set_xlabel("layer (1 = nearest the input)")
    handles, labels = axes[0][1].get_legend_handles_labels()  # names the diverged ones
    fig.legend(handles, labels, loc="center right", fontsize=8, title="dashed: culprit, solid: cure",
               title_fontsize=8)
    fig.suptitle(f"{TITLES.get(family, family)}: per-layer signal and gradient", fontsize=11)
    fig.tight_layout(rect=(0, 0, 0.84, 0.96))
    with atomic_write(Path(path), private=False) as fh:
        fig.savefig(fh, dpi=100, format="png")
    plt.close(fig)
    return Path(path)


def summary_doc(exp: Experiment, command: str, data_command: str, threads: int) -> dict[str, Any]:
    """summary.json: the two parts of the claim with their verdicts per family, as the README words them."""
    d = exp.data
    nets = [o for outcomes in exp.outcomes.values() for o in outcomes]
    measured = {"data": [f"the training part of `{d.ref}` (split {d.split}, fingerprint `{d.fingerprint}`, "
                         f"{len(d.labels)} images); every network measured on the same {len(d.measure_rows)}"],
                "scale": [f"{family}: {_setup(family, exp.settings[family])}" for family in exp.outcomes],
                "unit": "networks", "runs": len(nets), "recorded": len(nets),
                "diverged": sum(o.training.diverged_at is not None for o in nets), "seeds": [exp.seed],
                "wall_seconds": round(exp.seconds, 1),
                "wall_note": "`bench practice init`, building, measuring and training every network",
                "hardware": f"{threads} torch thread(s), device {exp.device}"}
    return sm.document(title=TITLE, claim=CLAIM, claims=[sm.claim_entry(c, v) for c, v in claim_verdicts(exp)],
                       figures=[f"{family}.png" for family in exp.outcomes], measured=measured, command=command,
                       data_commands=[data_command] if data_command else [])


def write_files(exp: Experiment, out_dir: Path, command: str = "", *, rendered_by: str = "",
                threads: int | None = None) -> list[Path]:
    """DIR/init.json, DIR/README.md, DIR/<family>.png and DIR/summary.json (the folder is made if
    missing). ``rendered_by``: the page is made again from a saved init.json by that command, so
    init.json is left as it is and ``command`` (the one that made it) stays on the README."""
    import torch

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [] if rendered_by else [
        write_file(out_dir / "init.json", json.dumps(jsonable(document(exp, command)), indent=1,
                                                     allow_nan=False) + "\n")]
    paths.append(write_file(out_dir / "README.md", readme(exp, command)))
    for family, outcomes in exp.outcomes.items():
        paths.append(write_png(family, outcomes, int(exp.settings[family]["steps"]), out_dir / f"{family}.png"))
    doc = summary_doc(exp, rendered_by or command, command, torch.get_num_threads() if threads is None else threads)
    return paths + [sm.write_summary(out_dir, doc)]


def _floats(values: list[Any]) -> list[float]:
    return [math.nan if v is None else float(v) for v in values]  # JSON keeps a non-finite value as null


def _saved_profile(p: dict[str, Any] | None) -> Profile | None:
    if p is None:
        return None
    return Profile(list(p["layers"]), _floats(p["act_std"]), _floats(p["grad_norm"]), _floats(p["grad_std"]),
                   math.nan if p["loss"] is None else float(p["loss"]))


def load_experiment(path: Path) -> tuple[Experiment, dict[str, Any]]:
    """The experiment an init.json holds (read as strict JSON, never through a link) and the
    document itself. The images are not saved: the Data has none, and placeholder labels of the
    training part's length (all the page shows of them). ValueError/OSError: not such a file."""
    doc = read_strict(path)
    try:
        d = doc["dataset"]
        data = Data(str(d["name"]), dict(d["params"]), str(d["split"]), str(d["fingerprint"]),
                    np.zeros((0,), np.uint8), np.zeros(int(d["train_rows"]), np.int64), 0,
                    np.asarray(d["measure_rows"], np.int64))
        exp = Experiment(data, seed=int(doc["seed"]), device=str(doc["device"]), seconds=float(doc["seconds"]))
        for family, f in doc["families"].items():
            exp.settings[family] = dict(f["settings"])
            exp.outcomes[family] = [
                Outcome(family, n["setting"], n["role"], n["shows"], dict(n["config"]), _saved_profile(n["at_init"]),
                        _saved_profile(n["after"]), Training(_floats(n["losses"]), n["diverged_at"], n["seconds"]),
                        int(n["steps"])) for n in f["networks"]]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"not an init.json that `bench practice init` writes (at {exc!r})") from None
    return exp, doc
