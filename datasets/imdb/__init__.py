"""IMDB: the Large Movie Review Dataset (Maas et al. 2011), 25,000 train and 25,000 test reviews.

Read from ``<data dir>/aclImdb/`` in the official layout: ``{train,test}/{pos,neg}/<id>_<rating>.txt``
(UTF-8, one review a file) and ``train/unsup/*.txt`` (50,000 unlabelled reviews: counted and
reported, the task carries labelled rows only). When that folder is absent, the official archive
``aclImdb_v1.tar.gz`` is used: from the data folder, or downloaded (``BENCH_IMDB_URL`` overrides
the address; ``BENCH_IMDB_DOWNLOAD=0`` turns downloading off); its sha256 and md5 are checked
before it is opened, its members are checked (no absolute path, no ``..``, no link: else nothing
is extracted), and it is extracted into the data folder, or into ``<cache dir>/downloads/`` when
the data folder is read-only. The parsed reviews are cached as parquet in ``<cache dir>/imdb/``,
keyed by the review files (names, sizes, modification times).

Text: ``<br />`` becomes a space, then lower case, punctuation split from words by spaces
(``"Great!<br />Loved it."`` -> ``"great ! loved it ."``), so whitespace tokenization works.

Task: kind ``text-classification``, X = a 1-D object array of the cleaned reviews, rows sorted by
(part: train then test, label: neg then pos, file id), never by the file system's order; y = 0
(negative) or 1 (positive). Metric accuracy.

Split ``official``: test = the 25,000 test reviews; valid = a stratified 10 % of the train reviews
(scikit-learn's ``train_test_split``, ``random_state`` = the split seed, 0 by default), for early
stopping; train = the other train reviews. A suite's ``split_seeds`` redraws only the valid part.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from bench import Dataset, FilesMissing, LoadContext, Schema, Split, Task

from .files import ARCHIVE, CHECKSUMS, FOLDER, NEEDED, PAGE, URL, locate, manual_steps, missing

LABELS = ["negative", "positive"]
VALID_SHARE = 0.1  # of the train reviews


def official_split(part: np.ndarray, y: np.ndarray, split_seed: int = 0) -> Split:
    """test = the test reviews (part 1); valid = a stratified ``VALID_SHARE`` of the train reviews
    drawn with ``split_seed``; train = the other train reviews."""
    from sklearn.model_selection import train_test_split

    train_rows = np.flatnonzero(part == 0)
    train, valid = train_test_split(train_rows, test_size=VALID_SHARE, stratify=y[train_rows],
                                    random_state=split_seed)
    return Split("official", np.sort(train).astype(np.int64), np.sort(valid).astype(np.int64),
                 np.flatnonzero(part == 1).astype(np.int64))


class IMDB(Dataset):
    name = "imdb"
    kind = "text-classification"
    target = "label"
    metrics = ("accuracy",)
    splits = ("official",)
    seeded_splits = ("official",)  # the valid draw; test is the official test set
    folder = FOLDER
    files = NEEDED
    description = ("IMDB Large Movie Review Dataset (Maas et al. 2011): 50,000 movie reviews, positive "
                   "vs negative; official 25,000 train / 25,000 test, valid = a seeded stratified 10 % of "
                   "train (50,000 unlabelled reviews are counted, not used). Metric accuracy.")
    how_to_get = (f"The official archive {ARCHIVE} ({URL}, see {PAGE}; sha256 {CHECKSUMS['sha256']}): "
                  f"downloaded, verified and unpacked automatically when online (BENCH_IMDB_DOWNLOAD=0 "
                  f"turns that off), or put it (or its unpacked {FOLDER}/ folder) in the data folder.")

    def missing_files(self, data_dir: Path) -> list[Path]:
        """[] when the aclImdb folder or the archive is in the data folder (the archive is unpacked
        on the first load, after its checksums); else the folder, or the sub-folders it lacks."""
        data_dir = Path(data_dir)
        if (data_dir / ARCHIVE).is_file():
            return []
        return missing(data_dir / FOLDER) if (data_dir / FOLDER).is_dir() else [data_dir / FOLDER]

    def load(self, split: str | None, ctx: LoadContext) -> Task:
        from .read import count_unsup, load_reviews

        split = self.check_split(split)
        seed = self.split_seed_for(split, ctx)
        folder = locate(ctx.data_dir, ctx.cache_dir)
        table = load_reviews(folder, ctx.cache_dir)
        part, y = table["part"].to_numpy(), table["label"].to_numpy(dtype=np.int64)
        if not ((part == 0).any() and (part == 1).any()):
            raise FilesMissing(f"dataset {self.name}: {folder} has no train or no test reviews. "
                               f"{manual_steps(Path(ctx.data_dir))}")
        parts = official_split(part, y, seed)
        s, n_unsup = parts.sizes(), count_unsup(folder)
        n_train, n_test = int((part == 0).sum()), int((part == 1).sum())
        return Task(dataset=self.name, kind=self.kind, target=self.target, metrics=self.metrics,
                    schema=Schema(n_classes=2), X=table["text"].to_numpy(dtype=object), y=y, split=parts,
                    description=(f"IMDB (Large Movie Review Dataset, {folder}): {n_train:,} train / {n_test:,} "
                                 f"test reviews ({int((y == 1).sum()):,} positive, {int((y == 0).sum()):,} "
                                 f"negative) and {n_unsup:,} unlabelled ones (not used); split official "
                                 f"(split seed {seed}): train {s['train']:,}, valid {s['valid']:,}, "
                                 f"test {s['test']:,}"),
                    categories={"label": list(LABELS)})


__all__ = ["IMDB", "official_split", "LABELS", "VALID_SHARE"]
