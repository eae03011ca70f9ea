"""Tests of datasets/imdb/: the aclImdb layout, the text cleanup, the split, the parquet cache and
the verified download and safe extraction of the official archive.

Everything is built here: a tiny ``aclImdb_v1.tar.gz`` in the release's exact layout (a few reviews
per folder, ``train/unsup`` included), served by a local HTTP server on 127.0.0.1; nothing needs the
real data or the network (the download URL is a closed local port unless a test serves it).
"""
from __future__ import annotations

import hashlib
import importlib
import io
import os
import socket
import tarfile
from pathlib import Path

import numpy as np
import pytest

import bench.data.download
from bench import FilesMissing, LoadContext
from bench.data.download import ChecksumMismatch
from bench.data.extract import UnsafeArchive
from bench.plugins.dataset_checks import dataset_checks
from bench.plugins.registry import load_file

ROOT = Path(__file__).resolve().parents[1]
M = load_file(ROOT / "datasets" / "imdb")  # by path, as the registry loads it
F = importlib.import_module(f"{M.__name__}.files")
R = importlib.import_module(f"{M.__name__}.read")
ARCHIVE_PATH = "/imdb/aclImdb_v1.tar.gz"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """No test ever reaches Stanford: the URL is a closed local port unless a test serves it."""
    monkeypatch.setenv("BENCH_IMDB_URL", f"http://127.0.0.1:{_closed_port()}{ARCHIVE_PATH}")
    monkeypatch.delenv("BENCH_IMDB_DOWNLOAD", raising=False)


# --------------------------------------------------------------------------------------------
# A tiny release in the exact layout
# --------------------------------------------------------------------------------------------

# (part, label folder) -> {id: (rating, raw text)}; ids chosen so that numeric and string order
# differ (2 < 10), several texts with <br /> line breaks, capitals and punctuation
def _reviews() -> dict[tuple[str, str], dict[int, tuple[int, str]]]:
    out: dict[tuple[str, str], dict[int, tuple[int, str]]] = {}
    for part, n in (("train", 12), ("test", 3)):
        for sub, ratings in (("neg", (1, 2, 3, 4)), ("pos", (7, 8, 9, 10))):
            ids = [2, 10, 0] + list(range(11, 11 + n - 3))
            out[(part, sub)] = {
                rid: (ratings[rid % 4], f"{part.upper()} {sub} Review #{rid}: Not bad,<br /><br />really!"
                                        f" It's a so-so (8/10) film.")
                for rid in ids}
    out[("train", "unsup")] = {rid: (0, f"Unlabelled review {rid}.<br />Who knows?") for rid in range(5)}
    return out


REVIEWS = _reviews()
N_TRAIN, N_TEST, N_UNSUP = 24, 6, 5


def expected_rows() -> list[tuple[int, int, int, str]]:
    """(part, label, id, raw text) in the order the task must have: train then test, neg then pos, by id."""
    rows = []
    for p, part in enumerate(("train", "test")):
        for label, sub in enumerate(("neg", "pos")):
            rows += [(p, label, rid, REVIEWS[(part, sub)][rid][1]) for rid in sorted(REVIEWS[(part, sub)])]
    return rows


def write_folder(root: Path) -> Path:
    """``<root>/aclImdb`` as the archive unpacks (plus the files beside the reviews)."""
    base = root / "aclImdb"
    for (part, sub), reviews in REVIEWS.items():
        (base / part / sub).mkdir(parents=True, exist_ok=True)
        for rid, (rating, text) in reviews.items():
            (base / part / sub / f"{rid}_{rating}.txt").write_text(text, encoding="utf-8")
    (base / "README").write_text("Large Movie Review Dataset v1.0\n")
    (base / "imdb.vocab").write_text("the\nand\n")
    (base / "train" / "urls_pos.txt").write_text("http://www.imdb.com/title/tt0453418/usercomments\n")
    return base


def make_archive(tmp_path: Path, extra: dict[str, bytes] | None = None) -> bytes:
    """aclImdb_v1.tar.gz: every folder and file under aclImdb/, in the order a directory walk
    gives (not sorted), and ``extra`` members (name -> bytes) appended as they are."""
    src = tmp_path / "archive-src"
    write_folder(src)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(src / "aclImdb", arcname="aclImdb")
        for name, body in (extra or {}).items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return buf.getvalue()


def pin(monkeypatch, body: bytes) -> None:
    monkeypatch.setitem(F.CHECKSUMS, "sha256", hashlib.sha256(body).hexdigest())
    monkeypatch.setitem(F.CHECKSUMS, "md5", hashlib.md5(body).hexdigest())


@pytest.fixture
def server(file_server, monkeypatch):
    monkeypatch.setenv("BENCH_IMDB_URL", file_server.url + ARCHIVE_PATH)
    return file_server


def ctx_for(tmp_path: Path, data: str = "data", split_seed: int = 0) -> LoadContext:
    return LoadContext(tmp_path / data, tmp_path / "cache", split_seed=split_seed)


