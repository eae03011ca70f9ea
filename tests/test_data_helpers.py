"""bench.data helpers: one verified download (from a local server on 127.0.0.1), safe tar and zip
extraction, and the cache of converted data (keyed by the source files, read back only as data)."""
from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import os

import pandas as pd
import pytest

from bench import FilesMissing
from bench.data import cache
from bench.data.download import ChecksumMismatch, download, download_root, file_checksum, verify
from bench.data.extract import UnsafeArchive, extract_tar, extract_zip


@pytest.fixture
def server(file_server):
    """The shared local HTTP server (tests/conftest.py)."""
    return file_server


BODY = os.urandom(3 << 20)  # several read blocks


def test_download_keeps_a_file_with_the_pinned_checksum(server, tmp_path):
    server.files["/a.bin"] = BODY
    dest = tmp_path / "data" / "a.bin"
    got = download(f"{server.url}/a.bin", dest, "sha256", hashlib.sha256(BODY).hexdigest(), "test", "fix it")
    assert got == dest and dest.read_bytes() == BODY
    assert sorted(p.name for p in dest.parent.iterdir()) == ["a.bin"]  # no temporary file left
    assert file_checksum(dest, "md5") == hashlib.md5(BODY).hexdigest()
    verify(dest, "md5", hashlib.md5(BODY).hexdigest())


def test_a_bad_checksum_is_refused_named_and_deleted(server, tmp_path):
    server.files["/a.bin"] = BODY
    dest = tmp_path / "data" / "a.bin"
    dest.parent.mkdir()
    dest.write_bytes(b"the old copy")
    wrong = "0" * 32
    with pytest.raises(ChecksumMismatch) as info:
        download(f"{server.url}/a.bin", dest, "md5", wrong, "test", "Try another mirror.")
    msg = str(info.value)
    assert f"{server.url}/a.bin" in msg and str(dest) in msg and wrong in msg
    assert hashlib.md5(BODY).hexdigest() in msg and "Try another mirror." in msg
    assert dest.read_bytes() == b"the old copy"  # untouched: the download never replaced it
    assert sorted(p.name for p in dest.parent.iterdir()) == ["a.bin"]
    with pytest.raises(ChecksumMismatch, match="never opened"):
        verify(dest, "md5", wrong)


def test_a_failed_download_says_what_to_do(server, tmp_path):
    with pytest.raises(FilesMissing, match="404") as info:
        download(f"{server.url}/missing.bin", tmp_path / "m.bin", "md5", "0" * 32, "dataset x", "Put it there.")
    assert "dataset x" in str(info.value) and "Put it there." in str(info.value)
    assert not list(tmp_path.iterdir())


def test_download_root_falls_back_to_a_private_cache_folder(tmp_path):
    data = tmp_path / "data"
    assert download_root(data, tmp_path / "cache", "x", "") == data
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the data folder should be: nothing can be written there")
    got = download_root(blocked, tmp_path / "cache", "x", "")
    assert got == tmp_path / "cache" / "downloads" and (got.stat().st_mode & 0o777) == 0o700
    (tmp_path / "cache2").write_text("")
    with pytest.raises(FilesMissing, match="neither .* nor .* is writable.*Put it there"):
        download_root(blocked, tmp_path / "cache2", "x", "Put it there.")


