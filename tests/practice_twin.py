"""The practice suites' embedded twins: the same entries, labels and sweeps on embedded data
(rossmann-sim for Rossmann, scikit-learn's digits for the CIFAR-10 subset), tiny networks and
two epochs, so a test runs a practice suite's structure in seconds and renders its page."""
from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

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


def embedded_twin(name: str, folder: Path, seeds: tuple[int, ...] = (0, 1), epochs: int = 2) -> Path:
    """suites/NAME.toml on embedded data, written as FOLDER/NAME.toml (same name: same pages)."""
    suite = tomllib.loads((ROOT / "suites" / f"{name}.toml").read_text())
    suite["seeds"] = list(seeds)
    suite.pop("timeout", None)
    for d in suite["datasets"]:
        d["name"], params = DATASETS[d["name"]]
        d.pop("split", None) if d["name"] == "digits" else None
        d["params"] = params
        if not params:
            del d["params"]
    for m in suite["methods"]:
        m["datasets"] = [DATASETS[x][0] for x in m.get("datasets", [])]
        params = dict(m.get("params", {}))
        params.update(SMALL.get(m["variant"].split("-")[0] if m["variant"].startswith("ee") else m["variant"], {}))
        params["epochs"] = epochs
        m["params"] = params
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.toml"
    path.write_text(to_toml(suite))
    return path
