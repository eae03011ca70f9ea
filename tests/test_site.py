"""The results site without a browser: the critical-difference statistics against Demšar (2006),
and a site built from a toy suite: every page parses, every link resolves to a file of the site,
nothing is fetched from the web, and the cells say what the Markdown table says."""
from __future__ import annotations

import json
import re
import textwrap
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from bench.report import cd

# Demšar (2006, JMLR 7), Table 6: AUC of C4.5, C4.5+m, C4.5+cf, C4.5+m+cf on 14 data sets. On rheum
# the paper prints 0.975 for both C4.5+cf and C4.5+m+cf but ranks C4.5+cf second: its unrounded
# AUC is the higher one, so it is written 0.9751 here (that gives the paper's average ranks).
DEMSAR_AUC = np.array([
    [0.763, 0.768, 0.771, 0.798], [0.599, 0.591, 0.590, 0.569], [0.954, 0.971, 0.968, 0.967],
    [0.628, 0.661, 0.654, 0.657], [0.882, 0.888, 0.886, 0.898], [0.936, 0.931, 0.916, 0.931],
    [0.661, 0.668, 0.609, 0.685], [0.583, 0.583, 0.563, 0.625], [0.775, 0.838, 0.866, 0.875],
    [1.000, 1.000, 1.000, 1.000], [0.940, 0.962, 0.965, 0.962], [0.619, 0.666, 0.614, 0.669],
    [0.972, 0.981, 0.9751, 0.975], [0.957, 0.978, 0.946, 0.970]])
DEMSAR_METHODS = ["C4.5", "C4.5+m", "C4.5+cf", "C4.5+m+cf"]


def demsar_table():
    return [(f"data set {i}", False, dict(zip(DEMSAR_METHODS, row))) for i, row in enumerate(DEMSAR_AUC)]


def test_friedman_and_nemenyi_reproduce_demsar_section_3_2_2():
    res = cd.test(demsar_table())
    assert res.methods == DEMSAR_METHODS and len(res.datasets) == 14
    assert np.round(res.avg_ranks, 3).tolist() == [3.143, 2.000, 2.893, 1.964]
    assert round(res.chi2, 2) == 9.28 and round(res.iman_f, 2) == 3.69  # the paper's chi2_F and F_F
    assert round(cd.q_alpha(4), 3) == 2.569 and round(res.cd, 2) == 1.25  # CD = 2.569 sqrt(4·5 / (6·14))
    assert round(cd.q_alpha(4, 0.10), 3) == 2.291 and round(cd.critical_difference(4, 14, 0.10), 2) == 1.12
    # at alpha 0.10 the paper finds C4.5 significantly worse than C4.5+m and C4.5+m+cf, nothing else
    ranks = res.avg_ranks
    assert cd.cliques(ranks, cd.critical_difference(4, 14, 0.10)) == [(0, 2), (2, 3)]
    assert cd.cliques(ranks, res.cd) == [(0, 3)]  # at 0.05: no pair differs


def test_friedman_statistic_equals_scipys_without_ties():
    from scipy.stats import friedmanchisquare

    rng = np.random.default_rng(0)
    values = rng.normal(size=(9, 5)) + np.arange(5) * 0.4
    res = cd.test([(str(i), True, {f"m{j}": v for j, v in enumerate(row)}) for i, row in enumerate(values)])
    chi2, p = friedmanchisquare(*values.T)
    assert res.chi2 == pytest.approx(chi2) and res.p == pytest.approx(p)


def test_complete_block_and_too_little_to_compare():
    table = [("a", True, {"x": 1, "y": 2, "z": 3}), ("b", True, {"x": 2, "y": 1, "z": 3}),
             ("c", True, {"w": 1, "x": 3}), ("d", True, {"w": 1})]
    rows, methods = cd.complete_block(table)
    assert rows == [0, 1] and methods == ["x", "y", "z"]  # 6 cells beat a, b, c × x (3 cells)
    assert "fewer than 2 datasets" in cd.test(table[:1])
    assert "fewer than 2 methods" in cd.test([("a", True, {"x": 1}), ("b", True, {"y": 1})])


