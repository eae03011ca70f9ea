"""CIFAR-10's files: the official python archive (md5-checked, members checked, batches read
straight from it) or the image-folder copy, found in the data folder or downloaded; the decoded
arrays cached in the cache folder. See the package docstring."""
from __future__ import annotations

import hashlib
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np

from bench import FilesMissing
from bench.data import cache
from bench.data.download import download, download_root, verify
from bench.data.extract import tar_members

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
ARCHIVE = "cifar-10-python.tar.gz"
ARCHIVE_MD5 = "c58f30108f718f92721af3b95e74349a"
URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
PAGE = "https://www.cs.toronto.edu/~kriz/cifar.html"
BATCH_DIR = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
FOLDER = "cifar10"
CACHE_VERSION = 1

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # train_x, train_y, test_x, test_y


def _manual_steps(data_dir: Path) -> str:
    return (f"Download {URL} (see {PAGE}), check its md5 is {ARCHIVE_MD5}, and put it in the data "
            f"folder as {Path(data_dir) / ARCHIVE}, or put the image-folder copy at "
            f"{Path(data_dir) / FOLDER}/train/<class>/*.png and test/<class>/*.png (data folder: "
            f"--data-dir, or the BENCH_DATA environment variable).")


# -- the official python archive -----------------------------------------------------------------

def _unpickle_batch(raw: bytes, name: str, source: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        batch = pickle.loads(raw, encoding="bytes")
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
    except Exception as e:  # noqa: BLE001 - any damage is reported the same way
        raise ValueError(f"{source}: member {name} is not a CIFAR-10 batch ({type(e).__name__}: {e})") from e
    if data.ndim != 2 or data.shape[1] != 3072 or len(data) != len(labels):
        raise ValueError(f"{source}: member {name} has data {data.shape} and {len(labels)} labels; "
                         f"expected (n, 3072) and n labels")
    # rows are 1024 red, 1024 green, 1024 blue values, each plane row-major: to (n, 32, 32, 3)
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy(), labels


def read_archive(path: str | os.PathLike, md5: str | None = "official") -> Arrays:
    """The train and test arrays of the official archive, after its md5 (default: the official
    archive's, ``ARCHIVE_MD5``) and its members are checked."""
    path = Path(path)
    md5 = ARCHIVE_MD5 if md5 == "official" else md5
    if md5 is not None:
        verify(path, "md5", md5, f"Delete it and download it again: {URL}.")
    with tarfile.open(path, "r:gz") as tar:
        members = {m.name: m for m in tar_members(tar, path)}

        def read(name: str) -> tuple[np.ndarray, np.ndarray]:
            member = members.get(f"{BATCH_DIR}/{name}")
            if member is None or not member.isfile():
                raise ValueError(f"{path}: the archive has no {BATCH_DIR}/{name}")
            return _unpickle_batch(tar.extractfile(member).read(), name, path)

        train = [read(n) for n in TRAIN_BATCHES]
        test_x, test_y = read(TEST_BATCH)
    return np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train]), test_x, test_y


# -- the image-folder layout ---------------------------------------------------------------------

def _folder_files(root: Path, part: str) -> list[tuple[int, Path]]:
    base = root / part
    found = sorted(p.name for p in base.iterdir() if p.is_dir()) if base.is_dir() else []
    unknown = [c for c in found if c not in CLASSES]
    if unknown or not found:
        raise ValueError(f"{base}: expected one folder per class ({', '.join(CLASSES)}), found "
                         f"{', '.join(found) or 'none'}")
    files = []
    for label, cls in enumerate(CLASSES):
        folder = base / cls
        if folder.is_dir():
            files += [(label, folder / n) for n in sorted(os.listdir(folder)) if n.endswith(".png")]
    return files


def _decode(files: list[tuple[int, Path]]) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image

    x = np.empty((len(files), 32, 32, 3), dtype=np.uint8)
    for i, (_, path) in enumerate(files):
        with Image.open(path) as im:
            if im.size != (32, 32):
                raise ValueError(f"{path}: image is {im.size[0]}x{im.size[1]}; CIFAR-10 images are 32x32")
            x[i] = np.asarray(im.convert("RGB"), dtype=np.uint8)
    return x, np.array([label for label, _ in files], dtype=np.int64)


def read_image_folder(root: str | os.PathLike) -> Arrays:
    """Train and test arrays of ``root/train/<class>/*.png`` and ``root/test/<class>/*.png``."""
    root = Path(root)
    train_x, train_y = _decode(_folder_files(root, "train"))
    test_x, test_y = _decode(_folder_files(root, "test"))
    return train_x, train_y, test_x, test_y


def _folder_key(root: Path) -> str:
    h = hashlib.sha256(f"folder-v{CACHE_VERSION}".encode())
    for part in ("train", "test"):
        for label, path in _folder_files(root, part):
            st = path.stat()
            h.update(f"{part}/{label}/{path.name}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:24]


def _archive_key(path: Path) -> str:
    st = path.stat()
    return hashlib.sha256(f"archive-v{CACHE_VERSION}:{path.resolve()}:{st.st_size}:{st.st_mtime_ns}"
                          .encode()).hexdigest()[:24]

# -- cache ---------------------------------------------------------------------------------------

ARRAYS = ("train_x", "train_y", "test_x", "test_y")


def cached_arrays(cache_dir: Path | None, key: str, build) -> Arrays:
    """``build()`` once per key, kept as an uncompressed .npz of uint8 images and int64 labels."""
    path = None if cache_dir is None else Path(cache_dir) / "cifar10" / f"arrays-{key}.npz"
    return cache.cached_arrays(path, ARRAYS, build)


def downloads_enabled() -> bool:
    return os.environ.get("BENCH_CIFAR10_DOWNLOAD", "1").strip().lower() not in ("0", "no", "false", "off")


def locate(data_dir: Path, cache_dir: Path) -> tuple[str, Path]:
    """``("folder", path)`` or ``("archive", path)``: what is there, else a verified download."""
    data_dir, cache_dir = Path(data_dir), Path(cache_dir)
    if (data_dir / FOLDER / "train").is_dir() and (data_dir / FOLDER / "test").is_dir():
        return "folder", data_dir / FOLDER
    for root in (data_dir, cache_dir / "downloads"):
        if (root / ARCHIVE).is_file():
            return "archive", root / ARCHIVE
    if not downloads_enabled():
        raise FilesMissing(f"dataset cifar10: no {data_dir / FOLDER}/train and test folders and no "
                           f"{data_dir / ARCHIVE} (downloads are off: BENCH_CIFAR10_DOWNLOAD). "
                           + _manual_steps(data_dir))
    dest_root = download_root(data_dir, cache_dir, "dataset cifar10", _manual_steps(data_dir))
    url = os.environ.get("BENCH_CIFAR10_URL") or URL
    return "archive", download(url, dest_root / ARCHIVE, "md5", ARCHIVE_MD5, "dataset cifar10",
                               _manual_steps(data_dir))


def load_arrays(data_dir: Path, cache_dir: Path | None) -> Arrays:
    """The 50,000 train and 10,000 test images as uint8 arrays (cached after the first decode)."""
    kind, path = locate(data_dir, cache_dir or Path(data_dir))
    if kind == "folder":
        return cached_arrays(cache_dir, _folder_key(path), lambda: read_image_folder(path))
    # the cache key names this very file (path, size, mtime): a cache hit was built from it verified
    return cached_arrays(cache_dir, _archive_key(path), lambda: read_archive(path))

