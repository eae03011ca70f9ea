"""Which runs a suite's table shows and which record each one shows: the suite expanded by the registry (or, for plugins this scan lacks, the runs their records made), and per run the newest record made by the current code, else the newest one marked stale."""
from __future__ import annotations

import fnmatch
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


from bench.core import identity
from bench.plugins.registry import Registry
from bench.core.spec import RunRecord, RunSpec
from bench.results.store import Store
from bench.run.suite import Suite


def pick(records: list[RunRecord], method_id: str, dataset_id: str) -> tuple[RunRecord | None, bool]:
    """The newest record made by the current code (the method's and dataset's code identities,
    every fit the method depends on included: bench.core.identity); else the newest one, marked stale."""
    if not records:
        return None, False
    current = [r for r in records if r.method.get("identity") == method_id
               and r.dataset.get("identity") == dataset_id]
    pool = current or records
    return max(pool, key=lambda r: r.finished_at), not current


def current_ids(registry: Registry, spec: RunSpec) -> tuple[str, str] | None:
    """The code identities a record of ``spec`` must carry to be current (not stale); None when
    this scan lacks its method or dataset plugin (then its records cannot be checked)."""
    try:
        ids = identity.run_identity(registry, spec)
    except KeyError:
        return None
    return ids["method"], ids["dataset"]


@dataclass
class Plan:
    """The runs a suite's table shows: expanded by the registry, plus, for names this scan does
    not know (a plugin folder not given), the runs its records say they made."""

    specs: list[RunSpec]
    unverified: list[tuple[str, str]] = field(default_factory=list)  # ("method" | "dataset", name)


def plan(suite: Suite, registry: Registry, records: list[RunRecord], seeds: list[int] | None = None) -> Plan:
    """``seeds``: model seeds instead of the suite's (`bench table --seeds`)."""
    missing: list[tuple[str, str]] = []
    specs = suite.expand(registry, missing=missing, seeds=seeds)
    if not missing:
        return Plan(specs)
    gone_ds = {n for w, n in missing if w == "dataset"}
    gone_m = [n for w, n in missing if w == "method"]
    seen = {s.spec_id for s in specs}
    found: dict[str, RunSpec] = {}
    for rec in records:
        if rec.suite != suite.name or rec.spec_id in seen or "dataset" not in rec.spec:
            continue
        if rec.spec.get("seed") not in (seeds if seeds is not None else suite.seeds):
            continue
        if rec.spec["dataset"] in gone_ds or any(fnmatch.fnmatchcase(rec.spec["method"], p) for p in gone_m):
            found.setdefault(rec.spec_id, rec.run_spec())
    order = {d["name"]: i for i, d in enumerate(suite.datasets)}
    extra = sorted(found.values(), key=lambda s: (order.get(s.dataset, 99), s.split, s.split_seed, s.label, s.seed))
    return Plan(specs + extra, missing)


def records_by_id(store: Store) -> tuple[list[RunRecord], dict[str, list[RunRecord]]]:
    records = list(store.records())
    by_id: dict[str, list[RunRecord]] = defaultdict(list)
    for rec in records:
        by_id[rec.spec_id].append(rec)
    return records, by_id


def choose(registry: Registry, s: RunSpec, by_id: dict[str, list[RunRecord]]) -> tuple[RunRecord | None, bool]:
    ids = current_ids(registry, s)
    recs = by_id.get(s.spec_id, [])
    if ids is None:  # the plugin is not at hand: the newest record, not checked (the section says so)
        return (max(recs, key=lambda r: r.finished_at) if recs else None), False
    return pick(recs, *ids)


def dataset_card(registry: Registry, name: str, recs: list[RunRecord]) -> dict[str, Any]:
    """What a section needs to know about its dataset: from its plugin, else from its records."""
    try:
        cls = registry.dataset(name).cls
        return {"kind": cls.kind, "metrics": list(cls.metrics), "synthetic": bool(cls.synthetic)}
    except KeyError:
        d = recs[0].dataset if recs else {}
        return {"kind": d.get("kind", ""), "metrics": list(d.get("metrics", [])), "synthetic": bool(d.get("synthetic"))}


def supported(registry: Registry, spec: RunSpec) -> bool:
    """Whether the run can happen: its method supports its dataset's task kind (a plugin this scan
    lacks: its records exist, so yes)."""
    try:
        kind = registry.dataset(spec.dataset).cls.kind
    except KeyError:
        return True
    return kind in kinds(registry, spec.method, kind)


def kinds(registry: Registry, variant: str, kind: str) -> tuple[str, ...]:
    """The task kinds a method variant supports; a variant this scan lacks ran, so it supports ``kind``."""
    try:
        return tuple(registry.method(variant).cls.kinds)
    except KeyError:
        return (kind,)


def outside_seeds(suite: Suite, registry: Registry, records: list[RunRecord],
                  by_id: dict[str, list[RunRecord]], shown: set[int]) -> list[RunSpec]:
    """The suite's runs recorded with model seeds its table does not show (a `bench run --seeds`
    beyond the suite's), so that the table can say so instead of hiding them."""
    extra = sorted({r.spec["seed"] for r in records if r.suite == suite.name
                    and isinstance(r.spec.get("seed"), int)} - set(shown))
    if not extra:
        return []
    return [s for s in suite.expand(registry, seeds=extra, missing=[]) if by_id.get(s.spec_id)]


def suite_arg(suite: Suite, registry: Registry) -> str:
    """What to pass to `bench ... --suite` to name this suite again: its name when the registry
    finds it by that name, else its file's path (relative to the working folder when inside it)."""
    known = registry.suites.get(suite.name)
    if known is not None and Path(known).resolve() == Path(suite.path).resolve():
        return suite.name
    path = Path(suite.path).resolve()
    try:
        return str(path.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
