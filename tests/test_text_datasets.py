"""Tests of the text datasets ``mr`` (datasets/mr/) and ``text-sim`` (datasets/text_sim.py).

MR is tested on a tiny pair of files written here in the release's exact format (one lower-cased,
space-tokenized snippet a line), in UTF-8 and in the original Windows-1252; nothing needs the
real data or the network.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench import FilesMissing, LoadContext, SplitSeedError
from bench.plugins.dataset_checks import dataset_checks
from bench.plugins.registry import load_file

ROOT = Path(__file__).resolve().parents[1]
MR = load_file(ROOT / "datasets" / "mr")
SIM = load_file(ROOT / "datasets" / "text_sim.py")

N_NEG, N_POS = 23, 31  # unequal, not multiples of 10: the folds' balance is tested, not given
CAFE = "un film de café : the best french comedy since amélie ."


def snippets(label: str, n: int) -> list[str]:
    """``n`` distinct snippets in MR's format; the third has accented letters."""
    lines = [f"{label} snippet number {i} , with punctuation as words ." for i in range(n)]
    lines[2] = CAFE
    return lines


def write_mr(folder: Path, encoding: str = "utf-8", neg_encoding: str | None = None,
             newline: str = "\n") -> Path:
    """``<folder>/rt-polarity/rt-polarity.{neg,pos}`` as released (each line ends with a space, as
    in the release); ``neg_encoding`` lets the two files differ."""
    base = folder / "rt-polarity"
    base.mkdir(parents=True, exist_ok=True)
    for name, label, n, enc in (("rt-polarity.neg", "neg", N_NEG, neg_encoding or encoding),
                                ("rt-polarity.pos", "pos", N_POS, encoding)):
        (base / name).write_bytes("".join(s + " " + newline for s in snippets(label, n)).encode(enc))
    return folder


def ctx_for(tmp_path: Path, split_seed: int = 0) -> LoadContext:
    return LoadContext(tmp_path / "data", tmp_path / "cache", split_seed=split_seed)


@pytest.fixture
def mr_ctx(tmp_path) -> LoadContext:
    write_mr(tmp_path / "data")
    return ctx_for(tmp_path)


# --------------------------------------------------------------------------------------------
# MR: reading
# --------------------------------------------------------------------------------------------

def test_mr_rows_labels_and_task(mr_ctx):
    task = MR.MR().load(None, mr_ctx)
    assert task.split.name == "fold1" and task.dataset == "mr" and not task.synthetic
    assert task.kind == "text-classification" and task.target == "label" and tuple(task.metrics) == ("accuracy",)
    assert task.schema.n_classes == 2 and task.categories == {"label": ["negative", "positive"]}
    assert isinstance(task.X, np.ndarray) and task.X.dtype == object and task.X.ndim == 1
    assert list(task.X) == snippets("neg", N_NEG) + snippets("pos", N_POS)  # negatives first, file order
    assert task.y.dtype == np.int64 and list(task.y) == [0] * N_NEG + [1] * N_POS
    assert task.X[2] == CAFE and all(isinstance(t, str) and t == t.strip() for t in task.X)
    assert f"{N_NEG + N_POS}" in task.description and "fold1" in task.description


@pytest.mark.parametrize("encoding, neg_encoding, newline", [
    ("utf-8", None, "\n"), ("cp1252", None, "\n"), ("utf-8", "cp1252", "\r\n"), ("utf-8-sig", None, "\n")])
def test_mr_encodings_give_the_same_texts(tmp_path, encoding, neg_encoding, newline):
    write_mr(tmp_path / "data", encoding, neg_encoding, newline)
    raw = (tmp_path / "data" / "rt-polarity" / "rt-polarity.neg").read_bytes()
    assert (b"caf\xe9 " in raw) == ((neg_encoding or encoding) == "cp1252")  # the original's byte 0xE9
    task = MR.MR().load("fold3", ctx_for(tmp_path))
    assert list(task.X) == snippets("neg", N_NEG) + snippets("pos", N_POS)
    assert task.X[2] == CAFE and task.X[N_NEG + 2] == CAFE


def test_mr_keeps_every_line(tmp_path):
    """Blank and padded lines stay rows (stripped); only the final newline ends the file."""
    write_mr(tmp_path / "data")
    pos = tmp_path / "data" / "rt-polarity" / "rt-polarity.pos"
    pos.write_bytes(pos.read_bytes() + "   \n\t tabbed snippet .\t\nlast line without newline".encode())
    task = MR.MR().load(None, ctx_for(tmp_path))
    assert len(task.y) == N_NEG + N_POS + 3
    assert list(task.X[-3:]) == ["", "tabbed snippet .", "last line without newline"]


