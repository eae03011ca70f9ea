"""The "In practice" page (`bench practice index`): built from hand-written summaries (verdicts,
numbers, figures and links shown, a missing section "not made yet", a malformed or linked
summary.json refused naming the file), and each page writer's summary.json says what its README
says (the same verdict word per claim and task); init's page made again from its init.json."""
from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from practice_helpers import run
from test_practice_bn import grid_pairs, range_pairs

from bench.cli.app import main
from bench.practice import bn_report, lr_page, optimizers_page
from bench.practice.gradflow import Outcome, Profile, Training
from bench.practice.gradflow_report import load_experiment, write_files as write_init
from bench.practice.gradflow_run import Data, Experiment
from bench.practice.index_page import Section, load, write_index
from bench.practice.suite_runs import runs_from
from bench.practice.summary import SCHEMA, SummaryError, read_summary

SECTIONS = (Section("Optimizers", "optimizers"), Section("Learning rates", "lr", "bench practice lr"),
            Section("Batchnorm", "bn"))


def claim(sentence: str, verdict: str, *evidence: tuple[str, str, str]) -> dict:
    return {"claim": sentence, "verdict": verdict,
            "evidence": [{"task": t, "verdict": w, "line": line} for t, w, line in evidence]}


def summary(title: str, claims: list[dict], figures=("main.png",), **measured) -> dict:
    return {"schema": SCHEMA, "title": title, "claim": f"{title} matters.", "claims": claims,
            "figures": list(figures), "notes": [], "command": f"bench practice {title.lower()}",
            "data_commands": ["bench run --suite toy"],
            "measured": {"data": ["toyset: 100 rows"], "scale": ["toy-net, 2 epochs"], "unit": "runs", "runs": 12,
                         "recorded": 12, "diverged": 1, "seeds": [0, 1], "wall_seconds": 530.0,
                         "wall_note": "`bench run --suite toy`", "hardware": "1 thread(s) per run", **measured}}


def put(folder: Path, doc: dict | str, files=("README.md", "main.png")) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in files:
        (folder / name).write_text("x")
    path = folder / "summary.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


@pytest.fixture
def pages(tmp_path: Path) -> Path:
    put(tmp_path / "optimizers", summary("Optimizers", [
        claim("Momentum trains faster.", "holds", ("rossmann", "holds", "loss 0.3238 with momentum, 0.7148 without")),
        claim("Adam wins.", "holds on some tasks only", ("rossmann", "holds", "test 0.1413 vs 0.1390"),
              ("cifar10", "does not hold", "test 0.3300 vs 0.3193"))]))
    put(tmp_path / "bn", summary("Batchnorm", [claim("Higher rates.", "does not hold",
                                                     ("rossmann", "does not hold", "0.01 with, 0.3 without"))]),
        files=("README.md",))  # its figure was never drawn
    return tmp_path


def test_the_index_shows_each_sections_verdicts_numbers_figure_and_link(pages: Path):
    path, found = write_index(pages, SECTIONS, "bench practice index --results-dir X")
    text = path.read_text()
    assert path == pages / "README.md" and [f.summary is None for f in found] == [False, True, False]
    assert "| Optimizers | 2 | holds 1 · holds on some tasks only 1 | [optimizers/README.md](optimizers/README.md) |" \
        in text
    assert "2. **holds on some tasks only**: Adam wins." in text
    assert "   - cifar10: does not hold: test 0.3300 vs 0.3193" in text
    assert "![Optimizers: main.png](optimizers/main.png)" in text
    assert "**Where it did not hold.** cifar10: does not hold for claim 2." in text
    assert "12 runs (12 recorded, 1 diverged), seed(s) 0, 1; wall time 530 s (8.8 min)" in text
    assert "made by `bench practice optimizers`, from the data of `bench run --suite toy`" in text
    assert "| Learning rates | | not made yet | |" in text
    assert "Not made yet: no `lr/summary.json`; `bench practice lr` makes it." in text
    assert "`bn/main.png`, is missing" in text and "![Batchnorm" not in text  # never a link to nothing
    assert text.index("## Optimizers") < text.index("## Learning rates") < text.index("## Batchnorm")
    again = write_index(pages, SECTIONS[::-1])[0].read_text()  # the list is the order
    assert again.index("## Batchnorm") < again.index("## Learning rates") < again.index("## Optimizers")


def test_the_command_writes_the_page_and_prints_each_sections_verdicts(pages: Path):
    res = CliRunner().invoke(main, ["practice", "index", "--results-dir", str(pages)])
    assert res.exit_code == 0, res.output
    assert "Optimizers: holds; holds on some tasks only" in res.output and "Learning rates: not made yet" in res.output
    assert "## Gradients & initialization" in (pages / "README.md").read_text()  # the deck's sections


BAD = {
    "not JSON": "{\"schema\": ",
    "Python, not JSON": "__import__('os').system('touch PWNED')",
    "NaN": json.dumps(summary("T", [])).replace("530.0", "NaN"),
    "a verdict word of its own": json.dumps(summary("T", [claim("c", "mostly holds")])),
    "a figure outside its folder": json.dumps(summary("T", [], figures=["../../secret.png"])),
    "another schema": json.dumps({**summary("T", []), "schema": "v0"}),
    "evidence without a task": json.dumps(summary("T", [{"claim": "c", "verdict": "holds", "evidence": [{}]}])),
}


