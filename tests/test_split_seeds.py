"""Split seeds: a seeded split's draw is chosen apart from the model seed; split seed 0 is the
split every dataset made before split seeds existed; fixed splits refuse other seeds; suites
run split seeds × model seeds and the table pools the draws in one section, saying so."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from bench import LoadContext, SplitSeedError
from bench.plugins.registry import discover, load_file
from bench.core.spec import RunSpec, _stable_hash
from bench.results.store import Store
from bench.run.suite import SuiteError, load_suite

ROOT = Path(__file__).resolve().parents[1]
BC = load_file(ROOT / "datasets" / "breast_cancer.py")  # by path, as the registry loads them
DG = load_file(ROOT / "datasets" / "digits.py")
R = load_file(ROOT / "datasets" / "rossmann")
M = load_file(ROOT / "datasets" / "movielens")
C = load_file(ROOT / "datasets" / "cifar10")

# Computed with the code of commit e0979c6, before split seeds existed (every seeded draw used a
# fixed 0): split seed 0 must give exactly these, or every stored record would stop matching.
FINGERPRINTS_BEFORE = {
    ("breast-cancer", "random"): "8222b0f8a0727537",
    ("digits", "random"): "e1e6c3ce3b5675ab",
    ("rossmann-sim", "paper"): "a2ee4aecabe58027",
    ("rossmann-sim", "kaggle"): "f0d99b92c9b77aa7",
    ("movielens-sim", "random"): "2000370903eb8b01",
    ("movielens-sim", "temporal"): "80dc63f62ae90b11",
}
EMBEDDED = {"breast-cancer": BC.BreastCancer, "digits": DG.Digits, "rossmann-sim": R.RossmannSim,
            "movielens-sim": M.MovieLensSim}
SEEDED = [k for k in FINGERPRINTS_BEFORE if k[1] in EMBEDDED[k[0]].seeded_splits]
FIXED = [k for k in FINGERPRINTS_BEFORE if k not in SEEDED]


def _ctx(tmp_path: Path, split_seed: int = 0) -> LoadContext:
    return LoadContext(tmp_path / "data", tmp_path / "cache", split_seed=split_seed)


def _write_fold_folder(folder: Path) -> None:
    """A tiny ml-100k: 200 ratings in u.data and one official fold u1 (every fifth row tested)."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [(1 + i % 20, 1 + i // 20, 1 + i % 5, 880_000_000 + 7 * i) for i in range(200)]

    def line(r):
        return "\t".join(map(str, r)) + "\n"
    (folder / "u.data").write_text("".join(map(line, rows)))
    (folder / "u1.base").write_text("".join(line(r) for i, r in enumerate(rows) if i % 5))
    (folder / "u1.test").write_text("".join(line(r) for i, r in enumerate(rows) if not i % 5))


# -- the dataset contract ---------------------------------------------------------------------

@pytest.mark.parametrize("dataset,split", list(FINGERPRINTS_BEFORE))
def test_split_seed_0_reproduces_the_fingerprints_from_before(dataset, split, tmp_path):
    ds = EMBEDDED[dataset]()
    assert ds.load(split, _ctx(tmp_path, 0)).split.fingerprint == FINGERPRINTS_BEFORE[dataset, split]
    assert ds.load(split, None).split.fingerprint == FINGERPRINTS_BEFORE[dataset, split]  # no context: 0


def test_split_seed_0_reproduces_the_file_based_draws_from_before(tmp_path, monkeypatch):
    """The datasets with files draw through the same functions; their old draws, on small inputs."""
    assert M.random_split(1000).fingerprint == "88f451335f37e1d0"
    train_y, test_y = np.arange(1000) % 10, np.arange(200) % 10
    assert C.make_split(train_y, test_y, 100, 20, 5).fingerprint == "54c56742c918b55d"
    assert C.make_split(train_y, test_y, 100).fingerprint == "7fd261d425d4c6ad"
    monkeypatch.setenv("BENCH_MOVIELENS_DOWNLOAD", "0")
    _write_fold_folder(tmp_path / "data" / "ml-100k")
    fold = M.MovieLens(side_features=False).load("u1", _ctx(tmp_path, 0)).split
    assert fold.fingerprint == "021fa24c5b653316"


@pytest.mark.parametrize("dataset,split", SEEDED)
def test_split_seed_1_is_another_deterministic_draw_of_the_same_sizes(dataset, split, tmp_path):
    ds = EMBEDDED[dataset]()
    zero = ds.load(split, _ctx(tmp_path, 0)).split
    one, again = (ds.load(split, _ctx(tmp_path, 1)).split for _ in range(2))
    assert one.fingerprint == again.fingerprint  # deterministic
    assert one.fingerprint != zero.fingerprint  # another draw
    assert one.sizes() == zero.sizes()
    parts = [np.asarray(p) for p in (one.train, one.valid, one.test)]
    assert len(np.unique(np.concatenate(parts))) == sum(len(p) for p in parts)  # still disjoint
    assert ds.load(split, _ctx(tmp_path, 2)).split.fingerprint not in (zero.fingerprint, one.fingerprint)


