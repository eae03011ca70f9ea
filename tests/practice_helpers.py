"""Helpers of the practice page tests: hand-built runs (a spec and its record, with the numbers a
test needs) and the practice suites' embedded twins: the same entries, labels and sweeps on
embedded data (rossmann-sim for Rossmann, scikit-learn's digits for the CIFAR-10 subset), tiny
networks and two epochs, so a test runs a practice suite's structure in seconds."""
from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Any

from bench.core.spec import RunRecord, RunSpec

ROOT = Path(__file__).resolve().parents[1]
DATASETS = {"rossmann": ("rossmann-sim", {"train_rows": 600, "valid_rows": 200}), "cifar10": ("digits", {})}
SMALL = {"ee": {"hidden": [[32, 16]]}, "resnet-20": {"widths": [[4, 8, 8]], "augment": False, "batch_size": 32}}


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_value(str(k))} = {_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"no TOML for {v!r}")


def to_toml(suite: dict[str, Any]) -> str:
    """A suite dict as TOML: top-level values, then [[datasets]], [[methods]] and [table]."""
    lines = [f"{k} = {_value(v)}" for k, v in suite.items() if not isinstance(v, (dict, list)) or k == "seeds"]
    for key in ("datasets", "methods"):
        for entry in suite.get(key, []):
            lines += ["", f"[[{key}]]"] + [f"{k} = {_value(v)}" for k, v in entry.items()]
    if suite.get("table"):
        lines += ["", "[table]"] + [f"{k} = {_value(v)}" for k, v in suite["table"].items()]
    return "\n".join(lines) + "\n"


def embedded_twin(name: str, folder: Path, seeds: tuple[int, ...] = (0,), epochs: int = 2) -> Path:
    """suites/NAME.toml on embedded data, written as FOLDER/NAME.toml (same name: same pages)."""
    suite = tomllib.loads((ROOT / "suites" / f"{name}.toml").read_text())
    suite["seeds"] = list(seeds)
    suite.pop("timeout", None)
    for d in suite["datasets"]:
        d["name"], params = DATASETS[d["name"]]
        d.pop("params", None)
        if params:
            d["params"] = params
    for m in suite["methods"]:
        m["datasets"] = [DATASETS[x][0] for x in m.get("datasets", [])]
        params = dict(m.get("params", {}))
        params.update(SMALL["ee" if m["variant"].startswith("ee") else m["variant"]])
        params["epochs"] = epochs
        m["params"] = params
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.toml"
    path.write_text(to_toml(suite))
    return path


METRICS = {"mape": ("MAPE", True), "accuracy": ("Accuracy", False)}


def run(label: str, *, lr: float = 0.01, seed: int = 0, test: float | None = 0.5,
        valid: list[float] | None = None, train: list[float] | None = None, task: str = "toyset",
        metric: str = "mape", status: str = "ok", error: str | None = None, diverged_at: int | None = None,
        restore_best: bool = True, fit_seconds: float = 1.0, **params: Any) -> tuple[RunSpec, RunRecord]:
    """A planned run and its record: per-epoch ``valid`` scores and ``train`` losses (default: two
    epochs), the test score ``test``; ``diverged_at`` ends the history as bench.nn.fit does when a
    loss turns NaN at that epoch."""
    valid = valid if valid is not None else [0.6, 0.55]
    train = train if train is not None else [1.0 - 0.1 * i for i in range(len(valid))]
    history: list[dict[str, Any]] = [{"epoch": i + 1, "train_loss": t, f"valid_{metric}": v, "lr": lr}
                                     for i, (t, v) in enumerate(zip(train, valid))]
    if diverged_at is not None:
        history = history[:diverged_at - 1]
        history.append({"epoch": diverged_at, "train_loss": math.nan, f"valid_{metric}": math.nan, "lr": lr})
        history.append({"epoch": diverged_at, "note": f"diverged at epoch {diverged_at} (non-finite loss or metric)"})
    all_params = {"lr": lr, "restore_best": restore_best, "epochs": len(valid), "batch_size": 32, **params}
    spec = RunSpec(suite="toy", dataset=task, dataset_params=(), split="random", method="toy-net",
                   params=tuple(sorted(all_params.items())), seed=seed, label=label)
    label_text, lower = METRICS[metric]
    rec = RunRecord(key=f"{label}-{lr}-{seed}-{task}", spec_id=spec.spec_id, spec={**spec.identity}, status=status,
                    metrics={metric: test} if status == "ok" and test is not None else {}, error=error,
                    fit_seconds=fit_seconds, history=history, label=label, suite="toy", threads=1,
                    dataset={"name": task, "metrics": [metric], "params": {},
                             "metric_info": {metric: {"label": label_text, "lower_is_better": lower}}},
                    split={"name": "random", "fingerprint": "f00d", "sizes": {"train": 320, "valid": 80, "test": 80}},
                    command="bench run --suite toy", started_at=f"2026-01-01T00:00:{seed:02d}")
    return spec, rec
