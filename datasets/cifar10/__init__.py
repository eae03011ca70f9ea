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

Split ``transfer`` (pretrain on some classes, learn the others from few images; the
``cnn-transfer`` methods): ``target_classes`` (default cat, dog, horse) are the new task.
train = the other 7 (source) classes' train images (``source_per_class`` of each, seeded; all
5,000 when None) + the target classes' train images not drawn for valid; valid =
``target_valid_per_class`` of each target class's train images; test = the target classes'
official test images (``test_per_class`` of each when given). So valid and test hold target
classes only, and a method tells the target rows of train by valid's classes. ``valid_size``
and ``train_per_class`` apply to the official split only.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import Dataset, LoadContext, Task
from bench.data.download import ChecksumMismatch

from .read import (ARCHIVE, ARCHIVE_MD5, CLASSES, FOLDER, URL, cached_arrays, load_arrays, locate,
                   read_archive, read_image_folder)
from .split import (SPLIT_SEED, TARGET_CLASSES, build_task, build_transfer_task, make_split,
                    make_transfer_split, target_indices)


class Cifar10(Dataset):
    name = "cifar10"
    kind = "image-classification"
    target = "label"
    metrics = ("accuracy",)
    splits = ("official", "transfer")
    seeded_splits = ("official", "transfer")  # the valid draw and the per-class subsets; test is the official one
    folder = FOLDER
    files = ("train", "test")
    defaults = {"valid_size": 5000, "train_per_class": None, "test_per_class": None,
                # the transfer split's (see the module docstring)
                "target_classes": TARGET_CLASSES, "source_per_class": None, "target_valid_per_class": 500}
    param_types = {"target_classes": (str, list, tuple)}
    description = ("CIFAR-10: 60,000 32x32 colour images, 10 classes; official 50,000 / 10,000 split "
                   "with a fixed seeded 5,000-image valid set from train; train_per_class / "
                   "test_per_class for quick subsets; split transfer: 7 source classes to pretrain on, "
                   "3 target classes (valid, test) to learn from few images")
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
        if split == "transfer":
            return build_transfer_task(arrays, p["target_classes"], int(p["target_valid_per_class"]),
                                       _opt_int(p["source_per_class"]), _opt_int(p["test_per_class"]),
                                       split_seed=seed)
        return build_task(arrays, int(p["valid_size"]), _opt_int(p["train_per_class"]),
                          _opt_int(p["test_per_class"]), split_seed=seed)


def _opt_int(v: Any) -> int | None:
    return None if v is None else int(v)


__all__ = ["Cifar10", "read_archive", "read_image_folder", "load_arrays", "locate", "cached_arrays",
           "make_split", "build_task", "make_transfer_split", "build_transfer_task", "target_indices",
           "TARGET_CLASSES", "ChecksumMismatch", "ARCHIVE", "ARCHIVE_MD5", "CLASSES", "FOLDER",
           "URL", "SPLIT_SEED"]