class Page(HTMLParser):
    """Collects links, resources, tables and checks that every element closes in order."""

    VOID = {"meta", "link", "input", "br", "img", "hr", "path", "use", "rect", "stop", "circle", "line"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.refs, self.tables = [], [], [], []
        self._cell = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("href", "src", "xlink:href"):
            if a.get(key):
                self.refs.append(a[key])
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th") and self.tables:
            self._cell = [""]
            self.tables[-1][-1].append(self._cell)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        for key in ("href", "src", "xlink:href"):
            if dict(attrs).get(key):
                self.refs.append(dict(attrs)[key])

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
        else:
            self.stack.pop()
        if tag in ("td", "th"):
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[0] += data


def parse(path: Path) -> Page:
    p = Page()
    p.feed(path.read_text())
    p.close()
    assert not p.errors and not p.stack, (path, p.errors[:3], p.stack)
    return p


def md_tables(text: str) -> list[list[list[str]]]:
    """The GitHub tables of a Markdown text, cells stripped of ** marks."""
    tables, cur = [], None
    for line in text.splitlines():
        if line.startswith("|") and not set(line) <= set("|-: "):
            cells = [c.strip().replace("**", "") for c in line.strip("|").split("|")]
            if cur is None:
                cur = []
                tables.append(cur)
            cur.append(cells)
        elif not line.startswith("|"):
            cur = None
    return tables


TWO_SPLITS = '''
description = "two splits of one toy dataset"
seeds = [0, 1, 2]

[[datasets]]
name = "toy-reg"
split = "fixed"

[[datasets]]
name = "toy-reg"
split = "other"

[[methods]]
variant = "toy-mean*"
'''


def build_site(cli, plugin_dir: Path) -> Path:
    """The site of the `toy` and `toy2` suites (toy2: two splits, so ranks and a CD diagram)."""
    (plugin_dir / "toy2.toml").write_text(textwrap.dedent(TWO_SPLITS))
    invoke, results = cli
    for name in ("toy", "toy2"):
        assert invoke("run", "--suite", name, "--format", "none").exit_code == 0
        res = invoke("report", "--suite", name, "--html", "--results-dir", str(results))
        assert res.exit_code == 0, res.output
    return results / "site"


@pytest.mark.slow
def test_site_pages_parse_links_resolve_and_cells_match_the_markdown(cli, plugin_dir):
    site = build_site(cli, plugin_dir)
    pages = sorted(site.rglob("*.html"))
    assert [p.relative_to(site).as_posix() for p in pages] == [
        "index.html", "leaderboard.html", "suites/toy.html", "suites/toy2.html"]
    for path in pages:
        page = parse(path)
        for ref in page.refs:
            assert not re.match(r"(?i)^(https?:)?//", ref), (path, ref)  # nothing from the web
            if ref.startswith("#"):
                assert f'id="{ref[1:]}"' in path.read_text(), (path, ref)
                continue
            target = (path.parent / ref.split("#")[0]).resolve()
            assert target.is_file() and site.resolve() in target.parents, (path, ref)
        assert not re.search(r"url\(\s*['\"]?https?:", path.read_text())
    assert not re.search(r"https?://(?!www\.w3\.org/)", (site / "assets" / "site.css").read_text()
                         + (site / "assets" / "site.js").read_text())

    # the suite page's tables say what `bench table` says, cell for cell
    invoke, results = cli
    md = invoke("table", "--suite", "toy").output
    html_tables = parse(site / "suites" / "toy.html").tables
    expected = md_tables(md)
    assert len(html_tables) == len(expected) == 3  # two datasets and the average rank
    for got, want in zip(html_tables, expected):
        assert [[c[0].strip() for c in row] for row in got] == want
    # hover: mean ± std, the 95 % t interval (the Markdown page prints it in brackets) and n
    text = (site / "suites" / "toy.html").read_text()
    titles = re.findall(r'<td[^>]*title="(mean [^"]*interval[^"]*)"', text)
    assert titles and all("n=2" in t for t in titles)
    intervals = re.findall(r"\[(-?[\d.]+), (-?[\d.]+)\]", (results / "toy" / "README.md").read_text())
    lo, hi = re.search(r"interval of the mean \[(-?[\d.e+-]+), (-?[\d.e+-]+)\]", titles[0]).groups()
    assert (f"{float(lo):.4f}", f"{float(hi):.4f}") in intervals

    index = (site / "index.html").read_text()
    assert 'href="suites/toy.html"' in index and "toy-reg/fixed, toy-cls/default" in index
    board = (site / "leaderboard.html").read_text()
    assert "fewer than 2 methods have a value" in board  # toy: regression and classification rows differ
    summary = json.loads((site / "suites" / "toy2.json").read_text())
    assert summary["cd"]["datasets"] == ["toy-reg / fixed", "toy-reg / other"]
    assert f"CD = {summary['cd']['cd']:.2f}" in board and board.count("<svg") == 1

    # no clock: unchanged records give the same site
    before = {p: p.read_bytes() for p in site.rglob("*") if p.is_file()}
    assert invoke("report", "--suite", "toy", "--html", "--results-dir", str(results)).exit_code == 0
    assert {p: p.read_bytes() for p in site.rglob("*") if p.is_file()} == before


def test_a_planted_summary_link_is_not_followed(tmp_path):
    from bench.report import site

    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "x.html").write_text("<p>x</p>")
    secret = tmp_path / "elsewhere.json"
    secret.write_text(json.dumps({"name": "x", "page": "suites/x.html"}))
    (tmp_path / "suites" / "x.json").symlink_to(secret)
    assert site.summaries(tmp_path) == []
    (tmp_path / "suites" / "x.json").unlink()
    (tmp_path / "suites" / "x.json").write_text(secret.read_text())
    assert [d["name"] for d in site.summaries(tmp_path)] == ["x"]


