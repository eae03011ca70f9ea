"""CIFAR-10 (Krizhevsky 2009): 60,000 32x32 colour images in 10 classes, 50,000 train / 10,000 test.

Two published layouts are read from the data folder, the first one present wins:

* the image-folder copy ``<data dir>/cifar10/train/<class>/*.png`` and ``test/<class>/*.png``
  (rows ordered by class, then file name);
* the official python archive ``<data dir>/cifar-10-python.tar.gz`` (md5
  c58f30108f718f92721af3b95e74349a): its md5 is checked before anything in it is read, every
  member is checked (no absolute paths, no ``..``, no links: the archive is refused otherwise),
  and the pickled batches are then read straight from the archive (``data_batch_1..5``,
  ``test_batch``; rows in batch order), never written out.

When neither is there and downloads are on (``BENCH_CIFAR10_DOWNLOAD``, default on), the
archive is downloaded from its official address (``BENCH_CIFAR10_URL`` overrides it, for
tests and mirrors), md5-checked, and kept in the data folder, or in ``<cache dir>/downloads/``
when the data folder is read-only. Offline, a :class:`bench.FilesMissing` says what to do.
The decoded images are cached as uint8 arrays in ``<cache dir>/cifar10/``, keyed by the source
files (names, sizes, modification times), so the PNGs are decoded once.

Task: kind ``image-classification``, X = uint8 array (N, 32, 32, 3) of train then test rows,
y = class index (0 airplane .. 9 truck). Split ``official``: test = the 10,000 test images;
valid = a seeded ``valid_size`` (5,000) of the train images, the same number per class;
train = the other 45,000. ``train_per_class`` / ``test_per_class`` keep a seeded subset of that
many images per class (quick runs); every choice is part of the split fingerprint. The draws
use the split seed (0 by default; a suite's ``split_seeds`` redraws valid and the subsets, the
test images stay the official ones).
"""
from __future__ import annotations

import hashlib
import os
import pickle
import tarfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from bench import Dataset, FilesMissing, LoadContext, Schema, Split, Task
from bench.data.archive import ChecksumMismatch, check_tar_members, download_verified, verify, writable
from bench.data.paths import atomic_write, open_nofollow, private_dir

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
ARCHIVE = "cifar-10-python.tar.gz"
ARCHIVE_MD5 = "c58f30108f718f92721af3b95e74349a"
URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
PAGE = "https://www.cs.toronto.edu/~kriz/cifar.html"
BATCH_DIR = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
FOLDER = "cifar10"
SPLIT_SEED = 0  # the default split seed (valid set and subsets); never a run's (model) seed
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
        members = {m.name: m for m in check_tar_members(tar, path)}

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

def cached_arrays(cache_dir: Path | None, key: str, build) -> Arrays:
    """``build()`` once per key, kept as an uncompressed .npz of uint8 images and int64 labels."""
    if cache_dir is None:
        return build()
    path = Path(cache_dir) / "cifar10" / f"arrays-{key}.npz"
    if os.path.lexists(path):
        try:  # plain arrays only: allow_pickle=False, and never read through a planted link
            with open_nofollow(path) as f, np.load(f, allow_pickle=False) as z:
                return z["train_x"], z["train_y"], z["test_x"], z["test_y"]
        except Exception as e:  # noqa: BLE001 - a damaged cache file is rebuilt
            warnings.warn(f"{path}: unreadable cache ({e}); rebuilding it", stacklevel=2)
    arrays = build()
    try:
        private_dir(path.parent)
        with atomic_write(path) as f:
            np.savez(f, **dict(zip(("train_x", "train_y", "test_x", "test_y"), arrays)))
    except OSError as e:
        warnings.warn(f"cannot write the cache file {path} ({e}); going on without it", stacklevel=2)
    return arrays


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
    dest_root = data_dir if writable(data_dir) else cache_dir / "downloads"
    if not writable(dest_root, private=dest_root != data_dir):
        raise FilesMissing(f"dataset cifar10: neither {data_dir} nor {dest_root} is writable, so the "
                           f"archive cannot be downloaded. " + _manual_steps(data_dir))
    url = os.environ.get("BENCH_CIFAR10_URL") or URL
    return "archive", download_verified(url, dest_root / ARCHIVE, "md5", ARCHIVE_MD5, "dataset cifar10",
                                        _manual_steps(data_dir))


