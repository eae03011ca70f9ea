"""The "Pictures" page (`bench practice pictures`): the deck's pictures made by the code of
`bench plot landscape` and `bench plot filters`, with the one claim among them that numbers can
judge (skip connections make the loss surface flatter: a smaller loss rise at the same
filter-normalized distance), and links to the embedding maps other pages made.

Writes OUT/README.md, OUT/summary.json (for `bench practice index`), OUT/pictures.json (every
number: grids, circles, top patches, times) and the PNGs. The first-layer filters are shown as a
figure with no verdict: "they look like edge and colour detectors" is not a number."""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from bench.core import environment
from bench.data.paths import write_file
from bench.practice.jsonable import jsonable
from bench.practice.pictures_nets import params_text
from bench.practice.pictures_plots import rise_figure
from bench.practice.pictures_run import (FilterPictures, FilterSettings, LandscapeSettings, Setup, Surface,
                                         draw_filters, draw_landscapes, filter_pictures, landscape_title, landscapes)
from bench.practice.summary import document, write_summary

TITLE = "In practice: the deck's pictures"
CLAIM = ("Skip connections make the loss surface around a trained network flatter: at the same filter-normalized "
         "distance from the trained weights, the residual network's loss rises less than the plain network's.")
PAGE_CLAIM = ("What a trained CNN's first layer and deeper channels respond to, and how skip connections change "
              "the loss surface around the trained weights (Li et al. 2018's \"with / without skip connections\").")
EMBEDDING_MAPS = (  # (path under the results folder, what it shows)
    ("nlp/embeddings.png", "word vectors of the NLP suite's network on MR (PCA)"),
    ("ee-paper/embeddings.png", "entity embeddings a network learned on Rossmann (states, stores; PCA)"),
    ("collab/item-embeddings.png", "movie embeddings of collaborative filtering on MovieLens (PCA)"),
)
FILTERS_PNG, PATCHES_PNG, RISE_PNG = "filters.png", "filter-patches.png", "sharpness.png"


@dataclass
class Verdict:
    task: str
    word: str  # a summary TASK_WORD
    evidence: str


def landscape_png(depth: int) -> str:
    return f"landscape-{depth}.png"


def judge(depth: int, plain: Surface, residual: Surface) -> Verdict:
    """Holds when the residual net's mean rise is below the plain net's at every radius; cannot be
    judged when either net's loss at the centre is still near chance (it did not train)."""
    p, r = plain.landscape, residual.landscape
    rises = [(p.rise(k), r.rise(k)) for k in range(len(p.radii))]
    text = (f"mean loss rise on the circle at r = {' / '.join(f'{x:g}' for x in p.radii)}: "
            f"{plain.trained.variant} {' / '.join(f'{a:.4g}' for a, _ in rises)}, "
            f"{residual.trained.variant} {' / '.join(f'{b:.4g}' for _, b in rises)} "
            f"(centre losses {p.centre:.4g} and {r.centre:.4g})")
    if any(math.isnan(a) or math.isnan(b) for a, b in rises):
        return Verdict(f"depth {depth}", "cannot be judged yet", text + "; a loss was not a number")
    untrained = [s for s in (plain, residual) if not trained_beyond_chance(s)]
    if untrained:  # a net still at chance sits on a plateau: its flatness is not a minimum's
        names = ", ".join(f"{s.trained.variant} (centre loss {s.landscape.centre:.4g}, chance "
                          f"ln {len(s.trained.model.classes_)} = {chance_loss(s):.4g})" for s in untrained)
        return Verdict(f"depth {depth}", "cannot be judged yet", f"{text}; not trained beyond chance: {names}")
    flatter = sum(b < a for a, b in rises)
    word = "holds" if flatter == len(rises) else "does not hold" if flatter == 0 else "holds only in part"
    return Verdict(f"depth {depth}", word, text)


def chance_loss(s: Surface) -> float:
    """The cross-entropy of guessing uniformly among the net's classes."""
    return math.log(max(2, len(s.trained.model.classes_)))


def trained_beyond_chance(s: Surface, share: float = 0.95) -> bool:
    """Whether the net's loss at its trained weights is below ``share`` of the chance loss."""
    return s.landscape.centre < share * chance_loss(s)


def claim_word(verdicts: Sequence[Verdict]) -> str:
    words = {v.word for v in verdicts if v.word != "cannot be judged yet"}
    if not words:
        return "cannot be judged yet"
    if len(words) == 1:
        only = words.pop()
        judged = all(v.word != "cannot be judged yet" for v in verdicts)
        return only if judged or only != "holds" else "holds where judged"
    return "holds on some tasks only" if "holds" in words else "holds only in part"


