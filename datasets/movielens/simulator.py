"""``movielens-sim``'s generator: a seeded low-rank rating table shaped like ``u.data``."""
from __future__ import annotations

import numpy as np
import pandas as pd

_T0, _T1 = 874_724_710, 893_286_638  # ml-100k's first and last timestamps (1997-09 .. 1998-04)


def generate_ratings(n_users: int = 300, n_items: int = 200, density: float = 0.06, rank: int = 5,
                     seed: int = 0) -> pd.DataFrame:
    """A ratings table like ``u.data`` (user, item, rating, timestamp; ids from 1), deterministic
    in its arguments.

    Sparsity: about ``density * n_users * n_items`` ratings; every user rates at least
    ``min(3, n_items)`` items; how many more is drawn by a lognormal activity per user, and which
    items by a lognormal popularity (a few items get most ratings, some none), without repeats.
    Rating = round(3.35 + user bias + item bias (popular items a little better) + a rank-``rank``
    dot product + noise), clipped to 1..5. Timestamps: each user rates over a stretch of time
    inside ml-100k's seven months.
    """
    U, I, rank = int(n_users), int(n_items), int(rank)
    if U < 1 or I < 1:
        raise ValueError(f"movielens-sim: n_users and n_items must be positive, got {U}, {I}")
    if not 0 < float(density) <= 1:
        raise ValueError(f"movielens-sim: density must be in (0, 1], got {density!r}")
    if rank < 0:
        raise ValueError(f"movielens-sim: rank must be >= 0, got {rank}")
    rng = np.random.default_rng(seed)
    min_k = min(3, I)
    n_target = max(int(round(float(density) * U * I)), U * min_k)
    activity = np.exp(rng.normal(0.0, 0.8, U))
    popularity = np.exp(rng.normal(0.0, 1.3, I))
    k = np.minimum(min_k + rng.multinomial(n_target - U * min_k, activity / activity.sum()), I)
    # Each user's items: top-k of log popularity + Gumbel noise = draws without replacement.
    keys = np.log(popularity)[None, :] + rng.gumbel(size=(U, I))
    order = np.argsort(-keys, axis=1, kind="stable")
    take = np.arange(I)[None, :] < k[:, None]
    users = np.repeat(np.arange(U), k)
    items = order[take]

    log_pop = np.log(popularity)
    pop_z = (log_pop - log_pop.mean()) / (log_pop.std() or 1.0)
    b_user = rng.normal(0.0, 0.5, U)
    b_item = rng.normal(0.0, 0.45, I) + 0.2 * pop_z
    scale = (0.36 / max(rank, 1)) ** 0.25  # the dot product's sd is about 0.6
    P = rng.normal(0.0, scale, (U, rank))
    Q = rng.normal(0.0, scale, (I, rank))
    n = len(users)
    raw = (3.35 + b_user[users] + b_item[items] + np.einsum("nr,nr->n", P[users], Q[items])
           + rng.normal(0.0, 0.7, n))
    rating = np.clip(np.rint(raw), 1, 5)

    span = _T1 - _T0
    start = _T0 + rng.uniform(0, 0.85, U) * span
    t = np.minimum(start[users] + rng.exponential(0.08 * span, n), _T1)
    perm = rng.permutation(n)  # file order unrelated to user or time, like u.data
    return pd.DataFrame({"user": users[perm].astype(np.int64) + 1, "item": items[perm].astype(np.int64) + 1,
                         "rating": rating[perm].astype(np.float64), "timestamp": t[perm].astype(np.int64)})

