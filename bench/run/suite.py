"""Suite files (TOML): which datasets, methods, seeds and table layout; expanded into RunSpecs.

A list value in ``params`` is a sweep (expanded as a product, benchopt's way); to pass a list
as one value, wrap it: ``layers = [[1000, 500]]``.

Seeds and splits: ``seeds = [0, 1, 2]`` are model seeds (initialisation, batch order) on one
fixed split. ``split_seeds = [0, 1, 2]`` (top level, or in a ``[[datasets]]`` entry, which wins;
default ``[0]``) also redraws a seeded split (``Dataset.seeded_splits``): the runs are the full
product split seeds × model seeds, the model seed used as is on every draw (not derived from
the split seed). A fixed split (official, time-ordered) refuses split seeds other than 0.
``folds = [...]`` runs several named splits. Every draw and fold has its own fingerprint; the
table pools them in one section, mean ± std over folds × split seeds × model seeds, paired
tests pairing runs on the same (fold, split seed, model seed), and its footnote says which.
"""
from __future__ import annotations

import fnmatch
import itertools
import numbers
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.run.limits import parse_memory, parse_timeout
from bench.run.suite_reference import parse_reference
from bench.plugins.registry import Registry
from bench.core.spec import RunSpec

AUTO = "auto"  # a default meaning "worked out at fit time": its parameter takes any type

_TOP_KEYS = {"description", "seeds", "split_seeds", "datasets", "methods", "table", "timeout", "memory_limit"}
_DATASET_KEYS = {"name", "split", "folds", "split_seeds", "params"}
_METHOD_KEYS = {"variant", "params", "label", "column", "datasets", "timeout", "memory_limit"}
_TABLE_KEYS = {"rows", "columns", "metrics", "reference", "title", "column_labels", "compare_to", "test",
               "tolerance"}


class SuiteError(ValueError):
    """A suite file is malformed; the message names the file (and the line when TOML says it)."""


@dataclass
class TableLayout:
    columns: list[str] = field(default_factory=list)  # method params that split columns
    metrics: list[str] = field(default_factory=list)  # empty = the dataset's metrics
    reference: dict[str, dict[str, Any]] = field(default_factory=dict)  # row -> {column: value}
    # a section's own reference rows, by "dataset/split"; they replace `reference` there
    section_reference: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    column_labels: dict[str, str] = field(default_factory=dict)
    title: str = ""
    compare_to: str = ""  # row label or variant the paired tests compare every other row with
    test: str = "t-test"  # t-test | wilcoxon, paired over seeds
    # `bench table --check` tolerances (relative): {metric: tol} or {variant-or-label: {metric: tol}}
    tolerance: dict[str, Any] = field(default_factory=dict)

    def reference_for(self, dataset: str, split: str) -> dict[str, dict[str, Any]]:
        """The reference rows of one table section: its own ("dataset/split"), else the plain ones."""
        return self.section_reference.get(f"{dataset}/{split}", self.reference)