def check_task(task) -> None:
    rows = expected_rows()
    assert task.dataset == "imdb" and task.kind == "text-classification" and task.target == "label"
    assert task.schema.n_classes == 2 and task.categories == {"label": ["negative", "positive"]}
    assert task.X.dtype == object and task.X.ndim == 1 and task.y.dtype == np.int64
    assert list(task.y) == [label for _, label, _, _ in rows]
    assert list(task.X) == [R.clean(text) for *_, text in rows]
    assert task.X[0] == "train neg review # 0 : not bad , really ! it's a so-so ( 8 / 10 ) film ."
    assert f"{N_UNSUP:,} unlabelled" in task.description and f"{N_TRAIN:,} train / {N_TEST:,} test" in task.description


# --------------------------------------------------------------------------------------------
# Text, rows, split, cache
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, cleaned", [
    ("Great!<br /><br />Loved it.", "great ! loved it ."),
    ("A <BR/>so-so film; don't \"bother\"...", "a so-so film ; don't \" bother \" . . ."),
    ("  Many\tspaces\n\nand lines  ", "many spaces and lines"),
    ("Café (1999) -- 10/10!", "café ( 1999 ) -- 10 / 10 !"),
])
def test_clean(raw, cleaned):
    assert R.clean(raw) == cleaned
    assert R.clean(raw).split() == cleaned.split() and "<br" not in R.clean(raw)


def test_folder_rows_order_and_split(tmp_path):
    write_folder(tmp_path / "data")
    task = M.IMDB().load(None, ctx_for(tmp_path))
    check_task(task)
    s = task.split
    assert s.name == "official"
    np.testing.assert_array_equal(s.test, np.arange(N_TRAIN, N_TRAIN + N_TEST))  # the official test reviews
    assert len(s.valid) == 3 and sorted(task.y[s.valid].tolist()) in ([0, 1, 1], [0, 0, 1])  # 10 %, stratified
    both = np.concatenate([s.train, s.valid])
    assert sorted(both.tolist()) == list(range(N_TRAIN))
    other = M.IMDB().load(None, ctx_for(tmp_path, split_seed=1)).split
    assert other.fingerprint != s.fingerprint and other.sizes() == s.sizes()
    np.testing.assert_array_equal(other.test, s.test)  # a split seed redraws valid only
    assert M.IMDB().load(None, ctx_for(tmp_path)).split.fingerprint == s.fingerprint


def test_parquet_cache_is_used_and_follows_the_files(tmp_path, monkeypatch):
    base = write_folder(tmp_path / "data")
    first = M.IMDB().load(None, ctx_for(tmp_path))
    cached = list((tmp_path / "cache" / "imdb").glob("reviews-*.parquet"))
    assert len(cached) == 1 and not list((tmp_path / "cache").rglob("*.pkl"))
    with monkeypatch.context() as m:
        m.setattr(R, "read_reviews", lambda folder: (_ for _ in ()).throw(AssertionError("not cached")))
        again = M.IMDB().load(None, ctx_for(tmp_path))
    assert list(again.X) == list(first.X)
    (base / "test" / "pos" / "0_7.txt").write_text("Changed: now TERRIBLE.", encoding="utf-8")
    changed = M.IMDB().load(None, ctx_for(tmp_path))
    assert "changed : now terrible ." in set(changed.X)
    assert len(list((tmp_path / "cache" / "imdb").glob("reviews-*.parquet"))) == 2


def test_not_utf8_review_is_named(tmp_path):
    base = write_folder(tmp_path / "data")
    bad = base / "train" / "neg" / "2_3.txt"
    bad.write_bytes(b"caf\xe9 in latin-1")
    with pytest.raises(ValueError, match="not UTF-8") as e:
        M.IMDB().load(None, ctx_for(tmp_path))
    assert str(bad) in str(e.value)


def test_contract_checks_pass(tmp_path):
    write_folder(tmp_path / "data")
    results = dataset_checks(M.IMDB, tmp_path / "data", tmp_path / "cache")
    assert [f"{r.name}: {r.message}" for r in results if not r.ok] == []
    assert "split-seed[official]" in {r.name for r in results}


# --------------------------------------------------------------------------------------------
# The official archive: verified, then safely extracted
# --------------------------------------------------------------------------------------------

def test_download_verified_extracted_and_loaded(tmp_path, server, monkeypatch):
    body = make_archive(tmp_path)
    server.files[ARCHIVE_PATH] = body
    pin(monkeypatch, body)
    assert M.IMDB().missing_files(tmp_path / "data")  # nothing there yet: the checks would skip
    task = M.IMDB().load(None, ctx_for(tmp_path))
    assert server.requests == [ARCHIVE_PATH]
    check_task(task)
    folder = tmp_path / "data" / "aclImdb"
    assert (folder / "train" / "unsup" / "3_0.txt").read_text() == REVIEWS[("train", "unsup")][3][1]
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["aclImdb"]  # no archive or temp left
    M.IMDB().load(None, ctx_for(tmp_path))
    assert len(server.requests) == 1  # the unpacked folder is used the second time
    assert M.IMDB().missing_files(tmp_path / "data") == []


