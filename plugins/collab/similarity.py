"""Item x item similarity over co-ratings for ``item-knn`` (scipy's sparse products).

A module of its own so that loading the collab cards does not import scipy.
"""
from __future__ import annotations

import numpy as np
from scipy import sparse


def item_similarity(u: np.ndarray, i: np.ndarray, values: np.ndarray, n_users: int, n_items: int,
                    shrinkage: float) -> np.ndarray:
    """Item x item correlation over co-rating users, shrunk toward 0 for few co-ratings.

    ``sim(a, b) = sum_u v_ua v_ub / sqrt(sum_u v_ua^2 * sum_u v_ub^2)``, every sum over the users
    who rated both, times ``(n_ab - 1) / (n_ab - 1 + shrinkage)``. Sparse products, dense result.
    """
    V = sparse.csr_matrix((values, (u, i)), shape=(n_users, n_items))
    M = sparse.csr_matrix((np.ones_like(values), (u, i)), shape=(n_users, n_items))
    V2 = V.multiply(V).tocsr()
    num = (V.T @ V).toarray()
    sq = (V2.T @ M).toarray()  # sq[a, b] = sum over co-raters of v_ua^2
    n_common = (M.T @ M).toarray()
    den = np.sqrt(sq * sq.T)
    sim = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    if shrinkage > 0:
        sim *= np.maximum(n_common - 1, 0) / (np.maximum(n_common - 1, 0) + shrinkage)
    np.fill_diagonal(sim, 0.0)
    return sim.astype(np.float32)
