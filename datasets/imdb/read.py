"""IMDB's reviews read from the aclImdb folder: one UTF-8 file per review, ``<id>_<rating>.txt``;
the text cleaned for whitespace tokenization; the table cached as parquet in the cache folder."""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from bench.data import cache

from .files import LABEL_FOLDERS, PARTS, UNSUP, manual_steps

CACHE_VERSION = 1  # bump when the cleanup or the table changes
NAME = re.compile(r"(\d+)_(\d+)\.txt")
BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
# a token: a word (letters, digits; inner apostrophes and hyphens kept: "don't", "so-so"), a run
# of dashes ("--", as MR writes it), or any other single non-space character (".", ",", "!", "(")
TOKEN = re.compile(r"\w+(?:['-]\w+)*|-+|[^\w\s]")
COLUMNS = ("part", "label", "id", "rating", "text")


def clean(text: str) -> str:
    """``<br />`` to a space, lower case, punctuation split from the words by spaces (one space
    between tokens), so that splitting on whitespace gives the words and the punctuation."""
    return " ".join(TOKEN.findall(BREAK.sub(" ", text).lower()))


def review_files(folder: Path) -> list[tuple[int, int, int, int, Path]]:
    """(part, label, id, rating, path) of every labelled review, sorted by (part, label, id):
    part 0 = train, 1 = test; label 0 = neg, 1 = pos."""
    rows = []
    for p, part in enumerate(PARTS):
        for label, sub in enumerate(LABEL_FOLDERS):
            base = folder / part / sub
            for name in os.listdir(base):
                if name.startswith(".") or not name.endswith(".txt"):
                    continue  # hidden files (._* from macOS archivers), README-like files
                m = NAME.fullmatch(name)
                if m is None:
                    raise ValueError(f"{base / name}: not a review file name (<id>_<rating>.txt)")
                rows.append((p, label, int(m.group(1)), int(m.group(2)), base / name))
    rows.sort(key=lambda r: r[:3])
    return rows


def count_unsup(folder: Path) -> int:
    """How many unlabelled reviews ``train/unsup`` holds (reported; the task has labelled rows only)."""
    base = folder.joinpath(*UNSUP)
    return sum(1 for n in os.listdir(base) if NAME.fullmatch(n)) if base.is_dir() else 0


def read_reviews(folder: Path) -> pd.DataFrame:
    """The labelled reviews as a table (part, label, id, rating, text), rows in (part, label, id) order."""
    records = []
    for part, label, rid, rating, path in review_files(folder):
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as e:
            raise ValueError(f"{path}: not UTF-8 text ({e}); the copy is damaged. "
                             f"{manual_steps(folder.parent)}") from None
        records.append((part, label, rid, rating, clean(text)))
    if not records:
        raise ValueError(f"{folder}: no reviews in train/pos, train/neg, test/pos, test/neg. "
                         f"{manual_steps(folder.parent)}")
    table = pd.DataFrame.from_records(records, columns=list(COLUMNS))
    return table.astype({"part": np.int8, "label": np.int64, "id": np.int64, "rating": np.int8})


def source_key(folder: Path) -> str:
    """A digest of the review files' names, sizes and modification times, the folder's path and the
    cleanup's version: a changed copy is read again."""
    h = hashlib.sha256(f"imdb-v{CACHE_VERSION}:{folder.resolve()}".encode())
    for part, label, rid, rating, path in review_files(folder):
        st = path.stat()
        h.update(f"{part}/{label}/{path.name}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:24]


def load_reviews(folder: Path, cache_dir: Path | None) -> pd.DataFrame:
    """``read_reviews(folder)``, cached as ``<cache dir>/imdb/reviews-<key>.parquet``."""
    path = None if cache_dir is None else Path(cache_dir) / "imdb" / f"reviews-{source_key(folder)}.parquet"
    return cache.cached_frame(path, lambda: read_reviews(folder))
