"""Where IMDB's reviews come from: the aclImdb folder in the data folder (or a previous download
in the cache folder), else the official archive, checksum-verified and then safely extracted."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from bench import FilesMissing
from bench.data.download import ChecksumMismatch, download, download_root, verify
from bench.data.extract import extract_tar

FOLDER = "aclImdb"
ARCHIVE = "aclImdb_v1.tar.gz"
URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
PAGE = "https://ai.stanford.edu/~amaas/data/sentiment/"
# The archive's digests, both checked before it is opened. md5: torchtext's IMDB definition
# (pytorch/text, torchtext/datasets/imdb.py, MD5 = "7c2ac02c..."; PaddlePaddle's loader pins the
# same); sha256: the digest other loaders pin for this URL (e.g. the LargeMovieReviewDataset
# DataDeps registration in Julia). The archive has been unchanged since 2011.
CHECKSUMS = {"sha256": "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe",
             "md5": "7c2ac02c03563afcf9b574c7e56c153a"}
PARTS = ("train", "test")
LABEL_FOLDERS = ("neg", "pos")  # label 0, 1
UNSUP = ("train", "unsup")
NEEDED = tuple(f"{part}/{label}" for part in PARTS for label in LABEL_FOLDERS)


def url() -> str:
    """``BENCH_IMDB_URL`` (a mirror, or a local server in tests) when set, else the official URL."""
    return os.environ.get("BENCH_IMDB_URL") or URL


def downloads_enabled() -> bool:
    return os.environ.get("BENCH_IMDB_DOWNLOAD", "1").strip().lower() not in ("0", "no", "false", "off")


def manual_steps(data_dir: Path) -> str:
    return (f"Download {URL} (see {PAGE}), check its sha256 is {CHECKSUMS['sha256']}, and put it in the "
            f"data folder as {Path(data_dir) / ARCHIVE} (bench verifies and unpacks it), or unpack it "
            f"there yourself so that {Path(data_dir) / FOLDER}/train/pos exists (data folder: --data-dir, "
            f"or the BENCH_DATA environment variable).")


def missing(folder: Path) -> list[Path]:
    """The labelled-review folders that ``folder`` lacks."""
    return [folder / sub for sub in NEEDED if not (folder / sub).is_dir()]


def verify_archive(path: Path, data_dir: Path) -> None:
    """ChecksumMismatch unless ``path`` has every pinned digest (checked before it is opened)."""
    fix = f"Delete it and get the archive again. {manual_steps(data_dir)}"
    for algo, expected in CHECKSUMS.items():
        verify(path, algo, expected, fix)


def unpack(archive: Path, dest_root: Path, data_dir: Path) -> Path:
    """Extract a verified archive into ``<dest_root>/aclImdb`` (members checked first: no absolute
    path, no ``..``, no link, or nothing is written); returns that folder."""
    folder = extract_tar(archive, dest_root, FOLDER)
    lacking = missing(folder)
    if lacking:
        raise FilesMissing(f"dataset imdb: {archive} unpacked into {folder}, which lacks "
                           f"{', '.join(map(str, lacking))}: not the IMDB release. {manual_steps(data_dir)}")
    return folder


def locate(data_dir: Path, cache_dir: Path) -> Path:
    """The aclImdb folder: the data folder's, a previous download's, or one unpacked now from a
    verified archive (the data folder's, or a fresh download)."""
    data_dir, cache_dir = Path(data_dir), Path(cache_dir)
    roots = (data_dir, cache_dir / "downloads")
    for root in roots:
        folder = root / FOLDER
        if folder.is_dir():
            lacking = missing(folder)
            if lacking:  # a partial copy: say what is missing, never unpack or download over it
                raise FilesMissing(f"dataset imdb: {folder} lacks {', '.join(map(str, lacking))}. "
                                   f"{manual_steps(data_dir)}")
            return folder
    steps = manual_steps(data_dir)
    for root in roots:
        if (root / ARCHIVE).is_file():
            verify_archive(root / ARCHIVE, data_dir)
            return unpack(root / ARCHIVE, download_root(data_dir, cache_dir, "dataset imdb", steps), data_dir)
    if not downloads_enabled():
        raise FilesMissing(f"dataset imdb: no {data_dir / FOLDER} and no {data_dir / ARCHIVE} (downloads are "
                           f"off: BENCH_IMDB_DOWNLOAD). {steps}")
    dest_root = download_root(data_dir, cache_dir, "dataset imdb", steps)
    algo, expected = next(iter(CHECKSUMS.items()))
    with tempfile.TemporaryDirectory(dir=dest_root, prefix=f".{FOLDER}.download-") as tmp:
        archive = download(url(), Path(tmp) / ARCHIVE, algo, expected, "dataset imdb", steps)
        verify_archive(archive, data_dir)  # the other pinned digests too
        return unpack(archive, dest_root, data_dir)


__all__ = ["ARCHIVE", "CHECKSUMS", "FOLDER", "PAGE", "URL", "ChecksumMismatch", "downloads_enabled", "locate",
           "manual_steps", "missing", "unpack", "url", "verify_archive"]
