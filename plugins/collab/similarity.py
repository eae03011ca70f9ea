"""Item x item similarity over co-ratings for ``item-knn`` (scipy's sparse products).

A module of its own so that loading the collab cards does not import scipy.

The result is a dense float32 n_items x n_items matrix (``item-knn`` keeps, per prediction, the k
most similar of the items the user rated, so it needs every pair). It is filled one block of rows
at a time: the float64 sums behind a block (numerator, squares, co-rating counts) are bounded by
``BLOCK_BYTES`` each, so the peak is the float32 result plus a few blocks, never four float64
n_items^2 arrays. Each sum runs over the co-raters in ascending user order, as scipy's full product
does, so the blocks give bitwise the numbers the whole-matrix products gave.
"""
from __future__ import annotations

import numpy as np
from scipy import sparse

BLOCK_BYTES = 32 * 2**20  # one float64 block of rows (n_items columns) at most
_BLOCKS_ALIVE = 6         # float64 blocks alive at once, counting a sparse product (12 B per entry)


def block_rows(n_items: int, block_bytes: int = BLOCK_BYTES) -> int:
    """Rows per block so that one float64 block of ``n_items`` columns fits ``block_bytes``."""
    return max(1, block_bytes // (8 * max(n_items, 1)))


def similarity_bytes(n_items: int, block_bytes: int = BLOCK_BYTES) -> int:
    """Estimated peak bytes of ``item_similarity``: the float32 result plus its live blocks."""
    rows = min(block_rows(n_items, block_bytes), n_items)
    return 4 * n_items * n_items + _BLOCKS_ALIVE * 8 * rows * n_items


def item_similarity(u: np.ndarray, i: np.ndarray, values: np.ndarray, n_users: int, n_items: int,
                    shrinkage: float, block_bytes: int = BLOCK_BYTES, dtype=np.float32) -> np.ndarray:
    """Item x item correlation over co-rating users, shrunk toward 0 for few co-ratings.

    ``sim(a, b) = sum_u v_ua v_ub / sqrt(sum_u v_ua^2 * sum_u v_ub^2)``, every sum over the users
    who rated both, times ``(n_ab - 1) / (n_ab - 1 + shrinkage)``; 0 on the diagonal. Sparse
    products, dense result (float32; ``dtype=np.float64`` keeps the sums' own precision, for
    checks), computed in blocks of rows.
    """
    V = sparse.csr_matrix((values, (u, i)), shape=(n_users, n_items))
    M = sparse.csr_matrix((np.ones_like(values), (u, i)), shape=(n_users, n_items))
    V2 = V.multiply(V).tocsr()
    # items x users, each row's users in ascending order: row slices are cheap
    Vt, V2t, Mt = (X.T.tocsr() for X in (V, V2, M))
    sim = np.empty((n_items, n_items), dtype)
    step = block_rows(n_items, block_bytes)
    for lo in range(0, n_items, step):
        hi = min(lo + step, n_items)
        sim[lo:hi] = _rows(Vt[lo:hi], V2t[lo:hi], Mt[lo:hi], V, V2, M, shrinkage, lo)
    return sim


def _rows(Vt, V2t, Mt, V, V2, M, shrinkage: float, lo: int) -> np.ndarray:
    """Rows ``lo .. lo + len(Vt)`` of the similarity, in float64, from the blocks' products."""
    den = (V2t @ M).toarray()             # sum over co-raters of v_ua^2 (a: this block's items)
    den *= (Mt @ V2).toarray()            # ... times the sum of v_ub^2 (b: every item)
    np.sqrt(den, out=den)
    sim = (Vt @ V).toarray()              # sum over co-raters of v_ua v_ub
    has = den > 0
    np.divide(sim, den, out=sim, where=has)
    sim[~has] = 0.0
    del has
    if shrinkage > 0:
        n = (Mt @ M).toarray()            # co-raters
        np.subtract(n, 1, out=n)
        np.maximum(n, 0, out=n)
        np.add(n, shrinkage, out=den)
        np.divide(n, den, out=n)
        sim *= n
    rows = np.arange(sim.shape[0])
    sim[rows, lo + rows] = 0.0            # the diagonal
    return sim
