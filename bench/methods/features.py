"""Feature encodings shared by the classic baselines: the same columns, whatever the method.

``TabularEncoder(encoding, schema)`` turns a task's ``X`` into a float32 matrix:

- ``ordinal``: categorical codes as numbers, then the continuous columns. Image parts
  (uint8 arrays N x H x W x C) become their pixels, flattened, scaled to [0, 1].
- ``onehot``: one indicator column per level of each categorical column, sized by the
  schema's cardinalities (so train and test always get the same columns, even when a level
  never occurs in train), then the continuous columns. Wide results come back as scipy CSR.
- ``ee``: each categorical column replaced by its row of a learned embedding matrix
  (``embeddings={column: array (cardinality, dim)}``), then the continuous columns: the
  "with EE" columns of the entity-embedding paper's table.

``pca=k`` (``encoder_for``) adds a seeded PCA to ``k`` components on top, fitted on the train
rows: how the pixel baselines see images in fewer dimensions (``PCAEncoder``).

Text parts (``text-classification``) get their own encoders, ``bench.methods.text_features``.

``scale=True`` standardizes with the mean and standard deviation of the data given to ``fit``.
One-hot indicator columns are divided by their standard deviation but never centred, so
sparse output stays sparse (centring does not change distances anyway).

The module also holds the small decisions every baseline shares (log target, encoding names);
``bench.methods.tabular.TabularBaseline`` puts them together.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd
from scipy import sparse

from bench.core.task import Part, Schema
from bench.methods.text_features import TEXT_KIND, text_encoder

ENCODINGS = ("ordinal", "onehot", "ee")

# One-hot output wider than this comes back as CSR when ``sparse="auto"``: Rossmann's one-hot
# (1,115 stores and friends) would be about 1 GB dense for 200k rows, 10 MB sparse.
SPARSE_AUTO_WIDTH = 64


class TabularEncoder:
    """A fitted feature encoding. ``fit(X)`` learns scaling statistics; ``transform(X)`` encodes.

    Parameters are stored unchanged; fitted state ends with ``_`` (scikit-learn's convention).
    """

    def __init__(self, encoding: str = "ordinal", schema: Schema | None = None, scale: bool = False,
                 embeddings: Mapping[str, np.ndarray] | None = None, sparse: bool | str = "auto"):
        if encoding not in ENCODINGS:
            raise ValueError(f"unknown encoding {encoding!r}; expected one of {ENCODINGS}")
        if sparse not in (True, False, "auto"):
            raise ValueError(f"sparse must be True, False or 'auto', not {sparse!r}")
        self.encoding = encoding
        self.schema = schema if schema is not None else Schema()
        self.scale = scale
        self.embeddings = embeddings
        self.sparse = sparse
        if encoding == "ee":
            self._check_embeddings()

    # -- fitting ---------------------------------------------------------------------------

    def fit(self, X: Any) -> "TabularEncoder":
        self.is_image_ = _is_image(X)
        if self.is_image_ and self.encoding != "ordinal":
            raise ValueError(f"encoding {self.encoding!r} is for tabular data; images support "
                             "only 'ordinal' (flattened pixels)")
        self.feature_names_ = self._feature_names(X)
        self.n_features_ = len(self.feature_names_)
        self.mean_ = self.scale_ = None
        if self.scale:
            M = self._encode(X)
            if sparse.issparse(M):
                mean = np.asarray(M.mean(axis=0), dtype=np.float64).ravel()
                sq = np.asarray(M.multiply(M).mean(axis=0), dtype=np.float64).ravel()
                std = np.sqrt(np.maximum(sq - mean**2, 0.0))
            else:
                M64 = M.astype(np.float64)
                mean, std = M64.mean(axis=0), M64.std(axis=0)
            std[std < 1e-12] = 1.0  # constant columns: leave them as they are
            mean[self._uncentred_mask()] = 0.0
            self.mean_, self.scale_ = mean.astype(np.float32), std.astype(np.float32)
        return self

    def transform(self, X: Any):
        """Encode ``X``: a float32 ndarray, or scipy CSR for wide one-hot output."""
        if not hasattr(self, "n_features_"):
            raise RuntimeError("TabularEncoder.transform called before fit")
        if _is_image(X) != self.is_image_:
            raise ValueError("transform got " + ("an image array" if _is_image(X) else "a table")
                             + " but the encoder was fitted on "
                             + ("images" if self.is_image_ else "a table"))
        M = self._encode(X)
        if M.shape[1] != self.n_features_:
            raise ValueError(f"encoded {M.shape[1]} features, fitted on {self.n_features_}")
        if self.scale_ is None:
            return M
        if sparse.issparse(M):  # one-hot indicators first (scaled only), then continuous columns
            n_ind = int(self._uncentred_mask().sum())
            ind = M[:, :n_ind] @ sparse.diags(1.0 / self.scale_[:n_ind])
            cont = (M[:, n_ind:].toarray() - self.mean_[n_ind:]) / self.scale_[n_ind:]
            return sparse.hstack([ind, sparse.csr_matrix(cont)], format="csr", dtype=np.float32)
        return (M - self.mean_) / self.scale_

    def fit_transform(self, X: Any):
        return self.fit(X).transform(X)

    # -- the encodings ---------------------------------------------------------------------

    def _encode(self, X: Any):
        if self.is_image_:
            return _pixels(X)
        self._check_columns(X)
        cont = _continuous(X, self.schema)
        if self.encoding == "ordinal":
            codes = [_codes(X, c, k).astype(np.float32) for c, k in self.schema.categorical.items()]
            return np.column_stack(codes + [cont]) if codes else cont
        if self.encoding == "ee":
            parts = [np.asarray(self.embeddings[c], dtype=np.float32)[_codes(X, c, k)]
                     for c, k in self.schema.categorical.items()]
            return np.hstack(parts + [cont])
        onehot = self._onehot(X)
        if self._want_sparse():
            return sparse.hstack([onehot, sparse.csr_matrix(cont)], format="csr", dtype=np.float32)
        return np.hstack([onehot.toarray(), cont])

    def _onehot(self, X: pd.DataFrame) -> sparse.csr_matrix:
        n = len(X)
        blocks = []
        for c, k in self.schema.categorical.items():
            codes = _codes(X, c, k, allow_missing=True)
            present = codes >= 0  # code -1 (missing) gets an all-zero row
            rows = np.flatnonzero(present)
            blocks.append(sparse.csr_matrix(
                (np.ones(len(rows), np.float32), (rows, codes[present])), shape=(n, k)))
        if not blocks:
            return sparse.csr_matrix((n, 0), dtype=np.float32)
        return sparse.hstack(blocks, format="csr", dtype=np.float32)

    def _want_sparse(self) -> bool:
        if self.sparse == "auto":
            return sum(self.schema.categorical.values()) > SPARSE_AUTO_WIDTH
        return bool(self.sparse)

    def _uncentred_mask(self) -> np.ndarray:
        """True for one-hot indicator columns: scaled but never centred."""
        mask = np.zeros(self.n_features_, dtype=bool)
        if self.encoding == "onehot" and not self.is_image_:
            mask[: sum(self.schema.categorical.values())] = True
        return mask

    def _feature_names(self, X: Any) -> list[str]:
        if _is_image(X):
            return [f"pixel{i}" for i in range(int(np.prod(np.shape(X)[1:])))]
        names: list[str] = []
        for c, k in self.schema.categorical.items():
            if self.encoding == "ordinal":
                names.append(c)
            elif self.encoding == "onehot":
                names += [f"{c}={i}" for i in range(k)]
            else:
                names += [f"{c}:ee{i}" for i in range(np.shape(self.embeddings[c])[1])]
        return names + list(self.schema.continuous)

    def _check_columns(self, X: Any) -> None:
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"tabular encoding expects a DataFrame, got {type(X).__name__}")
        missing = [c for c in self.schema.columns if c not in X.columns]
        if missing:
            raise KeyError(f"columns missing from X: {missing}; X has {list(X.columns)}")

    def _check_embeddings(self) -> None:
        if not self.embeddings:
            raise ValueError("encoding 'ee' needs embeddings={column: array (cardinality, dim)}")
        missing = [c for c in self.schema.categorical if c not in self.embeddings]
        if missing:
            raise ValueError(f"encoding 'ee': no embedding matrix for categorical columns {missing}")
        for c, k in self.schema.categorical.items():
            shape = np.shape(self.embeddings[c])
            if len(shape) != 2 or shape[0] < k:
                raise ValueError(f"encoding 'ee': embedding for {c!r} has shape {shape}; "
                                 f"expected ({k}, dim) for its {k} levels")

    def __repr__(self) -> str:
        return f"TabularEncoder({self.encoding!r}, scale={self.scale})"


class PCAEncoder:
    """A fitted encoder followed by a seeded PCA (scikit-learn) to ``n_components`` columns."""

    def __init__(self, base: TabularEncoder, n_components: int, seed: int = 0):
        self.base = base
        self.n_components = n_components
        self.seed = seed

    def fit(self, X: Any) -> "PCAEncoder":
        self.fit_transform(X)
        return self

    def fit_transform(self, X: Any) -> np.ndarray:
        from sklearn.decomposition import PCA

        M = self.base.fit_transform(X)
        if sparse.issparse(M):
            raise ValueError("pca needs dense features; use encoding='ordinal'")
        k = int(self.n_components)
        if k < 1:
            raise ValueError(f"pca must be a positive number of components, not {self.n_components!r}")
        k = min(k, *M.shape)
        self.pca_ = PCA(n_components=k, svd_solver="randomized", random_state=self.seed).fit(M)
        return self.pca_.transform(M).astype(np.float32)

    def transform(self, X: Any) -> np.ndarray:
        if not hasattr(self, "pca_"):
            raise RuntimeError("PCAEncoder.transform called before fit")
        return self.pca_.transform(self.base.transform(X)).astype(np.float32)

    def __repr__(self) -> str:
        return f"PCAEncoder({self.base!r}, {self.n_components})"


def note_rows(ctx: Any, n_train: int, rows: np.ndarray | None) -> None:
    """Record in the run (``ctx.info``) that train was subsampled by ``max_train_rows``."""
    if rows is not None and ctx is not None:
        ctx.info["train_rows"] = {"used": int(len(rows)), "of": int(n_train)}


def use_log_target(setting: str, part: Part) -> bool:
    """Resolve a baseline's ``target_transform`` parameter (``"auto"`` | ``"log"`` | ``"none"``):
    whether it fits log(y). ``"auto"`` follows the dataset's hint; classes are never logged."""
    if setting not in ("auto", "log", "none"):
        raise ValueError(f"target_transform must be 'auto', 'log' or 'none', not {setting!r}"
                         + (" (the former log_target=True/False is target_transform='log'/'none')"
                            if isinstance(setting, (bool, np.bool_)) else ""))
    use = setting == "log" or (setting == "auto" and part.target_transform == "log")
    if use and part.kind not in ("regression", "rating"):
        return False  # labels are not numbers to take logs of
    if use and np.any(np.asarray(part.y, dtype=np.float64) <= 0):
        raise ValueError("a log target needs positive targets; set target_transform='none' "
                         "(the dataset hints 'log' or target_transform='log', but the train part "
                         "has targets <= 0)")
    return use


def encoder_for(encoding: str, train: Part, ctx: Any = None, valid: Part | None = None,
                scale: bool = False, sparse: bool | str = "auto", ee_variant: str = "ee",
                pca: int | None = None, seed: int = 0):
    """An unfitted encoder for a baseline's ``encoding`` parameter; ``ee`` gets its embeddings
    from the fit context (see ``embeddings_from``); ``pca=k`` reduces the result to k components."""
    if train.kind == TEXT_KIND:  # TF-IDF or averaged word embeddings; pca = truncated SVD
        return text_encoder(encoding, train, ctx, valid, ee_variant=ee_variant, svd=pca, seed=seed, scale=scale)
    if pca:
        return PCAEncoder(encoder_for(encoding, train, ctx, valid, scale, sparse, ee_variant), int(pca), seed)
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown encoding {encoding!r}; expected one of {ENCODINGS}")
    if encoding == "ee":
        if _is_image(train.X):
            raise ValueError("encoding 'ee' is for categorical columns; image tasks use 'ordinal'")
        emb = embeddings_from(ctx, train, valid, variant=ee_variant)
        return TabularEncoder("ee", train.schema, scale=scale, embeddings=emb)
    return TabularEncoder(encoding, train.schema, scale=scale, sparse=sparse)


def train_rows(n: int, max_rows: int | None, seed: int) -> np.ndarray | None:
    """Positions of a seeded random subset of at most ``max_rows`` rows (sorted), or None for all."""
    if max_rows is None or max_rows >= n:
        return None
    if max_rows < 1:
        raise ValueError(f"max_train_rows must be a positive number of rows, not {max_rows!r}")
    return np.sort(np.random.default_rng(seed).choice(n, size=int(max_rows), replace=False))


def take(part: Part, rows: np.ndarray | None) -> tuple[Any, np.ndarray]:
    """``(X, y)`` of a part, restricted to ``rows`` (positions) when given. Never a view to write into."""
    if rows is None:
        return part.X, np.asarray(part.y)
    X = part.X.iloc[rows].reset_index(drop=True) if isinstance(part.X, pd.DataFrame) else part.X[rows]
    return X, np.asarray(part.y)[rows]


def embeddings_from(ctx: Any, train: Part, valid: Part | None = None,
                    variant: str = "ee") -> dict[str, np.ndarray]:
    """The entity embeddings a "with EE" baseline uses: ``{column: array (cardinality, dim)}``.

    ``ctx.embeddings`` when a caller set it; otherwise the embedding network ``variant`` fitted
    on the same train part and seed through ``ctx.fitted`` (trained once per task and seed,
    cached, shared by every baseline that asks), and its ``embeddings()``.
    """
    emb = getattr(ctx, "embeddings", None)
    if not emb:
        if getattr(ctx, "resolve_method", None) is None:
            raise ValueError("encoding 'ee' needs embeddings from the ee network: this fit "
                             "context has no registry attached to fit it (ctx.resolve_method) and no "
                             "ctx.embeddings; run it through the runner (bench run) or set ctx.embeddings")
        network = ctx.fitted(variant, train, valid)
        if not hasattr(network, "embeddings"):
            raise ValueError(f"encoding 'ee': method {variant!r} has no embeddings(); "
                             "name an entity-embedding network variant (ee_variant)")
        emb = network.embeddings()
    missing = [c for c in train.schema.categorical if c not in emb]
    if missing:
        raise ValueError(f"encoding 'ee': no embeddings for categorical columns {missing}")
    return {c: np.asarray(emb[c]) for c in train.schema.categorical}


# -- helpers --------------------------------------------------------------------------------

def _is_image(X: Any) -> bool:
    return isinstance(X, np.ndarray) and X.ndim >= 3


def _pixels(X: np.ndarray) -> np.ndarray:
    flat = X.reshape(len(X), -1)
    if flat.dtype == np.uint8:
        return flat.astype(np.float32) / np.float32(255.0)
    return flat.astype(np.float32)


def _codes(X: pd.DataFrame, col: str, cardinality: int, allow_missing: bool = False) -> np.ndarray:
    s = X[col]
    if isinstance(s.dtype, pd.CategoricalDtype):
        codes = s.cat.codes.to_numpy()
    else:
        codes = s.to_numpy()
    codes = np.asarray(codes)
    if codes.dtype.kind == "f" and np.isnan(codes).any():
        codes = np.where(np.isnan(codes), -1, codes)
    if codes.dtype.kind not in "iub" and not (codes.dtype.kind == "f" and np.all(codes == np.round(codes))):
        raise TypeError(f"categorical column {col!r} must hold integer codes, got dtype {s.dtype}")
    codes = codes.astype(np.int64)
    low = -1 if allow_missing else 0
    bad = (codes < low) | (codes >= cardinality)
    if bad.any():
        raise ValueError(f"categorical column {col!r} has codes outside 0..{cardinality - 1} "
                         f"(e.g. {codes[bad][0]}); the schema's cardinality is {cardinality}")
    return codes


def _continuous(X: pd.DataFrame, schema: Schema) -> np.ndarray:
    if not schema.continuous:
        return np.zeros((len(X), 0), dtype=np.float32)
    return X[list(schema.continuous)].to_numpy(dtype=np.float32)
