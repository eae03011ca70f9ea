"""Figures render headless to real PNG files with the content they claim."""
from __future__ import annotations

import numpy as np
import pytest

from bench.report import plots
from bench.core.spec import RunRecord

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _record(label: str, losses: list[float]) -> RunRecord:
    hist = [{"epoch": i + 1, "train_loss": l, "valid_mape": l / 2, "lr": 1e-3, "seconds": 1.0}
            for i, l in enumerate(losses)]
    return RunRecord(key=label, spec_id=label, spec={"seed": 0}, status="ok", label=label, history=hist)


def test_learning_curves_png(tmp_path):
    out = plots.learning_curves([_record("ee", [1.0, 0.5, 0.3]), _record("mlp", [1.2, 0.7, 0.4])],
                                tmp_path / "curves.png", title="t")
    data = out.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 5000


def test_learning_curves_without_history_is_an_error(tmp_path):
    rec = RunRecord(key="k", spec_id="k", spec={}, status="ok", label="knn")
    with pytest.raises(ValueError, match="no run with a per-epoch history"):
        plots.learning_curves([rec], tmp_path / "x.png")


def test_pca_2d_recovers_the_dominant_direction():
    rng = np.random.default_rng(0)
    t = rng.normal(size=200)
    m = np.column_stack([t * 10, t * 10 + rng.normal(scale=0.01, size=200), rng.normal(scale=0.1, size=200)])
    xy = plots.pca_2d(m)
    assert xy.shape == (200, 2)
    assert abs(np.corrcoef(xy[:, 0], t)[0, 1]) > 0.999
    assert xy[:, 0].var() > 100 * xy[:, 1].var()


def test_embedding_projection_png_and_unknown_column(tmp_path):
    emb = {"state": np.random.default_rng(0).normal(size=(12, 6)), "store": np.ones((50, 10))}
    labels = {"state": [f"S{i}" for i in range(12)]}
    out = plots.embedding_projection(emb, labels, ["state", "store"], tmp_path / "emb.png")
    assert out.read_bytes()[:8] == PNG_MAGIC
    with pytest.raises(KeyError, match="no embedding for column 'day'"):
        plots.embedding_projection(emb, labels, ["day"], tmp_path / "bad.png")


def _sections_with_failure(tmp_path):
    from bench.report.table import Cell, Section

    def cell(vals, **kw):
        return Cell(values=vals, status="ok" if vals else kw.pop("status", "missing"), seeds=list(range(len(vals))), **kw)

    s1 = Section(title="a / x", headers=["MAPE", "fit s"], notes=[], headline=[("MAPE", "")],
                 rows=[("m1", [cell([0.1, 0.12]), cell([1.0, 2.0], kind="seconds")]),
                       ("m2", [cell([], status="timeout"), cell([], status="timeout", kind="seconds")])])
    s2 = Section(title="b / y", headers=["accuracy", "fit s"], notes=[], headline=[("accuracy", "")],
                 lower_is_better=False,
                 rows=[("m1", [cell([0.9]), cell([0.5], kind="seconds")]),
                       ("m2", [cell([0.8]), cell([3.0], kind="seconds")])])
    return [s1, s2]


def test_metric_bars_and_time_scatter_png(tmp_path):
    sections = _sections_with_failure(tmp_path)
    bars = plots.metric_bars(sections, tmp_path / "bars.png", title="t")
    scatter = plots.time_vs_metric(sections, tmp_path / "scatter.png", title="t")
    for p in (bars, scatter):
        data = p.read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 5000


def test_scatter_without_times_is_an_error(tmp_path):
    sections = _sections_with_failure(tmp_path)
    for s in sections:
        s.rows = [(label, [cells[0]]) for label, cells in s.rows]
        s.headers = s.headers[:1]
    with pytest.raises(ValueError, match="no run with both a fit time and a metric"):
        plots.time_vs_metric(sections, tmp_path / "x.png")

def _depth_record(variant: str, train_err: list[float], valid_acc: list[float], test_acc: float) -> RunRecord:
    hist = [{"epoch": i + 1, "train_loss": 1.0, "train_error": t, "valid_accuracy": v, "lr": 0.1, "seconds": 1.0}
            for i, (t, v) in enumerate(zip(train_err, valid_acc))]
    hist.append({"epoch": len(hist), "note": "a note row"})
    return RunRecord(key=variant, spec_id=variant, spec={"method": variant, "seed": 0}, status="ok",
                     label=variant, history=hist, metrics={"accuracy": test_acc}, hardware="test CPU")


def test_depth_curves_png_and_table(tmp_path):
    recs = [_depth_record("plain-20", [0.5, 0.2], [0.6, 0.8], 0.79),
            _depth_record("plain-56", [0.6, 0.3], [0.5, 0.7], 0.69),
            _depth_record("resnet-20", [0.5, 0.15], [0.6, 0.85], 0.84),
            _depth_record("resnet-56", [0.4, 0.1], [0.7, 0.9], 0.895),
            _depth_record("resnet-fast", [0.3, 0.1], [0.8, 0.9], 0.9)]  # not a depth network: left out
    out = plots.depth_curves(recs, tmp_path / "depth.png", title="t")
    data = out.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 5000
    table = plots.depth_table(recs[:4])
    assert "| resnet-56 | 2 | 10.00 % | 10.00 % | 10.50 % | test CPU |" in table
    assert "| plain-56 | 2 | 30.00 % | 30.00 % | 31.00 % |" in table


def test_depth_curves_without_depth_runs_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="no run of a plain or resnet network"):
        plots.depth_curves([_depth_record("resnet-fast", [0.3], [0.8], 0.9)], tmp_path / "x.png")