@pytest.mark.parametrize("what", sorted(BAD))
def test_a_malformed_summary_is_refused_naming_the_file(pages: Path, what: str, monkeypatch):
    monkeypatch.chdir(pages)
    path = put(pages / "lr", BAD[what])
    with pytest.raises(SummaryError, match=re.escape(str(path))):
        load(pages, SECTIONS)
    res = CliRunner().invoke(main, ["practice", "index", "--results-dir", str(pages)])
    assert res.exit_code == 1 and str(path) in res.output and "make it again" in res.output.lower()
    assert not (pages / "README.md").exists() and not (pages / "PWNED").exists()


def test_a_linked_summary_or_section_folder_is_refused(pages: Path, tmp_path_factory):
    elsewhere = put(tmp_path_factory.mktemp("elsewhere") / "lr", summary("Planted", []))
    (pages / "lr").mkdir()
    (pages / "lr" / "summary.json").symlink_to(elsewhere)
    with pytest.raises(SummaryError, match=re.escape(str(pages / "lr" / "summary.json")) + ".*symbolic link"):
        load(pages, SECTIONS)
    (pages / "lr" / "summary.json").unlink()
    (pages / "lr").rmdir()
    (pages / "lr").symlink_to(elsewhere.parent)
    with pytest.raises(SummaryError, match=re.escape(str(pages / "lr")) + ".*symbolic link"):
        load(pages, SECTIONS)
    assert read_summary(elsewhere)["title"] == "Planted"  # the same file, read directly, is fine


# -- each writer's summary.json against its README ------------------------------------------------

def claim_blocks(text: str) -> list[str]:
    """The README's '### Claim N' blocks, in order."""
    return [part.split("\n## ")[0] for part in text.split("### Claim ")[1:]]


def check_claim_pages(folder: Path) -> dict:
    """summary.json's verdict words are the README's, claim by claim and task by task; its figures
    were drawn."""
    doc = read_summary(folder / "summary.json")
    blocks = claim_blocks((folder / "README.md").read_text())
    assert len(blocks) == len(doc["claims"]) > 0
    for i, (c, block) in enumerate(zip(doc["claims"], blocks), 1):
        assert block.startswith(f"{i}: {c['claim']}") and f"Verdict: **{c['verdict']}** at this scale." in block
        assert len(c["evidence"]) == block.count("\n- **")
        for e in c["evidence"]:
            assert f"- **{e['task']}**: {e['verdict']} at this scale: {e['line']}" in block
    assert all((folder / name).is_file() for name in doc["figures"])
    return doc


def optimizer_runs():
    """Two tasks; on "toyset" the usual rate (0.01) is best for every optimizer, on "other" the
    second; adamw's test score beats adam's on "toyset" only."""
    pairs = []
    for task, best in (("toyset", 0.01), ("other", 0.1)):
        for i, label in enumerate(optimizers_page.OPTIMIZERS):
            for lr in (0.01, 0.1):
                for seed in (0, 1):
                    v = 0.3 + 0.01 * i + (0.0 if lr == best else 0.1)
                    test = v + (0.001 * seed) + (0.0 if label != "adamw" else 0.05 if task == "other" else -0.05)
                    pairs.append(run(label, lr=lr, seed=seed, task=task, valid=[v + 0.1, v],
                                     train=[1.0 - 0.05 * i, 0.9 - 0.1 * i], test=test))
    return runs_from(pairs)


def test_the_optimizers_summary_says_what_its_readme_says(tmp_path: Path):
    methods = [{"label": lb, "params": {"lr": [0.01, 0.1]}} for lb in optimizers_page.OPTIMIZERS]
    written = optimizers_page.write(optimizer_runs(), methods, tmp_path, "bench practice optimizers")
    assert written[-1] == tmp_path / "summary.json"
    doc = check_claim_pages(tmp_path)
    assert {c["verdict"] for c in doc["claims"]} >= {"holds", "holds on some tasks only"}  # not all one word
    assert doc["figures"][0] == "lr-grid.png" and doc["measured"]["runs"] == 40
    assert doc["command"] == "bench practice optimizers" and doc["data_commands"] == ["bench run --suite toy"]


def test_the_lr_summary_says_what_its_readme_says(tmp_path: Path):
    scores = {"constant": 0.30, "step": 0.28, "cosine": 0.25, "one-cycle": 0.20, "embeddings 1x": 0.3,
              "embeddings 3x": 0.31, "embeddings 10x": 0.2, "lr-find rate": 0.3, "own rate": 0.1}
    pairs = [run(lb, seed=s, test=v + 0.001 * s, schedule="constant") for lb, v in scores.items() for s in (0, 1)]
    lr_page.write(runs_from(pairs), [], tmp_path, "bench practice lr")
    doc = check_claim_pages(tmp_path)
    assert [c["verdict"] for c in doc["claims"]] == ["holds", "holds", "does not hold", "does not hold"]
    assert doc["figures"][0] == "curves-annealing.png" and lr_page.NOT_HERE in doc["notes"]


