"""Statistics over seeds in the tables: t intervals, paired-test marks against a reference row,
average ranks across datasets, and non-ok run statuses shown by name."""
from __future__ import annotations

import numpy as np
import pytest

from bench.report import stats
from bench.run.suite import load_suite
from bench.report.render import render
from bench.report.table import BETTER, WORSE, average_ranks, build

from test_table import _rows, setup  # noqa: F401  (fixture)

THREE_SEEDS = """
seeds = [0, 1, 2]
[[datasets]]
name = "toy-reg"
split = "fixed"
[[datasets]]
name = "toy-reg"
split = "other"
[[methods]]
variant = "toy-mean*"
[table]
metrics = ["mape"]
compare_to = "toy-mean"
"""


def test_t_interval_matches_the_textbook_formula():
    v = [0.10, 0.12, 0.17]
    lo, hi = stats.t_interval(v)
    half = 4.302652729911275 * np.std(v, ddof=1) / np.sqrt(3)  # t(0.975, df=2)
    assert lo == pytest.approx(np.mean(v) - half) and hi == pytest.approx(np.mean(v) + half)
    assert stats.t_interval([0.1]) is None


def test_paired_test_direction_and_too_few_pairs():
    ref = {0: 0.20, 1: 0.22, 2: 0.25}
    lower = {0: 0.10, 1: 0.13, 2: 0.14}
    c = stats.paired(lower, ref, lower_is_better=True)
    assert c.n == 3 and c.better and c.significant
    # differences -0.10, -0.09, -0.11: t = -0.10 / (0.01 / sqrt 3) = -10 sqrt 3 on 2 df, whose
    # two-sided p is 1 - |t| / sqrt(t^2 + 2) (the t(2) distribution has a closed form)
    assert c.p == pytest.approx(1 - np.sqrt(300 / 302), rel=1e-9)
    assert not stats.paired(lower, ref, lower_is_better=False).better  # accuracy: lower is worse
    assert stats.paired({0: 0.1}, ref, True).p is None  # one pair: no test
    assert stats.paired(lower, ref, True, test="wilcoxon").p is None  # 3 pairs: Wilcoxon can never reach 0.05
    six_ref = {s: 1.0 + s for s in range(6)}
    six = {s: 0.5 + 1.01 * s for s in range(6)}  # all six better: exact p = 2 / 2**6
    assert stats.paired(six, six_ref, True, test="wilcoxon").p == pytest.approx(0.03125)
    noisy = {0: 0.19, 1: 0.23, 2: 0.24}
    assert not stats.paired(noisy, ref, True).significant


def test_ranks_average_ties_and_respect_direction():
    assert list(stats.ranks([0.3, 0.1, 0.3], lower_is_better=True)) == [2.5, 1.0, 2.5]
    assert list(stats.ranks([0.3, 0.1, 0.2], lower_is_better=False)) == [1.0, 3.0, 2.0]


def _put_three(put, specs, method, split, values):
    for seed, v in enumerate(values):
        s = next(x for x in specs if x.method == method and x.split == split and x.seed == seed)
        put(None, {"mape": v, "rmse": 1.0}, spec=s)


def test_marks_ci_and_average_rank(setup, write_suite):  # noqa: F811
    _, reg, store, put = setup
    suite = load_suite(write_suite(THREE_SEEDS), name="toy")
    specs = suite.expand(reg)
    _put_three(put, specs, "toy-mean", "fixed", [0.20, 0.22, 0.25])
    _put_three(put, specs, "toy-mean-shifted", "fixed", [0.30, 0.33, 0.34])  # clearly worse
    _put_three(put, specs, "toy-mean", "other", [0.20, 0.22, 0.25])
    _put_three(put, specs, "toy-mean-shifted", "other", [0.10, 0.13, 0.14])  # clearly better
    fixed, other = build(suite, reg, store)
    assert _rows(fixed)["toy-mean-shifted"]["MAPE"].mark == WORSE
    assert _rows(other)["toy-mean-shifted"]["MAPE"].mark == BETTER
    assert _rows(fixed)["toy-mean"]["MAPE"].mark == ""  # the reference itself
    assert any("significantly better / worse than `toy-mean`" in n for n in fixed.notes)
    md = render([fixed], "md", ci=True)
    # mean 0.3233, sd 0.0208; half width t(0.975, 2) * 0.0208 / sqrt 3 = 0.0517
    assert f"0.3233 ± 0.0208 [0.2716, 0.3750] {WORSE}" in md
    assert r"$\downarrow$" in render([fixed], "latex")
    assert not any(c.mark for c in _rows(build(suite, reg, store, compare_to="")[0])["toy-mean-shifted"].values())

    ranks = average_ranks([fixed, other])
    rows = _rows(ranks)
    assert ranks.headers == ["average rank", "datasets", "toy-reg / fixed", "toy-reg / other"]
    assert rows["toy-mean"]["average rank"].text() == "1.50"  # 1st on fixed, 2nd on other
    assert rows["toy-mean"]["toy-reg / fixed"].text() == "1.00"
    assert rows["toy-mean-shifted"]["toy-reg / fixed"].text() == "2.00"
    assert rows["toy-mean"]["datasets"].text() == "2"
    assert average_ranks([fixed]) is None


def test_too_few_seeds_for_a_test_says_so(setup, write_suite):  # noqa: F811
    _, reg, store, put = setup
    suite = load_suite(write_suite(THREE_SEEDS), name="toy")
    specs = suite.expand(reg)
    _put_three(put, specs, "toy-mean", "fixed", [0.20])
    _put_three(put, specs, "toy-mean-shifted", "fixed", [0.90])
    fixed, _ = build(suite, reg, store)
    assert _rows(fixed)["toy-mean-shifted"]["MAPE"].mark == ""
    assert any("1 cell(s) not tested: fewer than 2 seeds" in n for n in fixed.notes)


def test_reference_not_in_the_table_is_said(setup, write_suite):  # noqa: F811
    _, reg, store, put = setup
    suite = load_suite(write_suite(THREE_SEEDS.replace('compare_to = "toy-mean"', 'compare_to = "knn"')), name="toy")
    assert any("reference `knn` is not a row" in n for n in build(suite, reg, store)[0].notes)


def test_non_ok_statuses_are_shown_by_name_and_listed(setup, write_suite):  # noqa: F811
    _, reg, store, put = setup
    suite = load_suite(write_suite(THREE_SEEDS), name="toy")
    specs = suite.expand(reg)
    _put_three(put, specs, "toy-mean", "fixed", [0.20, 0.22, 0.25])
    s = next(x for x in specs if x.method == "toy-mean-shifted" and x.split == "fixed" and x.seed == 1)
    put(None, status="timeout", spec=s)
    fixed, other = build(suite, reg, store)
    assert _rows(fixed)["toy-mean-shifted"]["MAPE"].text() == "timeout"
    assert any("toy-mean-shifted seed 1: timeout" in n for n in fixed.notes)
    rows = _rows(average_ranks([fixed, other]))
    assert rows["toy-mean-shifted"]["toy-reg / fixed"].text() == "timeout"  # not ranked, not dropped
    assert rows["toy-mean"]["toy-reg / other"].text() == "—"


@pytest.mark.parametrize("lower", [True, False])
def test_ranks_equal_scipys_rankdata_with_ties(lower):
    from scipy.stats import rankdata

    rng = np.random.default_rng(0)
    for n in (1, 2, 5, 30):
        v = rng.integers(0, 4, n).astype(float)  # many ties
        expected = rankdata(v if lower else -v, method="average")
        np.testing.assert_array_equal(stats.ranks(v, lower_is_better=lower), expected)
