"""RunSpec (what to run) and RunRecord (what happened): plain data, hashable keys."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from bench.core.identity import stable_hash as _stable_hash


@dataclass(frozen=True)
class RunSpec:
    """One run: a method variant with resolved parameters on one dataset split, one seed.

    ``seed`` is the model seed (initialisation, batch order); ``split_seed`` picks the draw of a
    seeded split (0 = the dataset's default draw, the only one before suites could resample).
    """

    suite: str
    dataset: str
    dataset_params: tuple
    split: str
    method: str
    params: tuple  # fully resolved (defaults < variant < suite)
    seed: int
    overrides: tuple = ()  # what the suite set: shown in tables to tell columns apart
    label: str = ""  # table row
    column: str = ""  # table column group, when the suite names one (e.g. "with EE")
    group: str = ""  # splits pooled in one table section, like seeds (a suite's `folds`), e.g. "u1,u2,u3"
    split_seed: int = 0  # the split's draw (a suite's `split_seeds`); in the identity only when not 0
    # limits from the suite (method entry, else the suite default); not part of the identity
    timeout: float | None = None  # seconds of fit + predict before the worker is killed
    memory_limit_mb: float | None = None  # worker resident memory (MiB) before it is killed

    @property
    def identity(self) -> dict[str, Any]:
        """What makes two runs the same experiment, independent of code versions. A split seed of
        0 is left out, so runs recorded before split seeds existed keep their spec_id."""
        ident = {"dataset": self.dataset, "dataset_params": dict(self.dataset_params),
                 "split": self.split, "method": self.method, "params": dict(self.params),
                 "seed": self.seed}
        if self.split_seed:
            ident["split_seed"] = self.split_seed
        return ident

    @property
    def spec_id(self) -> str:
        return _stable_hash(self.identity)

    def key(self, fingerprint: str, method_hash: str, dataset_hash: str, threads: int | None = None) -> str:
        """The record key: the experiment plus the split, the code identities of the method (with
        every fit it depends on) and of the dataset (bench.core.identity), and the CPU thread count."""
        return _stable_hash({**self.identity, "fingerprint": fingerprint, "method_code": method_hash,
                             "dataset_code": dataset_hash, "threads": threads})

    def describe(self) -> str:
        ov = ", ".join(f"{k}={v}" for k, v in self.overrides)
        where = f"{self.dataset}/{self.split}" + (f" split seed {self.split_seed}" if self.split_seed else "")
        return f"{self.method}{'[' + ov + ']' if ov else ''} on {where} seed {self.seed}"


STATUSES = ("ok", "failed", "timeout", "oom", "crashed")
FAILED = STATUSES[1:]


@dataclass
class RunRecord:
    """What happened in one run. ``status`` is one of:

    - ``ok``: fitted, predicted and scored;
    - ``failed``: the method raised, or returned unusable predictions (NaN, wrong shape);
    - ``timeout``: passed its time limit and was killed;
    - ``oom``: passed its memory limit and was killed, or raised MemoryError / CUDA out of memory;
    - ``crashed``: the worker process died (segfault, ``os._exit``, killed by a signal).

    Every non-ok record says why in ``error``; ``info["stderr_tail"]`` holds the last lines the
    worker wrote to stderr. Non-ok records are never treated as results: a re-run redoes them.
    """

    key: str
    spec_id: str
    spec: dict[str, Any]
    status: str  # see STATUSES
    metrics: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    fit_seconds: float | None = None
    predict_seconds: float | None = None
    peak_memory_mb: float | None = None
    device: str = ""
    hardware: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    split: dict[str, Any] = field(default_factory=dict)  # name, fingerprint, sizes
    dataset: dict[str, Any] = field(default_factory=dict)  # name, synthetic, params, source hash, identity
    method: dict[str, Any] = field(default_factory=dict)  # family, origin, source hash, identity
    threads: int | None = None  # CPU threads the run used (torch, OpenMP, BLAS): part of the key
    history: list[dict[str, Any]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    suite: str = ""
    label: str = ""
    overrides: dict[str, Any] = field(default_factory=dict)
    # the suite's table layout of this run (column group, pooled splits): with spec, label and
    # overrides, what a table needs to show the run when the plugin that made it is not at hand
    layout: dict[str, Any] = field(default_factory=dict)
    command: str = ""
    started_at: str = ""
    finished_at: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def run_spec(self) -> RunSpec:
        """The RunSpec this record ran (its identity, row label and layout), rebuilt from the record."""
        s = self.spec
        return RunSpec(suite=self.suite, dataset=s["dataset"], dataset_params=_items(s.get("dataset_params", {})),
                       split=s["split"], method=s["method"], params=_items(s.get("params", {})), seed=int(s["seed"]),
                       overrides=_items(self.overrides), label=self.label or s["method"],
                       column=self.layout.get("column", ""), group=self.layout.get("group", ""),
                       split_seed=int(s.get("split_seed", 0)))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RunRecord":
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in known})


def _items(d: dict[str, Any]) -> tuple:
    """A JSON dict back as RunSpec's sorted item tuple (lists stay lists: they hash like tuples)."""
    return tuple(sorted(d.items()))