@dataclass
class Suite:
    name: str
    path: Path
    description: str
    seeds: list[int]
    datasets: list[dict[str, Any]]
    methods: list[dict[str, Any]]
    table: TableLayout
    timeout: float | None = None  # seconds per run, unless a method entry sets its own
    memory_limit_mb: float | None = None
    split_seeds: list[int] = field(default_factory=lambda: [0])  # draws of seeded splits (× seeds)

    def expand(self, registry: Registry, methods: list[str] | None = None,
               datasets: list[str] | None = None, seeds: list[int] | None = None,
               missing: list[tuple[str, str]] | None = None) -> list[RunSpec]:
        """All runs of the suite, optionally filtered by method / dataset globs and seeds.

        ``missing``: a list to collect ("dataset" | "method", name) for the names this registry
        does not know (a plugin folder not given), which are then skipped instead of an error:
        rendering shows those rows from their records (bench.report.table)."""
        specs: list[RunSpec] = []
        for d in self.datasets:
            if datasets and not any(_dataset_matches(registry, d, p) for p in datasets):
                continue
            if missing is not None and d["name"] not in registry.datasets and not _fallback_knows(registry, "dataset", d["name"]):
                missing.append(("dataset", d["name"]))
                continue
            ds_entry = registry.dataset(d["name"])
            for key, value in d.get("params", {}).items():
                self._check_param(ds_entry.cls, f'dataset "{d["name"]}"', key, value)
            try:
                ds = ds_entry.cls(**d.get("params", {}))
            except TypeError as exc:  # an unknown parameter: name the suite file and entry
                raise SuiteError(f"{self.path}: [[datasets]] \"{d['name']}\": {exc}") from None
            folds = [ds.check_split(f) for f in d.get("folds", [])]
            group = ",".join(folds)
            for split in folds or [ds.check_split(d.get("split"))]:
                for split_seed in self._split_seeds(ds, d, split):
                    specs += self._expand_split(registry, d, split, group, methods, datasets, seeds,
                                                split_seed, missing)
        return specs

    def _split_seeds(self, ds, d: dict[str, Any], split: str) -> list[int]:
        """The split seeds of a dataset entry (its own, else the suite's), checked against the split."""
        split_seeds = d.get("split_seeds", self.split_seeds)
        try:
            return [ds.check_split_seed(split, s) for s in split_seeds]
        except ValueError as exc:
            raise SuiteError(f"{self.path}: [[datasets]] {d['name']}: {exc}") from None

    def _expand_split(self, registry: Registry, d: dict[str, Any], split: str, group: str,
                      methods: list[str] | None, datasets: list[str] | None,
                      seeds: list[int] | None, split_seed: int = 0,
                      missing: list[tuple[str, str]] | None = None) -> list[RunSpec]:
        """The runs of every method entry on one draw of one dataset split."""
        specs: list[RunSpec] = []
        for m in self.methods:
            if m.get("datasets") and not any(fnmatch.fnmatchcase(d["name"], p) for p in m["datasets"]):
                continue
            variants = registry.match_methods([m["variant"]])
            if not variants and missing is not None and not _fallback_knows(registry, "method", m["variant"]):
                if ("method", m["variant"]) not in missing:
                    missing.append(("method", m["variant"]))
                continue
            if not variants:
                registry.method(m["variant"])  # raises with close matches
            for variant in variants:
                if methods and not any(fnmatch.fnmatchcase(variant, p) for p in methods):
                    continue
                entry = registry.method(variant)
                timeout = m.get("timeout", self.timeout)
                memory = m.get("memory_limit_mb", self.memory_limit_mb)
                where = f'method "{m["variant"]}"'
                if variant != m["variant"]:  # a glob: say which variant it matched
                    where += f" (variant {variant})"
                for overrides in _sweep(m.get("params", {})):
                    for key, value in overrides.items():
                        self._check_param(entry.cls, where, key, value)
                    params = entry.resolved_params(overrides)
                    try:
                        entry.cls(**params)  # unknown parameters fail here, before any run
                    except TypeError as exc:
                        raise SuiteError(f"{self.path}: {where}: {exc}") from None
                    label = m.get("label") if len(variants) == 1 else None
                    for seed in (seeds if seeds is not None else self.seeds):
                        specs.append(RunSpec(
                            suite=self.name, dataset=d["name"],
                            dataset_params=tuple(sorted(d.get("params", {}).items())),
                            split=split, method=variant, params=tuple(sorted(params.items())),
                            overrides=tuple(sorted(overrides.items())), seed=int(seed),
                            label=label or variant, column=m.get("column", ""), group=group,
                            split_seed=split_seed, timeout=timeout, memory_limit_mb=memory))
        return specs

    def _check_param(self, cls: type, where: str, name: str, value: Any) -> None:
        """A suite value of the wrong type fails at planning, naming the file, entry and parameter."""
        types = expected_types(cls, name)
        if types is None or _accepts(types, value):
            return
        default = f" (its default is {cls.defaults[name]!r})" if name in cls.defaults else ""
        raise SuiteError(f"{self.path}: {where}: parameter {name} = {value!r} should be "
                         f"{_type_names(types)}{default}")


def parse_dataset_ref(text: str) -> tuple[str, dict[str, Any]]:
    """``name`` or ``name[param=value,...]`` (as tables title a dataset with parameters) -> the name
    (a glob, for filters) and its parameters; a value reads as in a suite file (a number, true,
    a quoted string), else as plain text: ``movielens[release=ml-latest-small]``."""
    text = text.strip()
    if not (text.endswith("]") and "[" in text and "=" in text[text.index("["):]):
        return text, {}
    name, _, inner = text[:-1].partition("[")
    params: dict[str, Any] = {}
    for item in filter(None, (x.strip() for x in inner.split(","))):
        key, sep, value = (x.strip() for x in item.partition("="))
        if not sep or not key:
            raise ValueError(f"{text!r}: {item!r} is not param=value; write name[param=value,...], "
                             "e.g. movielens[release=ml-latest-small]")
        try:
            params[key] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            params[key] = value
    return name.strip(), params