def _tar(path: Path, members: dict[str, bytes], link: str | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, body in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
        if link:
            info = tarfile.TarInfo(link)
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(info)
    return path


def test_tar_extraction_puts_the_folder_in_place(tmp_path):
    archive = _tar(tmp_path / "r.tar.gz", {"rel/a.txt": b"a", "rel/sub/b.txt": b"b"})
    out = extract_tar(archive, tmp_path / "data", "rel")
    assert out == tmp_path / "data" / "rel"
    assert (out / "a.txt").read_bytes() == b"a" and (out / "sub" / "b.txt").read_bytes() == b"b"
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["rel"]


@pytest.mark.parametrize("bad", ["rel/../../evil.txt", "/tmp/evil.txt", "link"])
def test_tar_with_an_unsafe_member_is_refused(tmp_path, bad):
    members = {"rel/a.txt": b"a"}
    if bad != "link":
        members[bad] = b"pwned"
    archive = _tar(tmp_path / "r.tar.gz", members, link="rel/link" if bad == "link" else None)
    (tmp_path / "data").mkdir()
    with pytest.raises(UnsafeArchive, match="refused archive member"):
        extract_tar(archive, tmp_path / "data", "rel")
    assert not list((tmp_path / "data").iterdir()) and not list(tmp_path.rglob("evil.txt"))


@pytest.mark.parametrize("bad", ["rel/../../evil.txt", "/tmp/evil.txt", "..\\evil.txt", "C:/evil.txt", "link"])
def test_zip_with_an_unsafe_member_is_refused(tmp_path, bad):
    path = tmp_path / "r.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("rel/a.txt", b"a")
        if bad == "link":
            info = zipfile.ZipInfo("rel/link")
            info.external_attr = 0o120777 << 16
            zf.writestr(info, "/etc/passwd")
        else:
            zf.writestr(bad, b"pwned")
    (tmp_path / "data").mkdir()
    with pytest.raises(UnsafeArchive, match="refused archive member"):
        extract_zip(path, tmp_path / "data", "rel")
    assert not list((tmp_path / "data").iterdir()) and not list(tmp_path.rglob("evil.txt"))


def test_zip_extraction_checks_a_required_file(tmp_path):
    path = tmp_path / "r.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("rel/a.txt", b"a")
    with pytest.raises(ValueError, match="has no rel/ratings.csv"):
        extract_zip(path, tmp_path / "data", "rel", required="ratings.csv")
    assert extract_zip(path, tmp_path / "data", "rel", required="a.txt") == tmp_path / "data" / "rel"
    with pytest.raises(UnsafeArchive, match="GiB"):
        extract_zip(path, tmp_path / "data2", "rel", max_bytes=0)


def test_source_key_follows_the_files_and_the_version(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("1,2\n")
    key = cache.source_key("t-v1", [a, b])
    assert cache.source_key("t-v1", [a, b]) == key and len(key) == 24
    assert cache.source_key("t-v2", [a, b]) != key  # a new format version
    b.write_text("x")
    assert cache.source_key("t-v1", [a, b]) != key  # an optional file appeared
    b.unlink()
    a.write_text("1,3\n")
    assert cache.source_key("t-v1", [a, b]) != key  # a changed file


def test_cached_frame_is_built_once_and_rebuilt_when_damaged(tmp_path):
    path = tmp_path / "cache" / "t" / "k.parquet"
    frame = pd.DataFrame({"a": np.arange(5), "b": list("abcde")})
    calls = []
    first = cache.cached_frame(path, lambda: calls.append(1) or frame)
    second = cache.cached_frame(path, lambda: calls.append(1) or frame)
    assert calls == [1] and second.equals(frame) and first is frame
    assert (path.parent.stat().st_mode & 0o777) == 0o700 and not list(path.parent.glob(".*"))
    path.write_bytes(b"not parquet")
    with pytest.warns(UserWarning, match="unreadable cache"):
        third = cache.cached_frame(path, lambda: calls.append(1) or frame)
    assert calls == [1, 1] and third.equals(frame)
    assert cache.cached_frame(None, lambda: "built") == "built"


def test_cached_arrays_never_unpickle_and_never_follow_a_link(tmp_path):
    path = tmp_path / "c" / "arrays.npz"
    path.parent.mkdir()
    np.savez(path, x=np.array([object()], dtype=object))  # needs pickle to load
    with pytest.warns(UserWarning, match=str(path)):
        got = cache.cached_arrays(path, ("x",), lambda: (np.arange(3),))
    assert np.array_equal(got[0], np.arange(3))
    assert np.array_equal(cache.cached_arrays(path, ("x",), lambda: pytest.fail("rebuilt"))[0], np.arange(3))
    target = tmp_path / "outside.npz"
    np.savez(target, x=np.arange(7))
    path.unlink()
    path.symlink_to(target)
    with pytest.warns(UserWarning, match="symbolic link"):
        got = cache.cached_arrays(path, ("x",), lambda: (np.arange(3),))
    assert len(got[0]) == 3 and not path.is_symlink() and len(np.load(target)["x"]) == 7
