"""MovieLens' releases: their names, files, folds, download addresses and pinned checksums.
Plain constants (no pandas), so the plugin's card imports in milliseconds."""
from __future__ import annotations

RELEASES = ("ml-100k", "ml-1m", "ml-latest-small", "ml-latest", "ml-25m")
RATINGS_FILE = {"ml-100k": "u.data", "ml-1m": "ratings.dat", "ml-latest-small": "ratings.csv",
                "ml-latest": "ratings.csv", "ml-25m": "ratings.csv"}
SIDE_FILES = {"ml-100k": ("u.item", "u.user"), "ml-1m": ("movies.dat", "users.dat"),
              "ml-latest-small": ("movies.csv",), "ml-latest": ("movies.csv",), "ml-25m": ("movies.csv",)}
FOLDS = ("u1", "u2", "u3", "u4", "u5", "ua", "ub")
FOLD_RELEASES = ("ml-100k",)
SPLITS = FOLDS + ("random", "temporal")
CSV_HEADER = ("userId", "movieId", "rating", "timestamp")
COLUMNS = ("user", "item", "rating", "timestamp")

URL_BASE = "https://files.grouplens.org/datasets/movielens"
PAGE = "https://grouplens.org/datasets/movielens/"
# Checksums of the published archives (GroupLens publishes <release>.zip.md5 beside each zip).
# ml-latest-small and ml-latest are re-issued from time to time: no pinned checksum, no download.
CHECKSUMS: dict[str, tuple[str, str]] = {
    "ml-100k": ("md5", "0e33842e24a9c977be4e0107933c0723"),
    "ml-1m": ("md5", "c4d9eecfca2ab87c1945afe126590906"),
    "ml-25m": ("md5", "6b51fb2759a8657d3bfcbfc42b592ada"),
}


def check_release(release: str) -> str:
    if release not in RELEASES:
        raise ValueError(f"movielens: unknown release {release!r}; releases: {', '.join(RELEASES)}")
    return release


def redownload(release: str) -> str:
    return f"re-download {release}.zip from {PAGE} ({URL_BASE}/{release}.zip) and unzip it again"