def load_arrays(data_dir: Path, cache_dir: Path | None) -> Arrays:
    """The 50,000 train and 10,000 test images as uint8 arrays (cached after the first decode)."""
    kind, path = locate(data_dir, cache_dir or Path(data_dir))
    if kind == "folder":
        return cached_arrays(cache_dir, _folder_key(path), lambda: read_image_folder(path))
    # the cache key names this very file (path, size, mtime): a cache hit was built from it verified
    return cached_arrays(cache_dir, _archive_key(path), lambda: read_archive(path))


# -- the split and the task ----------------------------------------------------------------------

def _per_class(rows: np.ndarray, labels: np.ndarray, k: int | None, rng: np.random.Generator) -> np.ndarray:
    """A seeded ``k`` rows of each class (all rows when ``k`` is None), as sorted positions."""
    if k is None:
        return np.sort(rows)
    keep = []
    for c in np.unique(labels[rows]):
        of_class = rows[labels[rows] == c]
        if k > len(of_class):
            raise ValueError(f"cifar10: {k} images per class asked for, class {c} has {len(of_class)}")
        keep.append(rng.permutation(of_class)[:k])
    return np.sort(np.concatenate(keep))


def make_split(train_y: np.ndarray, test_y: np.ndarray, valid_size: int = 5000,
               train_per_class: int | None = None, test_per_class: int | None = None,
               split_seed: int = SPLIT_SEED) -> Split:
    """Positions into train rows followed by test rows (see the module docstring)."""
    n_classes = int(max(train_y.max(), test_y.max())) + 1
    rng = np.random.default_rng(split_seed)
    all_train = np.arange(len(train_y))
    valid = _per_class(all_train, train_y, valid_size // n_classes, rng) if valid_size else all_train[:0]
    rest = np.setdiff1d(all_train, valid)
    train = _per_class(rest, train_y, train_per_class, rng)
    test = _per_class(np.arange(len(test_y)), test_y, test_per_class, rng) + len(train_y)
    return Split("official", train, valid, test)


def build_task(arrays: Arrays, valid_size: int = 5000, train_per_class: int | None = None,
               test_per_class: int | None = None, dataset: str = "cifar10",
               split_seed: int = SPLIT_SEED) -> Task:
    train_x, train_y, test_x, test_y = arrays
    split = make_split(train_y, test_y, valid_size, train_per_class, test_per_class, split_seed)
    X = np.concatenate([train_x, test_x])
    y = np.concatenate([train_y, test_y])
    s = split.sizes()
    return Task(dataset=dataset, kind="image-classification", target="label", metrics=("accuracy",),
                schema=Schema(image_shape=tuple(train_x.shape[1:]), n_classes=len(CLASSES)), X=X, y=y,
                split=split, description=(f"CIFAR-10: {len(train_y):,} train / {len(test_y):,} test "
                                          f"32x32 colour images, 10 classes; split official: train "
                                          f"{s['train']:,}, valid {s['valid']:,}, test {s['test']:,}"),
                categories={"label": list(CLASSES)})


class Cifar10(Dataset):
    name = "cifar10"
    kind = "image-classification"
    target = "label"
    metrics = ("accuracy",)
    splits = ("official",)
    seeded_splits = ("official",)  # the valid draw and the per-class subsets; test is the official one
    folder = FOLDER
    files = ("train", "test")
    defaults = {"valid_size": 5000, "train_per_class": None, "test_per_class": None}
    description = ("CIFAR-10: 60,000 32x32 colour images, 10 classes; official 50,000 / 10,000 split "
                   "with a fixed seeded 5,000-image valid set from train; train_per_class / "
                   "test_per_class for quick subsets")
    how_to_get = (f"The official python archive {ARCHIVE} ({URL}, md5 {ARCHIVE_MD5}; downloaded and "
                  f"checked automatically when online, BENCH_CIFAR10_DOWNLOAD=0 turns that off), or the "
                  f"image-folder copy cifar10/train/<class>/*.png, cifar10/test/<class>/*.png.")

    def missing_files(self, data_dir: Path) -> list[Path]:
        if (Path(data_dir) / ARCHIVE).is_file():
            return []
        return super().missing_files(data_dir)

    def load(self, split: str | None, ctx: LoadContext) -> Task:
        split = self.check_split(split)
        p = self.params
        seed = self.split_seed_for(split, ctx)
        arrays = load_arrays(ctx.data_dir, ctx.cache_dir)
        return build_task(arrays, int(p["valid_size"]), _opt_int(p["train_per_class"]),
                          _opt_int(p["test_per_class"]), split_seed=seed)


def _opt_int(v: Any) -> int | None:
    return None if v is None else int(v)


__all__ = ["Cifar10", "read_archive", "read_image_folder", "load_arrays", "make_split", "build_task",
           "ChecksumMismatch"]