def test_rossmann_paper_redraws_train_and_valid_but_keeps_the_most_recent_test(tmp_path):
    ds = R.RossmannSim()
    zero, one = (ds.load("paper", _ctx(tmp_path, k)) for k in (0, 1))
    assert np.array_equal(zero.split.test, one.split.test)
    assert not np.array_equal(zero.split.train, one.split.train)
    assert "split seed 1" in one.description


def test_an_official_fold_redraws_only_its_valid_part(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_MOVIELENS_DOWNLOAD", "0")
    _write_fold_folder(tmp_path / "data" / "ml-100k")
    ds = M.MovieLens(side_features=False)
    zero, one = (ds.load("u1", _ctx(tmp_path, k)).split for k in (0, 1))
    assert np.array_equal(zero.test, one.test)  # GroupLens' u1.test, whatever the seed
    assert not np.array_equal(zero.valid, one.valid)
    assert np.array_equal(np.sort(np.r_[zero.train, zero.valid]), np.sort(np.r_[one.train, one.valid]))


@pytest.mark.parametrize("dataset,split", FIXED)
def test_a_fixed_split_refuses_a_split_seed(dataset, split, tmp_path):
    ds = EMBEDDED[dataset]()
    with pytest.raises(SplitSeedError, match=rf"split '{split}' is fixed.*split seed 1.*"
                                             rf"{'|'.join(ds.seeded_splits)}"):
        ds.load(split, _ctx(tmp_path, 1))


@pytest.mark.parametrize("bad", [-1, True, 1.5, "1"])
def test_a_split_seed_is_a_non_negative_integer(bad):
    with pytest.raises(SplitSeedError, match="non-negative integer"):
        BC.BreastCancer().check_split_seed("random", bad)


def test_the_runner_refuses_a_split_seed_even_when_the_plugin_never_reads_it(toy_registry, tmp_path):
    """toy-reg declares no seeded split and its load ignores ctx: the runner still refuses."""
    from bench.run.execute import load_task

    spec = RunSpec(suite="t", dataset="toy-reg", dataset_params=(), split="fixed", method="toy-mean",
                   params=(), seed=0, split_seed=2)
    with pytest.raises(SplitSeedError, match="toy-reg.*'fixed' is fixed"):
        load_task(toy_registry, spec, tmp_path / "data", tmp_path / "cache")


def test_bench_check_catches_a_seeded_split_that_ignores_its_split_seed(tmp_path):
    from bench.plugins.dataset_checks import dataset_checks

    class Ignores(BC.BreastCancer):
        def load(self, split, ctx):
            return super().load(split, None)  # always split seed 0

    def failed(cls):
        return {r.name for r in dataset_checks(cls, tmp_path, tmp_path) if not r.ok}

    assert failed(BC.BreastCancer) == set()
    assert failed(Ignores) == {"split-seed[random]"}


# -- run specs --------------------------------------------------------------------------------

def _spec(**kw) -> RunSpec:
    base = dict(suite="s", dataset="breast-cancer", dataset_params=(), split="random", method="knn",
                params=(("k", 5),), seed=3)
    return RunSpec(**{**base, **kw})


def test_split_seed_0_keeps_the_spec_id_of_before():
    old_identity = {"dataset": "breast-cancer", "dataset_params": {}, "split": "random", "method": "knn",
                    "params": {"k": 5}, "seed": 3}  # the identity's fields before split seeds
    assert _spec().identity == old_identity
    assert _spec().spec_id == _stable_hash(old_identity)
    assert "split seed" not in _spec().describe()


def test_a_nonzero_split_seed_is_part_of_the_identity():
    one = _spec(split_seed=1)
    assert one.identity["split_seed"] == 1
    assert len({_spec().spec_id, one.spec_id, _spec(split_seed=2).spec_id}) == 3
    assert one.key("fp", "m", "d") != _spec().key("fp", "m", "d")
    assert one.describe() == "knn on breast-cancer/random split seed 1 seed 3"


# -- suites -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def registry():
    return discover(entry_points=False)


SUITE = '''
seeds = [0]
split_seeds = [0, 1]

[[datasets]]
name = "breast-cancer"

[[methods]]
variant = "knn"

[[methods]]
variant = "knn-standardized"
'''


def test_suite_split_seeds_default_and_validation(write_suite):
    assert load_suite(write_suite('[[datasets]]\nname = "x"\n[[methods]]\nvariant = "y"\n')).split_seeds == [0]
    for bad in ("[]", "[0, 0]", "[-1]", "[true]", "1", '["1"]'):
        path = write_suite(f'split_seeds = {bad}\n[[datasets]]\nname = "x"\n[[methods]]\nvariant = "y"\n')
        with pytest.raises(SuiteError, match=rf"{re.escape(str(path))}: split_seeds must be"):
            load_suite(path)
    path = write_suite('[[datasets]]\nname = "x"\nsplit_seeds = [2, 2]\n[[methods]]\nvariant = "y"\n')
    with pytest.raises(SuiteError, match=r"\[\[datasets\]\] #1: split_seeds must be"):
        load_suite(path)


def test_suite_expands_split_seeds_times_model_seeds(write_suite, registry):
    suite = load_suite(write_suite(SUITE.replace("seeds = [0]\n", "seeds = [0, 1, 2]\n", 1)))
    specs = [s for s in suite.expand(registry) if s.method == "knn"]
    assert sorted((s.split_seed, s.seed) for s in specs) == [(a, b) for a in (0, 1) for b in (0, 1, 2)]
    assert len({s.spec_id for s in specs}) == 6
    # --seeds filters model seeds only; a dataset's own split_seeds win over the suite's
    assert {(s.split_seed, s.seed) for s in suite.expand(registry, seeds=[2]) if s.method == "knn"} == {(0, 2), (1, 2)}
    own = load_suite(write_suite(SUITE.replace('name = "breast-cancer"\n',
                                               'name = "breast-cancer"\nsplit_seeds = [4]\n')))
    assert {s.split_seed for s in own.expand(registry)} == {4}


def test_a_suite_asking_a_fixed_split_for_split_seeds_fails_before_any_run(write_suite, registry):
    path = write_suite(SUITE.replace('name = "breast-cancer"\n', 'name = "rossmann-sim"\nsplit = "kaggle"\n'))
    with pytest.raises(SuiteError, match=rf"{re.escape(str(path))}: \[\[datasets\]\] rossmann-sim: .*"
                                         r"'kaggle' is fixed.*paper"):
        load_suite(path).expand(registry)


@pytest.mark.slow
def test_resampled_splits_run_and_pool_in_one_table_section(tmp_path, write_suite, bench_cmd):
    """split_seeds = [0, 1], seeds = [0]: two draws, two fingerprints, one section whose footnote
    says the ± is over resampled splits, and whose paired test pairs by split seed."""
    suite = write_suite(SUITE + '\n[table]\ncompare_to = "knn-standardized"\n', name="resampled")
    results = tmp_path / "results"
    out = bench_cmd(["run", "--suite", str(suite), "--results-dir", str(results),
                     "--cache-dir", str(tmp_path / "cache"), "--device", "cpu", "--quiet"])
    assert out.exit_code == 0, out.output
    recs = [r for r in Store(results).records() if r.spec["method"] == "knn"]
    assert len(recs) == 2
    by_seed = {r.spec.get("split_seed", 0): r for r in recs}
    assert sorted(by_seed) == [0, 1]
    fps = {k: r.split["fingerprint"] for k, r in by_seed.items()}
    assert fps[0] == FINGERPRINTS_BEFORE["breast-cancer", "random"] and fps[1] != fps[0]
    assert by_seed[1].split["split_seed"] == 1 and "split_seed" not in by_seed[0].split

    table = bench_cmd(["table", "--suite", str(suite), "--results-dir", str(results)])
    assert table.exit_code == 0, table.output
    text = table.output
    assert text.count("### ") == 1 and "### breast-cancer / random (2 split seeds)" in text
    assert f"split seed 0: fingerprint `{fps[0]}`, split seed 1: fingerprint `{fps[1]}`" in text
    assert "Model seeds: 0; split seeds: 0, 1" in text
    assert "mean ± std over 2 split seeds × 1 model seed (resampled splits)" in text
    assert "initialisation and training order only" not in text
    assert "paired by split seed and model seed" in text
    values = [r.metrics["accuracy"] for r in recs]
    line = next(x for x in text.splitlines() if x.startswith("| knn "))
    assert f"{np.mean(values):.4f} ± {np.std(values, ddof=1):.4f}" in line


def test_expected_numbers_key_each_draw_apart():
    from bench.report.expected import run_key

    assert run_key(_spec()) == "breast-cancer/random | knn | seed 3"  # split seed 0: the old key
    assert run_key(_spec(split_seed=1)) == "breast-cancer/random split seed 1 | knn | seed 3"
