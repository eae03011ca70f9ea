"""The results site's "In practice" page (bench/report/site_practice.py): built from hand-written
summary.json files as a practice page writes them; texts escaped, the main figure copied into the
site (a relative src that stays inside it), a malformed or planted summary named without breaking
the site, and the nav links the page only when there is one."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from bench.results.practice_summary import SECTIONS
from test_site import parse

matplotlib = pytest.importorskip("matplotlib")


def png(path: Path) -> bytes:
    import numpy as np
    from matplotlib import pyplot as plt

    plt.imsave(path, np.arange(12, dtype=float).reshape(3, 4))
    return path.read_bytes()


def summary(claim: str, figure: str = "main.png") -> dict:
    return {"schema": "bench-practice-summary/1", "title": "In practice: optimizers", "claim": claim,
            "claims": [{"claim": "Momentum <b>helps</b> & speeds SGD up.", "verdict": "holds on some tasks only",
                        "evidence": [{"task": "rossmann", "verdict": "holds", "line": "loss 0.32 < 0.71"},
                                     {"task": "cifar10", "verdict": "does not hold", "line": "loss 1.87 > 1.81"}]}],
            "figures": [figure, "other.png"],
            "measured": {"data": ["rossmann: 2000 rows"], "scale": ["3 epochs"], "unit": "runs", "runs": 12,
                         "recorded": 12, "diverged": 1, "seeds": [0, 1], "wall_seconds": 300.0,
                         "wall_note": "`bench run --suite practice-optimizers`", "hardware": "1 thread(s) per run on cpu"},
            "notes": [], "command": "bench practice optimizers --results-dir results/practice", "data_commands": []}


@pytest.fixture
def practice(tmp_path: Path) -> Path:
    """results/practice with optimizers made (a figure), lr malformed, the others not made."""
    root = tmp_path / "results" / "practice"
    (root / "optimizers").mkdir(parents=True)
    (root / "optimizers" / "summary.json").write_text(json.dumps(summary("Adam <script>alert(1)</script> wins")))
    png(root / "optimizers" / "main.png")
    (root / "lr").mkdir()
    (root / "lr" / "summary.json").write_text('{"schema": "bench-practice-summary/1", "claim": NaN}')
    return root


def test_practice_page_shows_claims_verdicts_and_a_copied_figure(practice, tmp_path):
    from bench.report import site, site_practice

    site_dir = tmp_path / "site"
    out = site_practice.write(site_dir, practice)
    assert out == site_dir / "practice.html"
    text = out.read_text()
    page = parse(out)  # every element closes in order
    # escaped: the planted markup is text, never markup
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and "<script>alert" not in text
    assert "Momentum &lt;b&gt;helps&lt;/b&gt; &amp; speeds SGD up." in text
    for words in ("holds on some tasks only", "does not hold", "loss 0.32 &lt; 0.71", "rossmann", "cifar10",
                  "rossmann: 2000 rows", "1 diverged", "wall time 300 s (5.0 min)",
                  "results/practice/optimizers/README.md", "In practice: optimizers"):
        assert words in text, words
    # the main figure (only it) is copied into the site; its src is relative and stays inside
    srcs = re.findall(r'<img src="([^"]+)"', text)
    assert srcs == ["practice/optimizers/main.png"]
    target = (site_dir / srcs[0]).resolve()
    assert site_dir.resolve() in target.parents
    assert target.read_bytes() == (practice / "optimizers" / "main.png").read_bytes()
    assert not (site_dir / "practice" / "optimizers" / "other.png").exists()
    for ref in page.refs:
        assert not re.match(r"(?i)^([a-z]+:|/|\.\.)", ref), ref  # relative, never out of the site
    # the malformed summary is named; a missing one says "not made yet"; the page still lists every slide
    assert str(practice / "lr" / "summary.json") in text and "Cannot be shown" in text
    assert "Not made yet: no <code>init/summary.json</code>" in text
    order = [text.index(f'id="{s.folder}"') for s in SECTIONS]  # the deck's order
    assert order == sorted(order) and text.index('id="augmentation"') < text.index('id="init"') < text.index('id="lr"')
    # the index (and any page written now) links it from the nav
    assert 'href="practice.html">In practice</a>' in site.index(site_dir).read_text()


def test_no_practice_summary_no_page_and_no_nav_link(tmp_path):
    from bench.report import site, site_practice

    site_dir = tmp_path / "site"
    (tmp_path / "practice" / "optimizers").mkdir(parents=True)  # a folder, but no summary in it
    assert site_practice.write(site_dir, tmp_path / "practice") is None
    assert site_practice.write(site_dir, tmp_path / "absent") is None
    site_dir.mkdir(exist_ok=True)
    index = site.index(site_dir).read_text()
    assert "practice.html" not in index and not (site_dir / "practice.html").exists()


def test_planted_links_are_not_followed(practice, tmp_path):
    from bench.report import site_practice

    secret = tmp_path / "secret.png"
    png(secret)
    (practice / "optimizers" / "main.png").unlink()
    os.symlink(secret, practice / "optimizers" / "main.png")  # a figure that is a link
    (practice / "bn").mkdir()
    os.symlink(practice / "optimizers" / "summary.json", practice / "bn" / "summary.json")
    os.symlink(practice / "optimizers", practice / "init")  # a section folder that is a link
    text = site_practice.write(tmp_path / "site", practice).read_text()
    assert "<img" not in text and "is missing or not a plain PNG file" in text
    assert not (tmp_path / "site" / "practice" / "optimizers" / "main.png").exists()
    assert str(practice / "bn" / "summary.json") in text and "symbolic link" in text
    assert text.count("Cannot be shown") == 3  # lr (malformed), init (folder link), bn (summary link)
    assert text.count("Adam &lt;script&gt;") == 1  # optimizers only, not again through the links


def test_report_html_writes_the_practice_page_and_links_it(cli):
    invoke, results = cli
    (results / "practice" / "optimizers").mkdir(parents=True)
    (results / "practice" / "optimizers" / "summary.json").write_text(json.dumps(summary("Adam wins")))
    assert invoke("run", "--suite", "toy", "--format", "none").exit_code == 0
    res = invoke("report", "--suite", "toy", "--html", "--results-dir", str(results))
    assert res.exit_code == 0, res.output
    site_dir = results / "site"
    assert "Adam wins" in (site_dir / "practice.html").read_text()
    for page in ("index.html", "leaderboard.html", "suites/toy.html"):
        up = "../" if "/" in page else ""
        assert f'href="{up}practice.html">In practice</a>' in (site_dir / page).read_text(), page
    # the main figure is absent here: said, not a crash, and no img
    assert "<img" not in (site_dir / "practice.html").read_text()


def test_shared_verdict_words_are_the_page_writers_words():
    """bench.results.practice_summary lists the words literally (it may not import bench.practice):
    every word a page writer gives a task or a claim must be among them."""
    from bench.practice.page_text import WORDS, Verdict, summary_word
    from bench.results.practice_summary import SECTIONS, CLAIM_WORDS, ORDER, TASK_WORDS

    assert set(WORDS.values()) <= set(TASK_WORDS)
    kinds = [True, False, None]
    made = {summary_word([Verdict("a", x, ""), Verdict("b", y, "")]) for x in kinds for y in kinds}
    made |= {summary_word([Verdict("a", x, "")]) for x in kinds}
    assert made <= set(CLAIM_WORDS) and set(CLAIM_WORDS) == set(ORDER)