def table(pairs: Sequence[tuple[int, Surface, Surface]]) -> list[str]:
    first = pairs[0][1].landscape
    radii = first.radii
    head = ("| network | valid accuracy | loss at the centre | accuracy there | "
            + " | ".join(f"rise at r={r:g} (mean / max)" for r in radii) + " | seconds (fit or cache read + landscape) |")
    out = [head, "|" + "---|" * (5 + len(radii))]
    for _, *nets in pairs:
        for s in nets:
            ls = s.landscape
            acc = "n/a" if s.valid_accuracy is None else f"{s.valid_accuracy:.3f}"
            rises = " | ".join(f"{ls.rise(k):.4g} / {ls.max_rise(k):.4g}" for k in range(len(radii)))
            fit = f"{s.trained.seconds:.0f}" + ("" if s.trained.trained_now else " read back")
            out.append(f"| {s.trained.variant} | {acc} | {ls.centre:.4g} | {ls.centre_accuracy:.3f} | {rises} | "
                       f"{s.seconds:.0f} ({fit} + {ls.seconds:.0f}) |")
    return out


def embedding_links(results_root: Path, out: Path) -> list[str]:
    """Bullets linking the embedding maps that exist (plain files) under ``results_root``."""
    lines = []
    for rel, what in EMBEDDING_MAPS:
        path = Path(results_root) / rel
        if os.path.isfile(path) and not os.path.islink(path):
            link = os.path.relpath(path, Path(out)).replace(os.sep, "/")
            lines.append(f"- [{rel}]({link}): {what}")
    return lines or [f"- none found under `{results_root}` yet (`bench plot embeddings` makes them)"]


def readme(pairs, verdicts, fp: FilterPictures, ls: LandscapeSettings, setup: Setup, links: list[str],
           command: str, seconds: float) -> str:
    t = pairs[0][1].trained
    p = fp.patches
    out = [f"# {TITLE}", "", PAGE_CLAIM, "",
           f"Networks: the cnn plugin's {', '.join(f'`{s.trained.variant}`' for _, *n in pairs for s in n)} "
           f"({params_text(setup.params)} on top of each variant's defaults), fitted through the registry on "
           f"`{t.data}`, split {t.split} (fingerprint `{t.fingerprint}`), seed {setup.seed}, as a run fits them "
           "(kept in the cache folder and reused).", "",
           "## Loss landscapes: with and without skip connections", "",
           f"### Claim: {CLAIM}", "", f"Verdict: **{claim_word(verdicts)}** at this scale.", ""]
    out += [f"- **{v.task}**: {v.word} at this scale: {v.evidence}" for v in verdicts] + [""]
    out += table(pairs) + [""]
    out += [line for d, *_ in pairs for line in (f"![loss landscapes, depth {d}]({landscape_png(d)})", "")]
    out += [f"![loss rise against the distance]({RISE_PNG})", "",
            f"How: the mean cross-entropy on {ls.images} fixed training images (a seeded draw of the training part), "
            "the net in eval mode, so batchnorm uses the running statistics of training (not recomputed per "
            "point), along two seeded Gaussian directions, each filter rescaled to the norm of the same filter of "
            "the trained weights (Li et al.'s filter normalization; biases and batchnorm parameters not moved, "
            f"their code's `--xignore biasbn`); grid {ls.points}x{ls.points} on [-{ls.span:g}, {ls.span:g}]^2. "
            f"Sharpness: the mean loss over {ls.angles} points on the circle of radius r minus the centre's. "
            "Both networks of a depth get the same draw (their weights have the same shapes) and the same images. "
            "A pair with a network whose loss at its trained weights is still above 95 % of chance (ln of the number "
            "of classes) gets no verdict: an untrained net sits on a plateau, not in a minimum.",
            "", "## What the first layer and a deeper layer respond to", "",
            f"The first convolution (`{fp.first_layer}`) of `{fp.trained.variant}`: its {fp.filters.shape[0]} "
            f"filters of {fp.filters.shape[1]}x{fp.filters.shape[2]} pixels, each scaled from its own minimum to "
            "its maximum (colour: the three input channels). No verdict: whether they look like edge or colour "
            "detectors is for the eye (a 3x3 filter shows little; AlexNet's were 11x11).", "",
            f"![first-layer filters]({FILTERS_PNG})", "",
            f"Zeiler & Fergus's top patches: for {len(p.channels)} channels of `{p.layer}` (those with the largest "
            f"mean of their largest activation) the {len(p.crops[0]) if p.crops else 0} images, among "
            f"{len(fp.image_rows)} fixed valid images the net did not train on, whose largest activation of that "
            f"channel is highest, each cropped to the channel's receptive field ({p.field.size[0]}x{p.field.size[1]}"
            " pixels) around the position of that activation; the number above a patch is the activation.", "",
            f"![top patches]({PATCHES_PNG})", "", "## Embedding maps", ""] + links
    out += ["", "## What was measured", ""] + [f"- {line}" for line in measured_lines(pairs, ls, setup, seconds)]
    misses = [f"{v.task}: {v.word}" for v in verdicts if v.word != "holds"]
    out += ["", "## Where it did not hold", "", ("; ".join(misses) + ".") if misses else
            "Nowhere at this scale: the residual network's loss rose less at every radius and depth.", "",
            "## Commands", "", "```bash", command or "(not recorded)", "```", ""]
    return "\n".join(out)


