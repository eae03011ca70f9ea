"""`bench perf item-knn`: item-knn's peak memory and fit time, the plugin against the dense
whole-matrix similarity it replaced (kept here as the baseline), on a synthetic release.

Each contender fits and predicts in a child process of its own, which reports its own peak
resident size (VmHWM of /proc/self/status, as `bench perf cli` reads it), its resident size
before the fit, and its fit and predict seconds; both children load the same data and write
their predictions, which are compared bitwise.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

CONTENDERS = ("dense", "plugin")

_CHILD = """
import json, sys, time
import numpy as np
from bench import FitContext
from bench.plugins.registry import discover

mode, variant, params, out = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]

def status(key):
    return int(next(l for l in open("/proc/self/status") if l.startswith(key)).split()[1]) / 1024

reg = discover()
entry = reg.method(variant)
task = reg.dataset("movielens-sim").build(params).load("random")
train, test = task.part("train"), task.part("test")
if mode == "dense":
    import importlib
    from bench.perf.itemknn import dense_item_similarity
    importlib.import_module(entry.cls.__module__ + ".similarity").item_similarity = dense_item_similarity
model = entry.cls(**entry.resolved_params({}))
before = status("VmRSS")
t0 = time.perf_counter()
model.fit(train, None, FitContext(seed=0))
t1 = time.perf_counter()
pred = model.predict(test)
t2 = time.perf_counter()
np.save(out, pred)
print(json.dumps({"fit_s": t1 - t0, "predict_s": t2 - t1, "rss_before_fit_mb": before,
                  "peak_mb": status("VmHWM"), "ratings": len(train), "items": int(train.schema.categorical["item"]),
                  "users": int(train.schema.categorical["user"]), "fingerprint": task.split.fingerprint}))
"""


def dense_item_similarity(u, i, values, n_users, n_items, shrinkage, dtype=np.float32):
    """item-knn's similarity before blocks: four dense float64 n_items^2 arrays, then ``dtype``
    (float32 as the plugin keeps it; the tests compare float64 too)."""
    from scipy import sparse

    V = sparse.csr_matrix((values, (u, i)), shape=(n_users, n_items))
    M = sparse.csr_matrix((np.ones_like(values), (u, i)), shape=(n_users, n_items))
    V2 = V.multiply(V).tocsr()
    num = (V.T @ V).toarray()
    sq = (V2.T @ M).toarray()
    n_common = (M.T @ M).toarray()
    den = np.sqrt(sq * sq.T)
    sim = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    if shrinkage > 0:
        sim *= np.maximum(n_common - 1, 0) / (np.maximum(n_common - 1, 0) + shrinkage)
    np.fill_diagonal(sim, 0.0)
    return sim.astype(dtype)


def run_one(mode: str, variant: str, params: dict[str, Any], pred_path: Path) -> dict[str, Any]:
    """Fit + predict in a fresh interpreter; its own figures (MB, seconds) and the data's size."""
    proc = subprocess.run([sys.executable, "-c", _CHILD, mode, variant, json.dumps(params), str(pred_path)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"item-knn ({mode}) exited with {proc.returncode}: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(params: dict[str, Any], variant: str = "item-knn",
            echo: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """One row per contender (dense baseline first), with the ratio to the baseline and whether
    its test predictions are bitwise the baseline's."""
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-perf-itemknn-") as tmp:
        preds = {}
        for mode in CONTENDERS:
            path = Path(tmp) / f"{mode}.npy"
            got = run_one(mode, variant, params, path)
            preds[mode] = np.load(path)
            base = rows[0] if rows else None
            row = {"similarity": mode, "peak_mb": round(got["peak_mb"], 1),
                   "fit_increase_mb": round(got["peak_mb"] - got["rss_before_fit_mb"], 1),
                   "fit_s": round(got["fit_s"], 2), "predict_s": round(got["predict_s"], 2),
                   "peak_vs_dense": round(got["peak_mb"] / base["peak_mb"], 3) if base else 1.0,
                   "fit_s_vs_dense": round(got["fit_s"] / max(base["fit_s"], 1e-9), 3) if base else 1.0,
                   "same_predictions": bool(np.array_equal(preds[mode], preds[CONTENDERS[0]])),
                   "ratings": got["ratings"], "items": got["items"], "users": got["users"],
                   "fingerprint": got["fingerprint"]}
            echo(f"{mode:7s} peak {row['peak_mb']:8.1f} MB (fit +{row['fit_increase_mb']:.1f} MB)  fit "
                 f"{row['fit_s']:6.2f} s  predict {row['predict_s']:5.2f} s  same predictions: {row['same_predictions']}")
            rows.append(row)
    return rows
