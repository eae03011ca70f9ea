"""MovieLens' verified download: ``<release>.zip`` from GroupLens, checked against its pinned
checksum, extracted with path-traversal protection into the data folder (or the cache folder)."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from bench import FilesMissing
from bench.data.download import download, download_root
from bench.data.extract import extract_zip

from .releases import CHECKSUMS, PAGE, RATINGS_FILE, URL_BASE, check_release

MAX_UNPACKED_BYTES = 8 << 30  # refuse archives that claim to unpack to more (ml-25m: ~1.2 GB)


def url_base() -> str:
    """``BENCH_MOVIELENS_URL`` when set, else the module attribute ``URL_BASE``."""
    return (os.environ.get("BENCH_MOVIELENS_URL") or URL_BASE).rstrip("/")


def downloads_enabled() -> bool:
    return os.environ.get("BENCH_MOVIELENS_DOWNLOAD", "1").strip().lower() not in ("0", "no", "false", "off")


def manual_steps(release: str, dest: Path) -> str:
    checksum = CHECKSUMS.get(release)
    check = (f"check its {checksum[0]} is {checksum[1]}" if checksum else
             f"check it against {release}.zip.md5, published beside it")
    return (f"Download {URL_BASE}/{release}.zip (see {PAGE}), {check}, and unzip it into the data "
            f"folder so that {dest / release / RATINGS_FILE[release]} exists (data folder: --data-dir, "
            f"or the BENCH_DATA environment variable).")


def safe_extract(zip_path: str | os.PathLike, dest_root: str | os.PathLike, release: str) -> Path:
    """Extract ``zip_path`` (members ``<release>/...``) so that ``<dest_root>/<release>/`` holds
    the release (see ``bench.data.extract.extract_zip``). Returns the folder."""
    return extract_zip(zip_path, dest_root, release, required=RATINGS_FILE[release],
                       max_bytes=MAX_UNPACKED_BYTES)


def download_release(release: str, data_dir: str | os.PathLike, cache_dir: str | os.PathLike) -> Path:
    """Download ``<release>.zip``, verify its pinned checksum, extract it into the data folder
    (or ``<cache_dir>/downloads/`` when the data folder is not writable); returns the folder."""
    check_release(release)
    data_dir, cache_dir = Path(data_dir), Path(cache_dir)
    url = f"{url_base()}/{release}.zip"
    pinned = CHECKSUMS.get(release)
    pinned = CHECKSUMS.get(release)
    if pinned is None:
        raise FilesMissing(
            f"dataset movielens: {release} is not in {data_dir / release} and is not downloaded "
            f"automatically: GroupLens re-issues that archive, so no checksum is pinned here and an "
            f"unverified download is refused. {manual_steps(release, data_dir)}")
    steps = manual_steps(release, data_dir)
    dest_root = download_root(data_dir, cache_dir, "dataset movielens", steps)
    algo, expected = pinned
    with tempfile.TemporaryDirectory(dir=dest_root, prefix=f".{release}.download-") as tmp:
        archive = download(url, Path(tmp) / f"{release}.zip", algo, expected, "dataset movielens", steps)
        return safe_extract(archive, dest_root, release)
