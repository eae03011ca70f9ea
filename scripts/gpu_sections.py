"""What scripts/gpu_all.py runs beyond CIFAR-10: the ee-paper network rows on Rossmann (with their
speed-up over the committed CPU records) and one short run of every torch method family; plus the
suite files that let ``bench table`` / ``bench report`` find those records again.

Everything here works on bench's own objects (registry, RunSpec, RunRecord, Store); nothing is
fitted here: gpu_all.py runs the specs through the runner.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

# Where a family proves it runs, by task kind: the prepared real data when there is some, else the
# embedded stand-in. (dataset, dataset params, split); None: the CIFAR-10 parts, built in gpu_all.
REAL = {"regression": ("rossmann", {"train_rows": 5000, "valid_rows": 1000}, "paper"),
        "rating": ("movielens", {}, "u1")}
EMBEDDED = {"regression": ("rossmann-sim", {}, "paper"), "rating": ("movielens-sim", {}, "random")}


def is_network(registry, variant: str) -> bool:
    """A torch method (a subclass of bench.methods.torch.TorchMethod): the ones a GPU speeds up."""
    from bench.methods.torch import TorchMethod

    return issubclass(registry.method(variant).cls, TorchMethod)


def with_overrides(registry, spec, method: dict | None = None, dataset: dict | None = None):
    """``spec`` with extra method overrides (re-resolved) and dataset parameters, e.g. for a quick check."""
    if not method and not dataset:
        return spec
    overrides = {**dict(spec.overrides), **(method or {})}
    params = registry.method(spec.method).resolved_params(overrides)
    return dataclasses.replace(spec, params=tuple(sorted(params.items())), overrides=tuple(sorted(overrides.items())),
                               dataset_params=tuple(sorted({**dict(spec.dataset_params), **(dataset or {})}.items())))


def ee_paper_specs(registry, suite_path: Path, split: str = "paper", seed: int = 0,
                   method: dict | None = None, dataset: dict | None = None):
    """The suite and its network runs on rossmann/``split`` for one seed, single nets first (cheap
    and the suite's headline rows), then the 5-net averages, each group in the suite's order."""
    from bench.run.suite import load_suite

    suite = load_suite(Path(suite_path))
    specs = [s for s in suite.expand(registry, datasets=["rossmann"], seeds=[seed], missing=[])
             if s.split == split and is_network(registry, s.method)]
    specs = [with_overrides(registry, s, method, dataset) for s in specs]
    return suite, sorted(specs, key=lambda s: int(dict(s.params).get("ensemble", 1)) > 1)


def _plain(value):
    """A value as JSON reads it back (tuples become lists), to compare a spec with a record."""
    return json.loads(json.dumps(value, default=str))


def cpu_match(spec, records) -> tuple[object | None, list[str]]:
    """The newest ok CPU record of the same experiment as ``spec``, and the method parameters in which
    it differs: [] when its spec is the same (dataset, parameters, split, seed: device and threads
    never count); else the newest one with the same suite overrides whose defaults have since
    changed (their names listed); (None, []) when there is none."""
    cpu = [r for r in records if r.status == "ok" and str(r.device).startswith("cpu") and r.fit_seconds]
    exact = [r for r in cpu if r.spec_id == spec.spec_id]
    if exact:
        return max(exact, key=lambda r: r.finished_at), []
    ident = _plain(spec.identity)
    same = {k: ident[k] for k in ("dataset", "dataset_params", "split", "method", "seed")}
    close = [r for r in cpu if {k: _plain(r.spec.get(k, {} if k == "dataset_params" else None)) for k in same} == same
             and _plain(r.overrides) == _plain(dict(spec.overrides))
             and int(r.spec.get("split_seed", 0)) == spec.split_seed]
    if not close:
        return None, []
    rec = max(close, key=lambda r: r.finished_at)
    params = _plain(rec.spec.get("params", {}))
    return rec, sorted(k for k in set(params) | set(ident["params"]) if params.get(k) != ident["params"].get(k))


def speedup_cells(rec, cpu, differ: list[str], spec) -> tuple[str, str]:
    """(CPU fit seconds, speed-up) for the report; "no CPU record" when there is none."""
    if cpu is None:
        return "no CPU record", "n/a"
    mine, theirs = dict(spec.params), _plain(cpu.spec.get("params", {}))
    note = ""
    if differ:
        note = " (its defaults then / now: " + ", ".join(f"{k} {theirs.get(k)!r} / {mine.get(k)!r}"
                                                         for k in differ) + ")"
    cell = f"{cpu.fit_seconds:.1f} ({cpu.threads or '?'} threads, {cpu.finished_at[:10]}){note}"
    if rec is None or rec.status != "ok" or not rec.fit_seconds:
        return cell, "n/a"
    return cell, f"{cpu.fit_seconds / rec.fit_seconds:.1f}x"


def fits_summary(rec) -> str:
    """Epochs run and why training stopped: one net, or each member of an ensemble."""
    info = rec.info or {}
    fits = info.get("nn_fits") or ([{"epochs_run": info["epochs_run"], "stop_reason": info.get("stop_reason", "")}]
                                   if "epochs_run" in info else [])
    if not fits:
        return ""
    epochs = sorted({f.get("epochs_run") for f in fits}, key=str)
    reasons = sorted({f.get("stop_reason", "") for f in fits})
    return f"{'/'.join(map(str, epochs))} ({', '.join(reasons)})" + (f" x {len(fits)} nets" if len(fits) > 1 else "")


def families(registry) -> list[tuple[str, str]]:
    """(family, variant) of every torch family the registry knows, in its order: the variant named
    like the family when there is one, else the family's first. A new family is picked up as is."""
    out: dict[str, str] = {}
    for name, entry in registry.methods.items():
        if not is_network(registry, name):
            continue
        if entry.family not in out or name == entry.family:
            out[entry.family] = name
    return list(out.items())


def family_target(registry, variant: str, prepared: set[str], images: int):
    """(dataset, params, split) for a family's short run, or (None, reason): the first task kind it
    handles that has data here (prepared real data, else an embedded dataset of that kind)."""
    for kind in registry.method(variant).cls.kinds:
        if kind == "image-classification":
            if "cifar10" in prepared:
                return ("cifar10", {"valid_size": 5 * images, "train_per_class": images,
                                    "test_per_class": max(1, images // 2)}, "official"), ""
            continue
        if kind in REAL and REAL[kind][0] in prepared:
            return REAL[kind], ""
        if kind in EMBEDDED:
            return EMBEDDED[kind], ""
        for name, entry in registry.datasets.items():  # a kind added later: any embedded dataset of it
            if entry.cls.kind == kind and entry.cls.embedded:
                return (name, {}, entry.cls.splits[0]), ""
    return None, f"no data here for its kinds ({', '.join(registry.method(variant).cls.kinds)})"


def family_spec(registry, variant: str, target, seed: int = 0, epochs: int = 1):
    """The short run of ``variant`` on ``target``: ``epochs`` epochs when the family has that parameter."""
    from bench.core.spec import RunSpec

    dataset, dparams, split = target
    entry = registry.method(variant)
    overrides = {"epochs": epochs} if "epochs" in entry.resolved_params({}) else {}
    params = entry.resolved_params(overrides)
    return RunSpec(suite="gpu-families", dataset=dataset, dataset_params=tuple(sorted(dparams.items())),
                   split=split, method=variant, params=tuple(sorted(params.items())),
                   overrides=tuple(sorted(overrides.items())), seed=seed, label=f"{entry.family} ({variant})")


def _toml(v) -> str:
    """A suite file value: a list as one value (not a sweep), a dict as an inline table."""
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{json.dumps(str(k))} = {_toml(x)}" for k, x in v.items()) + " }"
    if isinstance(v, (list, tuple)):
        return "[[" + ", ".join(json.dumps(x) for x in v) + "]]"
    return "true" if v is True else "false" if v is False else json.dumps(v)


def write_suite_toml(path: Path, description: str, specs, title: str, metrics=(), compare_to: str = "",
                     reference: dict | None = None) -> Path:
    """A suite file whose expansion is exactly ``specs`` (all of one seed), so ``bench table --suite
    PATH`` and ``bench report`` show their records. ``reference``: {"dataset/split": {row label:
    {column: value}}}, kept for the sections and rows among ``specs``."""
    datasets = list(dict.fromkeys((s.dataset, s.dataset_params, s.split) for s in specs))
    methods: dict[tuple, list[str]] = {}
    for s in specs:
        methods.setdefault((s.method, s.overrides, s.label, s.column), [])
        if s.dataset not in methods[(s.method, s.overrides, s.label, s.column)]:
            methods[(s.method, s.overrides, s.label, s.column)].append(s.dataset)
    lines = [f"description = {json.dumps(description)}", f"seeds = [{specs[0].seed if specs else 0}]"]
    for name, params, split in datasets:
        lines += ["", "[[datasets]]", f"name = {json.dumps(name)}", f"split = {json.dumps(split)}"]
        if params:
            lines.append(f"params = {_toml(dict(params))}")
    for (variant, overrides, label, column), names in methods.items():
        lines += ["", "[[methods]]", f"variant = {json.dumps(variant)}", f"label = {json.dumps(label)}"]
        if column:
            lines.append(f"column = {json.dumps(column)}")
        if overrides:
            lines.append(f"params = {_toml(dict(overrides))}")
        if len({d[0] for d in datasets}) > 1:
            lines.append(f"datasets = {json.dumps(names)}")
    lines += ["", "[table]", f"title = {json.dumps(title)}"]
    if metrics:
        lines.append(f"metrics = {json.dumps(list(metrics))}")
    labels = {s.label for s in specs}
    if compare_to and compare_to in labels:
        lines.append(f"compare_to = {json.dumps(compare_to)}")
    kept = {}
    for section, rows in (reference or {}).items():
        name, _, split = section.partition("/")
        rows = {k: v for k, v in rows.items() if k in labels}
        if rows and any(d[0] == name and d[2] == split for d in datasets):
            kept[section] = rows
    for section, rows in kept.items():  # one section: the plain form, which every suite parser reads
        lines += ["", "[table.reference]" if len(kept) == 1 else f"[table.reference.{json.dumps(section)}]"]
        lines += [f"{json.dumps(k)} = {_toml(v)}" for k, v in rows.items()]
    Path(path).write_text("\n".join(lines) + "\n")
    return Path(path)


def _named(name: str, params) -> str:
    """``name (k=v, ...)``: a variant with its suite parameters, a dataset with its own."""
    return name + (" (" + ", ".join(f"{k}={v}" for k, v in params) + ")" if params else "")


def _error(rec) -> str:
    """A failed record's status and the last line of its error, for a table cell."""
    lines = (rec.error or "").strip().splitlines()
    return f"{rec.status}: {lines[-1][:160].replace('|', '/') if lines else 'no error recorded'}"


def ee_table(rows, cpu_records, metric: str = "mape") -> list[str]:
    """The report's ee-paper table: each row's metric, fit time, epochs and speed-up over the CPU."""
    lines = [f"| row | column | variant | {metric.upper()} | fit s | epochs (stop) | CPU fit s (record) | speed-up |",
             "|---|---|---|---|---|---|---|---|"]
    for spec, rec, note in rows:
        cpu, differ = cpu_match(spec, cpu_records)
        cpu_cell, speed = speedup_cells(rec, cpu, differ, spec)
        if rec is None:
            value, fit, epochs = note, "", ""
        elif rec.status != "ok":
            value, fit, epochs = _error(rec), "", ""
        else:
            value = f"{rec.metrics.get(metric, float('nan')):.4f}"
            fit, epochs = f"{rec.fit_seconds:.1f}", fits_summary(rec)
        lines.append(f"| {spec.label} | {spec.column or '-'} | {_named(spec.method, spec.overrides)} | {value} | "
                     f"{fit} | {epochs} | {cpu_cell} | {speed} |")
    return lines


def family_table(rows) -> list[str]:
    """The report's table of the short runs: one line per torch family, whatever became of it."""
    lines = ["| family | variant | dataset / split | status | fit s | seconds (load + fit + predict) | note |",
             "|---|---|---|---|---|---|---|"]
    for family, variant, spec, rec, note, seconds in rows:
        where = _named(f"{spec.dataset}/{spec.split}", spec.dataset_params) if spec is not None else ""
        if rec is not None:
            status, note = rec.status, (note if rec.status == "ok" else _error(rec))
        else:  # covered by an earlier run (its seconds), skipped, or failed before the fit
            status = "failed" if spec is not None else "ok" if seconds is not None else "skipped"
        fit = f"{rec.fit_seconds:.2f}" if rec is not None and rec.fit_seconds is not None else ""
        if spec is None and seconds is not None:  # covered: the earlier run's fit seconds
            fit, seconds = f"{seconds:.2f}", None
        lines.append(f"| {family} | {variant} | {where} | {status} | {fit} | "
                     f"{'' if seconds is None else f'{seconds:.2f}'} | {note} |")
    return lines