@pytest.mark.parametrize("wrong", ["sha256", "md5"])
def test_checksum_mismatch_refused_and_nothing_extracted(tmp_path, server, monkeypatch, wrong):
    body = make_archive(tmp_path)
    server.files[ARCHIVE_PATH] = body
    pin(monkeypatch, body)
    monkeypatch.setitem(F.CHECKSUMS, wrong, "0" * len(F.CHECKSUMS[wrong]))
    with pytest.raises(ChecksumMismatch, match="0" * 32):
        M.IMDB().load(None, ctx_for(tmp_path))
    assert server.requests == [ARCHIVE_PATH]
    assert not list((tmp_path / "data").iterdir())  # refused download deleted, nothing unpacked
    assert not (tmp_path / "cache" / "downloads" / "aclImdb").exists()


def test_the_pinned_checksums_are_the_official_archives():
    assert F.CHECKSUMS == {"sha256": "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe",
                           "md5": "7c2ac02c03563afcf9b574c7e56c153a"}
    assert F.URL == "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"


@pytest.mark.parametrize("member", ["../evil.txt", "aclImdb/../../evil.txt", "/tmp/bench-imdb-evil.txt"])
def test_traversal_member_refused(tmp_path, server, monkeypatch, member):
    body = make_archive(tmp_path, extra={member: b"pwned"})
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        assert member in tar.getnames()  # the archive really holds the bad name
    server.files[ARCHIVE_PATH] = body
    pin(monkeypatch, body)  # the checksum passes: the members are what is refused
    (tmp_path / "data").mkdir()
    with pytest.raises(UnsafeArchive, match="refused archive member"):
        M.IMDB().load(None, ctx_for(tmp_path))
    assert not list((tmp_path / "data").iterdir())  # nothing extracted, nothing left behind
    assert not list(tmp_path.rglob("evil.txt")) and not os.path.exists("/tmp/bench-imdb-evil.txt")


def test_archive_in_the_data_folder_is_verified_then_unpacked(tmp_path, monkeypatch):
    body = make_archive(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / F.ARCHIVE).write_bytes(body)
    assert M.IMDB().missing_files(tmp_path / "data") == []
    with pytest.raises(ChecksumMismatch, match="c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"):
        M.IMDB().load(None, ctx_for(tmp_path))  # not the official archive: refused, never opened
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == [F.ARCHIVE]
    pin(monkeypatch, body)
    check_task(M.IMDB().load(None, ctx_for(tmp_path)))  # offline: the URL is a closed port
    assert (tmp_path / "data" / "aclImdb" / "test" / "pos").is_dir()


def test_read_only_data_folder_unpacks_into_the_cache(tmp_path, server, monkeypatch):
    body = make_archive(tmp_path)
    server.files[ARCHIVE_PATH] = body
    pin(monkeypatch, body)
    data_dir = tmp_path / "readonly-data"
    real_writable = bench.data.download.writable
    monkeypatch.setattr(bench.data.download, "writable",
                        lambda p, private=False: Path(p) != data_dir and real_writable(Path(p), private))
    check_task(M.IMDB().load(None, ctx_for(tmp_path, "readonly-data")))
    assert (tmp_path / "cache" / "downloads" / "aclImdb" / "train" / "pos").is_dir()
    assert not data_dir.exists() or not list(data_dir.iterdir())
    M.IMDB().load(None, ctx_for(tmp_path, "readonly-data"))
    assert len(server.requests) == 1


def test_offline_or_downloads_off_is_files_missing(tmp_path, monkeypatch):
    with pytest.raises(FilesMissing) as e:  # downloads on, the URL a closed port
        M.IMDB().load(None, ctx_for(tmp_path))
    assert "failed" in str(e.value) and F.URL in str(e.value)
    monkeypatch.setenv("BENCH_IMDB_DOWNLOAD", "0")
    with pytest.raises(FilesMissing) as e:
        M.IMDB().load(None, ctx_for(tmp_path))
    msg = str(e.value)
    assert "BENCH_IMDB_DOWNLOAD" in msg and F.URL in msg and F.CHECKSUMS["sha256"] in msg
    with pytest.raises(FilesMissing, match="aclImdb"):
        M.IMDB().require_files(tmp_path / "data")  # what the contract checks call before loading


def test_partial_folder_is_never_downloaded_over(tmp_path, server):
    base = write_folder(tmp_path / "data")
    for f in (base / "test" / "neg").iterdir():
        f.unlink()
    (base / "test" / "neg").rmdir()
    with pytest.raises(FilesMissing, match="test/neg"):
        M.IMDB().load(None, ctx_for(tmp_path))
    assert server.requests == []
