"""The text a language model generated, for a suite's page: the deck's "verse" example in spirit.

A run whose method pretrains a language model (ULMFiT) keeps in its record's info
``{"lm": {"valid_perplexity": ..., "samples": [...]}}``; the page shows, per row, the perplexity
over the records and the samples of the first record (its split and seed named), as quoted
text: rendering only, nothing is sampled here.
"""
from __future__ import annotations

from typing import Any

import numpy as np


def samples_section(chosen: list) -> list[str]:
    """Markdown lines of a "Generated text" section, or [] when no record holds samples."""
    by_label: dict[str, list[tuple[Any, Any]]] = {}
    for spec, rec, *_ in chosen:
        lm = (getattr(rec, "info", None) or {}).get("lm") if rec is not None and rec.status == "ok" else None
        if isinstance(lm, dict) and isinstance(lm.get("samples"), list):
            by_label.setdefault(spec.label, []).append((spec, lm))
    if not by_label:
        return []
    lines = ["## Generated text", "",
             "Sentences the language model behind these rows wrote from the prompts in its parameters "
             "(temperature in the parameters; trained on the train texts of the split named).", ""]
    for label, runs in by_label.items():
        ppl = [float(lm["valid_perplexity"]) for _, lm in runs
               if isinstance(lm.get("valid_perplexity"), (int, float))]
        spec, lm = runs[0]
        where = f"{spec.dataset}/{spec.split}, seed {spec.seed}"
        head = f"**{label}** ({where}"
        if ppl:
            head += (f"; LM valid perplexity {np.mean(ppl):.1f}" + (f" ± {np.std(ppl, ddof=1):.1f} over "
                     f"{len(ppl)} runs" if len(ppl) > 1 else ""))
        lines += [head + "):", ""]
        lines += [f"> {_clean(s)}  " for s in lm["samples"] if isinstance(s, str)]
        lines.append("")
    return lines


def _clean(text: str) -> str:
    """One line of quoted text that Markdown shows as written (no markup, no HTML)."""
    out = " ".join(str(text).split())
    for ch in "\\`*_{}[]<>#|":
        out = out.replace(ch, "\\" + ch)
    return out