def measured_lines(pairs, ls: LandscapeSettings, setup: Setup, seconds: float) -> list[str]:
    t = pairs[0][1].trained
    per_net = "; ".join(f"{s.trained.variant} {s.seconds:.0f} s" for _, *n in pairs for s in n)
    return [f"data: `{t.data}`, split {t.split} (fingerprint `{t.fingerprint}`), "
            f"train/valid/test = {t.task.split.sizes().get('train')}/{t.task.split.sizes().get('valid')}/"
            f"{t.task.split.sizes().get('test')} images",
            f"scale: {params_text(setup.params)}; landscape grid {ls.points}x{ls.points}, {ls.images} training "
            f"images, circles r = {', '.join(f'{r:g}' for r in ls.radii)} of {ls.angles} points",
            f"wall time per network (fit or cache read + landscape): {per_net}; the whole page {seconds:.0f} s "
            f"on {_threads()} torch thread(s), device {environment.resolve_device(setup.device)}"]


def _threads() -> int:
    import torch

    return torch.get_num_threads()


def make_page(setup: Setup, depths: Sequence[int], ls: LandscapeSettings, fs: FilterSettings, out: Path,
              results_root: Path, command: str = "") -> list[Path]:
    """Train, measure and write the page, its figures, pictures.json and summary.json."""
    start = time.perf_counter()
    out = Path(out)
    pairs: list[tuple[int, Surface, Surface]] = []
    for d in depths:
        plain, residual = landscapes(setup, [f"plain-{d}", f"resnet-{d}"], ls)
        pairs.append((d, plain, residual))
    fp = filter_pictures(setup, pairs[0][2].trained.variant, fs, trained=pairs[0][2].trained)
    written = []
    for d, plain, residual in pairs:
        written += draw_landscapes([plain, residual], ls, out / landscape_png(d))
    nets = [s for _, *n in pairs for s in n]
    title = landscape_title(nets, ls)
    written.append(rise_figure([(s.trained.variant, s.landscape) for s in nets], out / RISE_PNG,
                               "Loss rise at filter-normalized distance r: " + title, title))
    written += draw_filters(fp, out / FILTERS_PNG, out / PATCHES_PNG)
    seconds = time.perf_counter() - start
    verdicts = [judge(d, plain, residual) for d, plain, residual in pairs]
    text = readme(pairs, verdicts, fp, ls, setup, embedding_links(results_root, out), command, seconds)
    numbers = {"networks": [s.to_json() for s in nets], "filters": fp.to_json(), "seconds": round(seconds, 1),
               "settings": {"landscape": vars(ls), "filters": vars(fs), "params": setup.params,
                            "seed": setup.seed}, "command": command}
    written.append(write_file(out / "pictures.json", json.dumps(jsonable(numbers), indent=1, allow_nan=False) + "\n"))
    written.append(write_file(out / "README.md", text))
    written.append(write_summary(out, summary(pairs, verdicts, ls, setup, seconds, command)))
    return written


def summary(pairs, verdicts, ls: LandscapeSettings, setup: Setup, seconds: float, command: str) -> dict[str, Any]:
    entry = {"claim": CLAIM, "verdict": claim_word(verdicts),
             "evidence": [{"task": v.task, "verdict": v.word, "line": v.evidence} for v in verdicts]}
    lines = measured_lines(pairs, ls, setup, seconds)
    nets = [s for _, *n in pairs for s in n]
    measured = {"data": [lines[0][len("data: "):]], "scale": [lines[1][len("scale: "):]], "unit": "networks",
                "runs": len(nets), "recorded": len(nets),
                "diverged": sum(not math.isfinite(s.landscape.centre) for s in nets), "seeds": [setup.seed],
                "wall_seconds": round(seconds, 1),
                "wall_note": "`bench practice pictures`, start to end; per network (fit or cache read + landscape): "
                             + "; ".join(f"{s.trained.variant} {s.seconds:.0f} s" for s in nets),
                "hardware": f"{_threads()} torch thread(s), device {environment.resolve_device(setup.device)}"}
    figures = [landscape_png(d) for d, *_ in pairs] + [RISE_PNG, FILTERS_PNG, PATCHES_PNG]
    return document(title=TITLE, claim=PAGE_CLAIM, claims=[entry], figures=figures, measured=measured,
                    command=command, notes=["The first-layer filters and the top patches are shown as figures, "
                                            "with no verdict; the embedding maps are linked from the page."])