def test_mr_missing_file_says_where_to_get_it(tmp_path):
    write_mr(tmp_path / "data")
    (tmp_path / "data" / "rt-polarity" / "rt-polarity.pos").unlink()
    with pytest.raises(FilesMissing) as e:
        MR.MR().load(None, ctx_for(tmp_path))
    msg = str(e.value)
    assert "rt-polarity.pos" in msg and "rt-polarity.neg" not in msg.split("files missing:")[1].split("\n")[0]
    assert "https://www.cs.cornell.edu/people/pabo/movie-review-data/" in msg
    assert "sentence polarity dataset v1.0" in msg and "rt-polarity.tar.gz" in msg
    assert MR.MR().missing_files(tmp_path / "data") == [tmp_path / "data" / "rt-polarity" / "rt-polarity.pos"]


@pytest.mark.parametrize("content, words", [(b"", ["empty"]), (b"\n  \n", ["empty"]),
                                            (b"bad byte \x81 here\n", ["neither UTF-8 nor Windows-1252"])])
def test_mr_empty_or_damaged_file(tmp_path, content, words):
    write_mr(tmp_path / "data")
    neg = tmp_path / "data" / "rt-polarity" / "rt-polarity.neg"
    neg.write_bytes(content)
    with pytest.raises(ValueError) as e:
        MR.MR().load(None, ctx_for(tmp_path))
    assert str(neg) in str(e.value) and all(w in str(e.value) for w in words)
    assert "movie-review-data" in str(e.value)


def test_mr_too_few_rows_for_ten_folds(tmp_path):
    base = tmp_path / "data" / "rt-polarity"
    base.mkdir(parents=True)
    (base / "rt-polarity.neg").write_text("a .\nb .\n")
    (base / "rt-polarity.pos").write_text("".join(f"p {i} .\n" for i in range(12)))
    with pytest.raises(ValueError, match="at least 10 rows of each class; the smallest class has 2"):
        MR.MR().load(None, ctx_for(tmp_path))


# --------------------------------------------------------------------------------------------
# Folds (MR and text-sim share the protocol)
# --------------------------------------------------------------------------------------------

def _loader(which: str, tmp_path: Path):
    if which == "mr":
        write_mr(tmp_path / "data")
        return lambda split, seed=0: MR.MR().load(split, ctx_for(tmp_path, seed))
    return lambda split, seed=0: SIM.TextSim(n=300).load(split, LoadContext(tmp_path, tmp_path, seed))


@pytest.mark.parametrize("which", ["mr", "text-sim"])
def test_folds_partition_the_rows(tmp_path, which):
    load = _loader(which, tmp_path)
    tasks = [load(f) for f in MR.FOLDS]
    y = tasks[0].y
    n = len(y)
    tests = []
    for k, task in enumerate(tasks, 1):
        s = task.split
        assert s.name == f"fold{k}"
        parts = [np.asarray(p) for p in (s.train, s.valid, s.test)]
        for p in parts:
            assert p.dtype == np.int64 and np.all(np.diff(p) > 0)
        both = np.concatenate(parts)
        assert len(both) == n and len(np.unique(both)) == n  # disjoint, covering every row
        rest = len(s.train) + len(s.valid)
        assert abs(len(s.valid) - rest / 10) <= 2  # 10 % of the nine other folds
        for c in (0, 1):  # valid is stratified: each class's share of the rest, within a row or two
            share = np.sum(y[s.valid] == c) / max(1, np.sum(y[np.concatenate([s.train, s.valid])] == c))
            assert abs(share - 0.1) < 2.5 / np.sum(y == c) * 10
        tests.append(np.asarray(s.test))
    every = np.concatenate(tests)
    assert len(every) == n and len(np.unique(every)) == n  # the ten test folds partition the rows
    for c in (0, 1):
        per_fold = [int(np.sum(y[t] == c)) for t in tests]
        assert max(per_fold) - min(per_fold) <= 1, per_fold  # stratified: balance within one row per class


@pytest.mark.parametrize("which", ["mr", "text-sim"])
def test_fold_fingerprints_are_deterministic(tmp_path, which):
    load = _loader(which, tmp_path)
    prints = [load(f).split.fingerprint for f in MR.FOLDS]
    assert prints == [load(f).split.fingerprint for f in MR.FOLDS]  # same seed, same folds
    assert len(set(prints)) == len(prints)  # another fold, another split
    again = [load(f, 1).split for f in ("fold1", "fold2")]
    assert again[0].fingerprint != prints[0] and again[1].fingerprint != prints[1]  # split seed 1 redraws
    assert again[0].fingerprint == load("fold1", 1).split.fingerprint
    assert again[0].sizes() == load("fold1").split.sizes()