def split_refs(values: tuple[str, ...] | list[str]) -> list[str]:
    """Comma-separated dataset references, keeping the commas inside name[a=1,b=2] together."""
    out: list[str] = []
    for item in values:
        depth, start = 0, 0
        for i, ch in enumerate(item + ","):
            depth += {"[": 1, "]": -1}.get(ch, 0)
            if ch == "," and depth <= 0:
                if item[start:i].strip():
                    out.append(item[start:i].strip())
                start = i + 1
    return out


def _dataset_matches(registry: Registry, d: dict[str, Any], pattern: str) -> bool:
    """A suite's [[datasets]] entry against a --datasets pattern: its name glob, and the values of
    the parameters it names (the entry's own, else the dataset's defaults)."""
    name, params = parse_dataset_ref(pattern)
    if not fnmatch.fnmatchcase(d["name"], name):
        return False
    entry = registry.datasets.get(d["name"])
    have = {**(dict(entry.cls.defaults) if entry else {}), **d.get("params", {})}
    return all(k in have and have[k] == v for k, v in params.items())


def expected_types(cls: type, name: str) -> tuple[type, ...] | None:
    """The types a plugin parameter accepts: its ``param_types`` entry, else its default's type.

    None means anything: a ``None`` or ``"auto"`` default (a value worked out at fit time, which
    plugins let callers set to a value of another type, e.g. random-forest's ``max_features``),
    or a parameter the plugin does not know (its constructor reports that). A float also takes
    ints; a tuple or list takes either."""
    declared = getattr(cls, "param_types", None) or {}
    defaults = getattr(cls, "defaults", None) or {}
    if name in declared:
        t = declared[name]
        types = tuple(t) if isinstance(t, (tuple, list)) else (t,)
    elif defaults.get(name) is None or (isinstance(defaults[name], str) and defaults[name] == AUTO):
        return None
    else:
        types = (_default_type(defaults[name]),)
    if float in types:
        types += (int,)
    if list in types or tuple in types:
        types += (list, tuple)
    return tuple(dict.fromkeys(types))


def _default_type(default: Any) -> type:
    """The plain type a default stands for (a numpy integer is an int, a tuple a list)."""
    for t in (bool, str, dict):
        if isinstance(default, t):
            return t
    if isinstance(default, numbers.Integral):
        return int
    if isinstance(default, numbers.Real):
        return float
    if isinstance(default, (list, tuple)):
        return list
    return type(default)


def _accepts(types: tuple[type, ...], value: Any) -> bool:
    """isinstance, except that a bool is not an int (or a float) unless bool is named."""
    if isinstance(value, bool) and bool not in types and object not in types:
        return False
    return isinstance(value, types)


def _type_names(types: tuple[type, ...]) -> str:
    names = ["None" if t is type(None) else t.__name__ for t in types]
    if "float" in names and "int" in names:
        names.remove("int")  # "float" already says a number
    if "list" in names and "tuple" in names:
        names.remove("tuple")  # a suite file writes both as a list
    return " or ".join(names)


def _sweep(params: dict[str, Any]) -> list[dict[str, Any]]:
    keys = list(params)
    values = [v if isinstance(v, list) else [v] for v in params.values()]
    return [dict(zip(keys, combo)) for combo in itertools.product(*values)] or [{}]


def _check_keys(where: str, table: dict, allowed: set[str], path: Path) -> None:
    extra = set(table) - allowed
    if extra:
        raise SuiteError(f"{path}: unknown key(s) {', '.join(sorted(extra))} in {where}; "
                         f"allowed: {', '.join(sorted(allowed))}")


