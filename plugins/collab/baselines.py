"""The baseline predictor of the CF plugins: ``mu + b_user + b_item`` (numpy only)."""
from __future__ import annotations

import numpy as np


def fit_biases(u: np.ndarray, i: np.ndarray, r: np.ndarray, n_users: int, n_items: int,
               reg_user: float, reg_item: float, epochs: int) -> tuple[float, np.ndarray, np.ndarray]:
    """``mu, b_user, b_item`` by alternating least squares with ridge penalties (Koren 2010)."""
    mu = float(r.mean())
    bu, bi = np.zeros(n_users), np.zeros(n_items)
    n_u = np.bincount(u, minlength=n_users)
    n_i = np.bincount(i, minlength=n_items)
    for _ in range(epochs):
        bu = np.bincount(u, weights=r - mu - bi[i], minlength=n_users) / (reg_user + n_u)
        bi = np.bincount(i, weights=r - mu - bu[u], minlength=n_items) / (reg_item + n_i)
    return mu, bu, bi