def test_the_bn_summary_says_what_its_readme_says(tmp_path: Path):
    runs = runs_from(grid_pairs({True: [0.01, 0.1, 1.0], False: [0.01]}, fast=True) + range_pairs(0.99, 0.93, 1.05))
    bn_report.write_files(bn_report.build(runs), "practice-bn", runs, tmp_path, "bench practice bn")
    doc = read_summary(tmp_path / "summary.json")
    text = (tmp_path / "README.md").read_text()
    words = {c["claim"]: [e["verdict"] for e in c["evidence"]] for c in doc["claims"]}
    assert words == {"Batchnorm allows higher learning rates": ["holds"], "Batchnorm trains faster": ["holds"],
                     "A y-range helps the network hit the ratings' range": ["does not hold"],
                     "Batchnorm's learned scale and shift stand in for a missing range": ["does not hold"]}
    for c in doc["claims"]:
        for e in c["evidence"]:
            assert f"**{c['claim']}: {e['verdict']} at this scale" in text and e["task"] in ("cifar10", "movielens")
        assert c["verdict"] == c["evidence"][0]["verdict"]  # one section each: its word is the claim's
    grid_lines = [e["line"] for c in doc["claims"][:2] for e in c["evidence"]]
    assert all(f"at this scale.** {line}" in text for line in grid_lines)
    assert doc["figures"] == ["cifar10-heatmap.png", "cifar10-curves.png", "movielens-curves.png"]
    assert doc["measured"]["runs"] == len(runs) and doc["measured"]["diverged"] > 0


def init_experiment() -> Experiment:
    """Two MLPs measured by hand: a culprit whose gradient vanishes and a cure that stays flat
    but whose loss never falls (so the cures' part does not hold)."""
    def outcome(name, role, grads, losses):
        prof = Profile(["l1", "l2", "l3"], [1.0, 0.9, 0.8], grads, [1.0, 1.0, 1.0], 2.3)
        return Outcome("mlp", name, role, f"{name} shows", {"lr": 0.01}, prof, prof, Training(losses, None, 0.5),
                       len(losses))

    data = Data("digits", {}, "random", "f00dfeed", np.zeros((0,), np.uint8), np.zeros(100, np.int64), 10,
                np.arange(16))
    exp = Experiment(data, seed=0, device="cpu", seconds=12.5)
    exp.settings["mlp"] = {"depth": 3, "width": 8, "inputs": 64, "input": "pixels", "momentum": 0.9, "lr": 0.01,
                           "batch_size": 32, "steps": 4}
    exp.outcomes["mlp"] = [outcome("sigmoid-default", "culprit", [1e-6, 1e-3, 1.0], [2.3, 2.0, 1.5, 1.0]),
                           outcome("relu-kaiming", "cure", [1.0, 1.0, 1.0], [2.3, 2.3, 2.3, 2.3])]
    return exp


def test_the_init_summary_says_what_its_readme_says_and_from_json_renders_the_same_page(tmp_path: Path,
                                                                                        monkeypatch):
    command = "bench practice init --dataset digits --out first"
    write_init(init_experiment(), tmp_path / "first", command, threads=1)
    doc = check_claim_pages(tmp_path / "first")
    assert [c["verdict"] for c in doc["claims"]] == ["holds", "does not hold"]
    assert doc["measured"]["unit"] == "networks" and doc["command"] == command
    assert math.isclose(doc["measured"]["wall_seconds"], 12.5)

    exp, saved = load_experiment(tmp_path / "first" / "init.json")
    assert saved["command"] == command and exp.outcomes["mlp"][0].at_init.grad_norm == [1e-6, 1e-3, 1.0]
    out = tmp_path / "again"
    args = ["practice", "init", "--from-json", str(tmp_path / "first" / "init.json"), "--out", str(out)]
    monkeypatch.setattr(sys, "argv", ["bench", *args])  # the command line the page records
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    assert (out / "README.md").read_text() == (tmp_path / "first" / "README.md").read_text()
    assert not (out / "init.json").exists()  # the saved run stays the only record of it
    again = check_claim_pages(out)
    assert again["claims"] == doc["claims"] and again["command"] == " ".join(["bench", *args])
    assert again["data_commands"] == [command]


def test_from_json_refuses_training_options_and_a_linked_file(tmp_path: Path):
    write_init(init_experiment(), tmp_path / "first", "bench practice init", threads=1)
    res = CliRunner().invoke(main, ["practice", "init", "--from-json", str(tmp_path / "first" / "init.json"),
                                    "--depth", "4", "--out", str(tmp_path / "x")])
    assert res.exit_code == 2 and "--depth" in res.output and not (tmp_path / "x").exists()
    (tmp_path / "link.json").symlink_to(tmp_path / "first" / "init.json")
    res = CliRunner().invoke(main, ["practice", "init", "--from-json", str(tmp_path / "link.json"),
                                    "--out", str(tmp_path / "x")])
    assert res.exit_code == 2 and "symbolic link" in res.output and not (tmp_path / "x").exists()