def test_screenshot_needs_html(cli):
    invoke, results = cli
    res = invoke("report", "--suite", "toy", "--screenshot", "x.png", "--results-dir", str(results))
    assert res.exit_code == 2 and "add --html" in res.output


@pytest.mark.parametrize("bad", [
    {"recorded": "many"}, {"datasets": [1, 2]}, {"page": "../../x.html"}, {"page": "suites/y.html"},
    {"ranks": {"rows": [["a", ["0.1"]]]}}, {"description": ["<script>"]}])
def test_a_malformed_or_planted_summary_is_left_out_not_a_crash(tmp_path, bad):
    from bench.report import site

    (tmp_path / "suites").mkdir()
    for name in ("x", "y"):
        (tmp_path / "suites" / f"{name}.html").write_text("<p>x</p>")
    (tmp_path / "suites" / "x.json").write_text(json.dumps({"name": "x", "page": "suites/x.html", **bad}))
    assert site.summaries(tmp_path) == []
    site.index(tmp_path)
    site.leaderboard(tmp_path)  # both still written, without the bad suite
    assert "suites/x.html" not in (tmp_path / "index.html").read_text()


@pytest.mark.parametrize("cd_info", [{"cd": "nan"}, {"cd": 1.0}, {"chi2": None}, {"avg_ranks": ["inf", 1]}])
def test_an_unreadable_cd_is_said_not_drawn(tmp_path, cd_info):
    from bench.report import site

    info = {"methods": ["a", "b"], "avg_ranks": [1.0, 2.0], "cd": 0.5, "alpha": 0.05, "datasets": ["d1", "d2"],
            "chi2": 2.0, "p": 0.15}
    info.update(cd_info)
    if "chi2" in cd_info and cd_info["chi2"] is None:
        del info["chi2"]
    out = "".join(site._cd_html(info, "t-"))
    if cd_info == {"cd": 1.0}:
        assert "Nemenyi critical difference" in out  # a readable one is drawn
    else:
        assert "unreadable" in out
