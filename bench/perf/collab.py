"""`bench perf collab`: bench's CF methods next to the peers users know, on the same folds.

Peers (each optional, skipped with a message when not installed; the ``perf`` extra has them):
scikit-surprise's ``BaselineOnly``, ``SVD``, ``SVDpp`` and ``KNNBaseline`` (item-based,
``pearson_baseline``), and fastai's ``collab_learner`` (50 factors, y-range 0..5.5, five
one-cycle epochs at 5e-3, wd 0.1). Everyone, bench included, trains on the same train part of
each fold (bench's splits hold 5 % of a fold's ``.base`` out as valid) and is scored on its
``.test`` rows. Times are fit seconds in this process, one method after another.
"""
from __future__ import annotations

import importlib.util
import time
from typing import Any, Callable

import numpy as np
import pandas as pd

from bench.core.method import FitContext
from bench.core.metrics import mae, rmse
from bench.core.task import Part, Task

BENCH_VARIANTS = ("global-mean", "bias", "item-knn", "mf", "mf-fastai", "ncf", "blend")
PEERS = ("surprise-baseline", "surprise-svd", "surprise-svdpp", "surprise-knnbaseline", "fastai-collab")


def _frame(part: Part) -> pd.DataFrame:
    return pd.DataFrame({"user": part.X["user"].to_numpy(), "item": part.X["item"].to_numpy(),
                         "rating": np.asarray(part.y, np.float64)})


def _surprise(algo_name: str) -> Callable[[Part, Part, int], Callable[[Part], np.ndarray]]:
    def fit(train: Part, valid: Part, seed: int):
        import surprise

        lo, hi = float(np.min(train.y)), float(np.max(train.y))
        data = surprise.Dataset.load_from_df(_frame(train), surprise.Reader(rating_scale=(lo, hi)))
        trainset = data.build_full_trainset()
        algo = {
            "surprise-baseline": lambda: surprise.BaselineOnly(verbose=False),
            "surprise-svd": lambda: surprise.SVD(random_state=seed),
            "surprise-svdpp": lambda: surprise.SVDpp(random_state=seed),
            "surprise-knnbaseline": lambda: surprise.KNNBaseline(
                sim_options={"name": "pearson_baseline", "user_based": False}, verbose=False),
        }[algo_name]()
        algo.fit(trainset)

        def predict(part: Part) -> np.ndarray:
            f = _frame(part)
            return np.array([algo.predict(u, i).est for u, i in zip(f["user"], f["item"])])
        return predict
    return fit


def _fastai(train: Part, valid: Part, seed: int):
    from fastai.collab import TabularCollab, collab_learner
    from fastai.tabular.all import Categorify, TransformBlock
    from fastai.torch_core import set_seed

    set_seed(seed, reproducible=True)
    df = pd.concat([_frame(train), _frame(valid)], ignore_index=True)
    splits = (list(range(len(train))), list(range(len(train), len(df))))
    to = TabularCollab(df, [Categorify], ["user", "item"], y_names=["rating"], y_block=TransformBlock(),
                       splits=splits)
    dls = to.dataloaders(bs=64)
    learn = collab_learner(dls, n_factors=50, y_range=(0, 5.5))
    with learn.no_bar(), learn.no_logging():
        learn.fit_one_cycle(5, 5e-3, wd=0.1)

    def predict(part: Part) -> np.ndarray:
        dl = learn.dls.test_dl(_frame(part))
        with learn.no_bar():
            preds, _ = learn.get_preds(dl=dl)
        return preds.numpy().ravel().astype(np.float64)
    return predict


def peer_available(name: str) -> str | None:
    """None when the peer can run, else what to install."""
    module = "surprise" if name.startswith("surprise") else "fastai"
    if importlib.util.find_spec(module) is None:
        package = "scikit-surprise" if module == "surprise" else "fastai"
        return f"not installed: pip install {package} (or pip install 'bench[perf]')"
    return None


def _bench(registry, variant: str) -> Callable[[Part, Part, int], Callable[[Part], np.ndarray]]:
    entry = registry.method(variant)

    def fit(train: Part, valid: Part, seed: int):
        model = entry.cls(**entry.resolved_params({})).fit(train, valid, FitContext(seed=seed))
        return model.predict
    return fit


def run_collab(registry, tasks: dict[str, Task], variants=BENCH_VARIANTS, peers=PEERS, seed: int = 0,
               echo: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """One row per method: RMSE and MAE per fold and on average, fit seconds summed over folds."""
    contenders: list[tuple[str, str, Any]] = [(v, "bench", _bench(registry, v)) for v in variants]
    for peer in peers:
        missing = peer_available(peer)
        if missing:
            echo(f"skipping {peer}: {missing}")
            continue
        contenders.append((peer, "peer", _fastai if peer == "fastai-collab" else _surprise(peer)))
    rows = []
    for name, who, fit in contenders:
        per_fold, maes, fit_s = {}, [], 0.0
        try:
            for fold, task in tasks.items():
                train, valid, test = task.part("train"), task.part("valid"), task.part("test")
                t0 = time.perf_counter()
                predict = fit(train, valid, seed)
                fit_s += time.perf_counter() - t0
                pred = predict(test)
                per_fold[fold] = rmse(test.y, pred)
                maes.append(mae(test.y, pred))
        except Exception as exc:  # one broken contender must not cost the others' numbers
            echo(f"{name:22s} FAILED: {type(exc).__name__}: {exc}")
            rows.append({"method": name, "from": who, "rmse": float("nan"), "mae": float("nan"),
                         "fit_s": float("nan"), "error": f"{type(exc).__name__}: {exc}"[:200]})
            continue
        row = {"method": name, "from": who, "rmse": float(np.mean(list(per_fold.values()))),
               "mae": float(np.mean(maes)), "fit_s": round(fit_s, 2),
               **{f"rmse_{k}": round(v, 4) for k, v in per_fold.items()}}
        echo(f"{name:22s} rmse {row['rmse']:.4f}  mae {row['mae']:.4f}  fit {fit_s:7.2f}s (all folds)")
        rows.append(row)
    return rows


def time_ratio(rows: list[dict[str, Any]], ours: str = "mf", theirs: str = "surprise-svd") -> dict[str, Any] | None:
    """``ours`` against ``theirs``: fit-time ratio and RMSE difference (None if either is missing)."""
    by = {r["method"]: r for r in rows}
    if ours not in by or theirs not in by:
        return None
    return {"ours": ours, "theirs": theirs, "time_ratio": by[ours]["fit_s"] / max(by[theirs]["fit_s"], 1e-9),
            "rmse_ours": by[ours]["rmse"], "rmse_theirs": by[theirs]["rmse"]}