def test_mr_folds_are_sklearns_stratified_kfold(mr_ctx):
    """The standard protocol exactly: test = StratifiedKFold(10, shuffle, random_state=seed)'s fold."""
    from sklearn.model_selection import StratifiedKFold

    for seed in (0, 3):
        ctx = LoadContext(mr_ctx.data_dir, mr_ctx.cache_dir, split_seed=seed)
        y = MR.MR().load("fold1", ctx).y
        folds = list(StratifiedKFold(10, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))
        for k in (1, 4, 10):
            np.testing.assert_array_equal(MR.MR().load(f"fold{k}", ctx).split.test, np.sort(folds[k - 1][1]))


def test_split_names_and_seeds():
    for cls in (MR.MR, SIM.TextSim):
        assert cls.splits == tuple(f"fold{k}" for k in range(1, 11)) == cls.seeded_splits
        with pytest.raises(KeyError, match="did you mean 'fold1'"):
            cls().check_split("fold11")
        with pytest.raises(SplitSeedError):
            cls().check_split_seed("fold1", -1)


# --------------------------------------------------------------------------------------------
# text-sim
# --------------------------------------------------------------------------------------------

def test_text_sim_card_and_task():
    task = SIM.TextSim().load(None)
    assert SIM.TextSim.synthetic and SIM.TextSim.embedded and task.synthetic
    assert "ynthetic" in SIM.TextSim.description and "synthetic" in task.description
    assert task.kind == "text-classification" and task.schema.n_classes == 2 and task.split.name == "fold1"
    assert task.categories == {"label": ["negative", "positive"]}
    assert task.X.dtype == object and len(task.X) == len(task.y) == 2000 and task.y.dtype == np.int64
    lengths = [len(t.split()) for t in task.X]
    assert min(lengths) >= 8 and max(lengths) <= 25
    assert abs(task.y.mean() - 0.5) < 0.03  # balanced before the label noise, which is symmetric
    words = {w for t in task.X for w in t.split()}
    assert {"not", "never", "very", ".", ","} <= words and words == {w.lower() for w in words}


def test_text_sim_is_deterministic_and_seeded():
    a, b = SIM.TextSim().load("fold2"), SIM.TextSim().load("fold2")
    assert list(a.X) == list(b.X) and np.array_equal(a.y, b.y) and a.split.fingerprint == b.split.fingerprint
    c = SIM.TextSim(seed=1).load("fold2")
    assert list(c.X) != list(a.X)


def test_text_sim_negation_flips_and_noise_is_about_five_percent():
    """Before the noise each label is the meaning of its phrases, negation included; the noise
    then flips about 5 % of the labels."""
    texts, noisy = SIM.generate(2000, seed=0)
    clean_texts, clean = SIM.generate(2000, seed=0, noise=0.0)
    assert list(texts) == list(clean_texts)
    assert 0.03 < np.mean(noisy != clean) < 0.07
    pos, neg = set(SIM.POSITIVE), set(SIM.NEGATIVE)

    def meaning(text: str) -> int:
        words, score, flip = text.split(), 0, 1
        for w in words:
            if w in SIM.NEGATIONS:
                flip = -1
            elif w in pos or w in neg:
                score += flip * (1 if w in pos else -1)
                flip = 1
        return int(score > 0)

    assert [meaning(t) for t in clean_texts] == list(clean)


def test_text_sim_word_order_beats_a_bag_of_words():
    """The design's point: unigram counts reach roughly 75-85 %, word pairs clearly more."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    task = SIM.TextSim().load("fold1")
    tr, te = task.part("train"), task.part("test")
    score = {}
    for ngrams in ((1, 1), (1, 2)):
        model = make_pipeline(CountVectorizer(ngram_range=ngrams, token_pattern=r"\S+"),
                              LogisticRegression(max_iter=2000)).fit(tr.X, tr.y)
        score[ngrams] = model.score(te.X, te.y)
    assert 0.70 <= score[(1, 1)] <= 0.88, score
    assert score[(1, 2)] >= score[(1, 1)] + 0.04, score


# --------------------------------------------------------------------------------------------
# The dataset contract checks
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("which", ["mr", "text-sim"])
def test_contract_checks_pass(tmp_path, which):
    cls = MR.MR if which == "mr" else SIM.TextSim
    if which == "mr":
        write_mr(tmp_path / "data")
    results = dataset_checks(cls, tmp_path / "data", tmp_path / "cache", splits=("fold1", "fold7"))
    failed = [f"{r.name}: {r.message}" for r in results if not r.ok]
    assert not failed
    assert {"card", "loads[fold1]", "same-split[fold7]", "split-seed[fold7]"} <= {r.name for r in results}