def load_suite(path: Path, name: str | None = None) -> Suite:
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise SuiteError(f"{path}: not valid TOML: {exc}") from None
    _check_keys("the top level", raw, _TOP_KEYS, path)
    datasets = raw.get("datasets") or []
    methods = raw.get("methods") or []
    if not datasets or not methods:
        raise SuiteError(f"{path}: a suite needs at least one [[datasets]] and one [[methods]] entry")
    for i, d in enumerate(datasets):
        _check_keys(f"[[datasets]] #{i + 1}", d, _DATASET_KEYS, path)
        if "name" not in d:
            raise SuiteError(f"{path}: [[datasets]] #{i + 1} has no name")
        if "folds" in d and ("split" in d or not isinstance(d["folds"], list) or not d["folds"]
                             or not all(isinstance(f, str) for f in d["folds"])):
            raise SuiteError(f"{path}: [[datasets]] #{i + 1}: `folds` is a non-empty list of split names "
                             "(pooled in one table like seeds) and replaces `split`")
        if "split_seeds" in d:
            _check_split_seeds(d["split_seeds"], f"{path}: [[datasets]] #{i + 1}")
    for i, m in enumerate(methods):
        _check_keys(f"[[methods]] #{i + 1}", m, _METHOD_KEYS, path)
        if "variant" not in m:
            raise SuiteError(f"{path}: [[methods]] #{i + 1} has no variant")
    t = raw.get("table", {})
    _check_keys("[table]", t, _TABLE_KEYS, path)
    for i, m in enumerate(methods):  # limits are checked and normalised once, here
        try:
            if "timeout" in m:
                m["timeout"] = parse_timeout(m["timeout"])
            if "memory_limit" in m:
                m["memory_limit_mb"] = parse_memory(m.pop("memory_limit"))
        except ValueError as exc:
            raise SuiteError(f"{path}: [[methods]] #{i + 1}: {exc}") from None
    try:
        timeout, memory = parse_timeout(raw.get("timeout")), parse_memory(raw.get("memory_limit"))
    except ValueError as exc:
        raise SuiteError(f"{path}: {exc}") from None
    seeds = raw.get("seeds", [0])
    if not isinstance(seeds, list) or not all(isinstance(s, int) for s in seeds):
        raise SuiteError(f"{path}: seeds must be a list of integers, got {seeds!r}")
    dupes = duplicates(seeds)
    if dupes:
        raise SuiteError(f"{path}: seeds list {', '.join(map(str, dupes))} more than once; "
                         "each seed is one run, so list it once")
    split_seeds = _check_split_seeds(raw.get("split_seeds", [0]), str(path))
    try:
        reference, section_reference = parse_reference(t.get("reference", {}), datasets, methods)
    except ValueError as exc:
        raise SuiteError(f"{path}: {exc}") from None
    return Suite(
        name=name or path.stem, path=path, description=raw.get("description", ""), seeds=seeds,
        datasets=datasets, methods=methods, timeout=timeout, memory_limit_mb=memory, split_seeds=split_seeds,
        table=TableLayout(columns=list(t.get("columns", [])), metrics=list(t.get("metrics", [])),
                          reference=reference, section_reference=section_reference,
                          column_labels=dict(t.get("column_labels", {})), title=t.get("title", ""),
                          compare_to=str(t.get("compare_to", "")), test=_test_name(t, path),
                          tolerance=dict(t.get("tolerance", {}))))


def duplicates(values: list) -> list:
    """Values that occur more than once (a repeated seed would be one run recorded twice)."""
    return [v for v, n in Counter(values).items() if n > 1]


def _check_split_seeds(value: Any, where: str) -> list[int]:
    """``split_seeds``: a non-empty list of distinct non-negative integers (0 = the default draw)."""
    if (not isinstance(value, list) or not value
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in value)
            or len(set(value)) != len(value)):
        raise SuiteError(f"{where}: split_seeds must be a non-empty list of distinct non-negative "
                         f"integers (0 = the dataset's default draw), got {value!r}")
    return value


def _test_name(t: dict, path: Path) -> str:
    test = t.get("test", "t-test")
    if test not in ("t-test", "wilcoxon"):
        raise SuiteError(f"{path}: [table] test must be 't-test' or 'wilcoxon', not {test!r}")
    return test


def _fallback_knows(registry: Registry, what: str, name: str) -> bool:
    """Whether ``registry`` can resolve ``name`` at all (a worker's partial registry asks its full scan)."""
    try:
        registry.dataset(name) if what == "dataset" else registry.method(name)
        return True
    except KeyError:
        return False
