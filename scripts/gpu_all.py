"""Everything only a GPU can measure, in one run of at most 10 minutes (default --budget 540 s).

No install (torch, numpy, pandas, pyarrow; not click, tqdm or platformdirs)::

    # here, once: verified parts in the ignored data/gpu/ (CIFAR-10 as xz'd uint8 arrays, Rossmann
    # and ml-100k as gzip'd CSV parts), and data/gpu/carry-plan.txt: which device call carries what
    PYTHONPATH=. python scripts/gpu_all.py prepare --cifar10 ../shared/data/cifar10 \\
        --rossmann ../shared/data/rossmann --movielens ../shared/data/ml-100k --out data/gpu
    # on the GPU machine: records, suite files and report.md in --results; with --bundle, one
    # gpu-results.tar.gz and report.md there (a device call returns at most 8 files)
    PYTHONPATH=. python scripts/gpu_all.py run --data data/gpu --results /tmp/gpu --bundle "$OUT"
    # back here: the records into results/gpu/, then bench table / bench report as usual
    PYTHONPATH=. python scripts/gpu_all.py unpack <folder>/gpu-results.tar.gz --results results/gpu

``run`` checks every part's sha256, then, most valuable first, each run with a timeout from the
budget left (what does not fit is skipped, and the report says so): (1) resnet-fast's time to 94 %
on CIFAR-10 (scripts/gpu_vision.py); (2) the network rows of suites/ee-paper.toml on Rossmann's
paper split, seed 0, single nets first, with each row's speed-up over the CPU record of the same
spec in the committed results/runs/; (3) one short run of every torch method family the registry
lists (a new family is picked up by itself; one failing does not stop the others); (2b) the
5-net averages of ee-paper; (4) the ResNet depth curves with the time left. Suite files
``gpu-vision.toml``, ``gpu-ee-paper.toml`` and ``gpu-families.toml`` in --results make
``bench table --suite <results>/<file> --results-dir <results>`` and ``bench report`` find the
records. report.md (device, torch version, command, the tables) is rewritten after every run.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ROSSMANN_FILES = ["train.csv", "store.csv", "store_states.csv"]
ML100K_FILES = ["u.data", "u.item", "u.user", "u1.base", "u1.test"]
SECTIONS = ("fast", "ee-paper", "families", "depth")
FOLDERS = {"cifar10": "cifar10", "rossmann": "rossmann", "movielens": "ml-100k"}  # dataset -> data/gpu/<folder>


def sibling(name: str):
    """scripts/<name>.py, loaded by path (scripts/ is no package)."""
    from bench.plugins.registry import load_file

    return load_file(HERE / f"{name}.py")


# -- prepare / check / unpack ----------------------------------------------------------------------

def prepare(args) -> None:
    V, F = sibling("gpu_vision"), sibling("gpu_files")
    out = Path(args.out)
    if args.cifar10:
        from bench.plugins.registry import discover

        src = Path(args.cifar10)
        cifar = V.cifar_module(discover(entry_points=False))
        arrays = cifar.read_archive(src) if src.is_file() else cifar.read_image_folder(src)
        V.write_parts(dict(zip(V.ARRAYS, arrays)), out / "cifar10", args.cifar_part_mib, xz=True)
    if args.rossmann:
        F.pack_files(Path(args.rossmann), ROSSMANN_FILES, out / "rossmann", args.part_mib)
    if args.movielens:
        F.pack_files(Path(args.movielens), ML100K_FILES, out / "ml-100k", args.part_mib, optional=("u.item", "u.user"))
    folders = [out / f for f in FOLDERS.values() if (out / f / "manifest.json").is_file()]
    plan = F.carry_plan(Path.cwd(), folders, args.carry_mib)
    lines = [f"{sum(b for _, b in plan) / F.MiB:.1f} MiB in {len(plan)} device call(s) of at most "
             f"{args.carry_mib:g} MiB (the working tree travels too: keep it under {64 - args.carry_mib:g} MiB); "
             "carry these paths, one call after another while the machine stays warm, the last with `run`:"]
    lines += [f"  call {i + 1} ({b / F.MiB:.1f} MiB): carry {json.dumps(paths)}" for i, (paths, b) in enumerate(plan)]
    out.mkdir(parents=True, exist_ok=True)
    (out / "carry-plan.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def check(args) -> None:
    """Every prepared folder's parts against its manifest; exit 1 naming what is missing or changed."""
    F = sibling("gpu_files")
    data = Path(args.data)
    problems, fine = [], []
    for folder in FOLDERS.values():
        if (data / folder / F.MANIFEST).is_file():
            found = F.check_parts(data / folder)
            problems += found
            fine += [] if found else [folder]
    print(f"verified: {', '.join(fine) or 'nothing'} in {data}")
    if problems:
        raise SystemExit("\n".join(problems))


def unpack(args) -> None:
    """A bundle from ``run --bundle`` into --results (records, suite files, report.md)."""
    from bench.data.extract import extract_tar

    results = Path(args.results)
    with tempfile.TemporaryDirectory() as tmp:
        folder = extract_tar(Path(args.bundle), Path(tmp), "gpu")  # members checked: no links, no ..
        shutil.copytree(folder, results, dirs_exist_ok=True)
    print(f"unpacked {args.bundle} into {results}: `bench table --suite {results}/gpu-ee-paper.toml "
          f"--results-dir {results}`")


def write_bundle(results: Path, dest: Path) -> Path:
    """report.md, the suite files, the plots and runs/*.json in ``dest/gpu-results.tar.gz`` (plus a
    copy of report.md): two files, whatever the number of records."""
    dest.mkdir(parents=True, exist_ok=True)
    tmp = dest / ".gpu-results.tar.gz.tmp"
    with tarfile.open(tmp, "w:gz") as tar:
        for path in sorted([*results.glob("*.md"), *results.glob("*.toml"), *results.glob("*.png"),
                            *(results / "runs").glob("*.json")]):
            if path.is_file() and not path.is_symlink():
                tar.add(path, arcname=str(path.relative_to(results)))
    tmp.replace(dest / "gpu-results.tar.gz")
    if (results / "report.md").is_file() and dest.resolve() != results.resolve():
        shutil.copyfile(results / "report.md", dest / "report.md")
    return dest / "gpu-results.tar.gz"


# -- run ---------------------------------------------------------------------------------------------

class Session:
    """One ``run``: bench's objects, the deadline, and the report (rewritten after every run)."""

    def __init__(self, args):
        from bench.run.execute import now

        self.t0, self.started = time.perf_counter(), now()
        self.args, self.deadline = args, self.t0 + args.budget
        self.V, self.F, self.S = sibling("gpu_vision"), sibling("gpu_files"), sibling("gpu_sections")
        self.results = Path(args.results)
        self.results.mkdir(parents=True, exist_ok=True)
        self.cache = Path(args.cache) if args.cache else self.results / ".cache"
        self.notes: list[str] = []
        self.lines: dict[str, list[str]] = {s: [] for s in SECTIONS}
        self.ee_rows: list[tuple] = []  # (spec, record or None, note)
        self.family_rows: list[tuple] = []  # (family, variant, spec or None, record or None, note, seconds)
        self.prepared: set[str] = set()
        self.arrays = None
        self._cpu_records = None
        self.ee_suite = None
        self.load_data()
        ns = SimpleNamespace(device=args.device, results=args.results, parts=Path(args.data) / "cifar10",
                             plugins=args.plugins)
        self.b = self.V.Bench(ns, None, {}, data_dir=self.cache / "data", cache_dir=self.cache)
        if self.arrays is not None:
            try:
                self.b.task, self.b.dataset_params = self.V.cifar_task(
                    self.b.registry, self.arrays, args.valid_size, args.train_per_class, args.test_per_class)
            except ValueError as exc:  # e.g. more images per class asked for than the parts hold
                self.notes.append(f"cifar10: no task, not used: {exc}")
                self.prepared.discard("cifar10")

    def load_data(self) -> None:
        """Verify every prepared folder; a missing or changed part refuses that dataset (named)."""
        data = Path(self.args.data)
        for name, folder in FOLDERS.items():
            path = data / folder
            if not (path / self.F.MANIFEST).is_file():
                self.notes.append(f"{name}: not prepared here ({path / self.F.MANIFEST} missing)")
                continue
            try:
                if name == "cifar10":
                    self.arrays = self.V.read_parts(path)
                else:
                    self.F.unpack_files(path, self.cache / "data" / folder)
                self.prepared.add(name)
                self.notes.append(f"{name}: every part's sha256 verified ({path})")
            except SystemExit as exc:
                self.notes.append(f"{name}: REFUSED, not used: {exc}")
                print(f"{name}: refused: {exc}", file=sys.stderr, flush=True)

    def left(self) -> float:
        return self.deadline - time.perf_counter()

    def say(self, section: str):
        def out(line: str = "") -> None:
            print(line, flush=True)
            self.lines[section].append(line)
        return out

    def cpu_records(self) -> list:
        if self._cpu_records is None:
            from bench.results.store import Store

            self._cpu_records = list(Store(Path(self.args.cpu_results)).records())
        return self._cpu_records

    def load_task(self, spec):
        from bench.run.execute import load_task

        return load_task(self.b.registry, spec, self.cache / "data", self.cache)

    # -- the sections, in the order run() calls them

    def fast(self) -> None:
        out = self.say("fast")
        if self.b.task is None:
            out("## resnet-fast\n\nskipped: no CIFAR-10 parts here")
            return
        try:
            self.V.fast_section(self.b, self.args.fast_epochs, self.args.fast_widths, 0.5 * self.left(), out)
        except SystemExit as exc:
            out(f"## resnet-fast\n\nfailed: {exc}")
        self.flush()

    def ee_specs(self) -> list:
        a = self.args
        method = {"epochs": a.ee_epochs} if a.ee_epochs else None
        dataset = ({"train_rows": a.ee_train_rows, "valid_rows": max(1, a.ee_train_rows // 10)}
                   if a.ee_train_rows else None)
        self.ee_suite, specs = self.S.ee_paper_specs(self.b.registry, Path(a.ee_suite), a.ee_split, 0, method, dataset)
        return specs

    def ee_paper(self, specs: list, reserve: float) -> None:
        """Each spec through the runner while more than --min-run seconds (plus ``reserve``) are left."""
        task, error = None, ""
        if specs and "rossmann" not in self.prepared:
            error = "no Rossmann parts here"
        elif specs:
            try:
                task = self.load_task(specs[0])
            except Exception as exc:  # noqa: BLE001 - the other sections go on
                error = f"Rossmann did not load: {type(exc).__name__}: {exc}"
        for spec in specs:
            timeout = self.left() - reserve
            if error or timeout < self.args.min_run:
                self.ee_rows.append((spec, None, error or f"skipped: {self.left():.0f} s of the budget left"))
                continue
            self.ee_rows.append((spec, self.b.execute(spec, task, timeout), ""))
            self.flush()

    def families(self) -> None:
        S, b, a = self.S, self.b, self.args
        done = [r for r in b.store.records() if r.started_at >= self.started and r.status == "ok"
                and r.device == b.device and r.spec.get("method") in b.registry.methods]
        for family, variant in S.families(b.registry):
            cover = next((r for r in done if b.registry.method(r.spec["method"]).family == family), None)
            if cover is not None:
                self.family_rows.append((family, variant, None, None, f"covered above: {cover.spec['method']} "
                                         f"ran on {cover.device} ({cover.label})", cover.fit_seconds))
                continue
            target, why = S.family_target(b.registry, variant, self.prepared, a.family_images)
            timeout = min(a.family_timeout, self.left() - 5)
            if target is None or timeout < 5:
                why = why or f"skipped: {self.left():.0f} s left"
                self.family_rows.append((family, variant, None, None, why, None))
                continue
            spec = S.family_spec(b.registry, variant, target, 0, a.family_epochs)
            t = time.perf_counter()
            try:
                task = (self.V.cifar_task(b.registry, self.arrays, **target[1])[0] if target[0] == "cifar10"
                        else self.load_task(spec))
                rec, note = b.execute(spec, task, timeout), ""
            except Exception as exc:  # noqa: BLE001 - data that does not load: the next family goes on
                rec, note = None, f"failed before the fit: {type(exc).__name__}: {exc}"
            self.family_rows.append((family, variant, spec, rec, note, time.perf_counter() - t))
            self.flush()

    def depth(self) -> None:
        out = self.say("depth")
        variants = [v for v in self.args.depth_variants.split(",") if v]
        if not variants:
            return
        why = ("no CIFAR-10 parts here" if self.b.task is None else
               f"{self.left():.0f} s left, under --depth-min {self.args.depth_min:.0f} s"
               if self.left() < self.args.depth_min else "")
        if why:
            out(f"\n## resnet-depth\n\nskipped: {why}")
            return
        try:
            self.V.depth_section(self.b, variants, self.args.depth_epochs, self.deadline - 15, out)
        except SystemExit as exc:
            out(f"\nfailed: {exc}")
        self.flush()

    def flush(self) -> None:
        """report.md and the suite files as they stand (and the bundle): a run cut off by the device
        call's limit still leaves every finished record findable."""
        S, b, a = self.S, self.b, self.args
        torch = sys.modules.get("torch")
        head = [f"# gpu_all: {b.hardware}", "",
                f"- device `{b.device}` ({b.hardware}), torch {getattr(torch, '__version__', 'not imported')}; "
                f"budget {a.budget:.0f} s, {time.perf_counter() - self.t0:.0f} s used; started {self.started}",
                f"- command `{b.opts.command}`", *[f"- {n}" for n in self.notes], ""]
        body = head + self.lines["fast"] + [""]
        if self.ee_rows:
            body += [f"## ee-paper network rows: Rossmann, split {a.ee_split}, seed 0 ({a.ee_suite})", "",
                     "Speed-up = the fit seconds of the newest CPU record of the same spec (method parameters, "
                     f"dataset, split, seed) in {a.cpu_results}/runs over this run's.", "",
                     *S.ee_table(self.ee_rows, self.cpu_records(), (self.ee_suite.table.metrics or ["mape"])[0]), ""]
            specs = [spec for spec, rec, _ in self.ee_rows if rec is not None]
            if specs:
                t = self.ee_suite.table
                S.write_suite_toml(self.results / "gpu-ee-paper.toml",
                                   f"generated by scripts/gpu_all.py on {b.hardware}: the network rows of {a.ee_suite}",
                                   specs, f"{t.title} (network rows, {b.hardware})",
                                   t.metrics, t.compare_to, _references(t, specs))
        if self.family_rows:
            body += [f"## Every torch family, {a.family_epochs} epoch(s), seed 0, on `{b.device}`", "",
                     *S.family_table(self.family_rows), ""]
            specs = [row[2] for row in self.family_rows if row[3] is not None]
            if specs:
                S.write_suite_toml(self.results / "gpu-families.toml", "generated by scripts/gpu_all.py: one short "
                                   f"run of every torch family on {b.hardware}", specs,
                                   f"gpu-families: one short run per torch family ({b.hardware})")
        body += self.lines["depth"]
        if b.done:
            self.V.write_suite(self.results / "gpu-vision.toml", b.dataset_params, b.done,
                               f"generated by scripts/gpu_all.py on {b.hardware}: resnet-fast and the depth networks")
        tomls = sorted(p.name for p in self.results.glob("gpu-*.toml"))
        body += ["", "Tables from these records: " + "; ".join(
            f"`bench table --suite {self.results / n} --results-dir {self.results}`" for n in tomls)]
        (self.results / "report.md").write_text("\n".join(body) + "\n")
        if a.bundle:
            write_bundle(self.results, Path(a.bundle))


def run(args) -> None:
    sections = [s for s in args.sections.split(",") if s]
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        raise SystemExit(f"--sections: unknown {', '.join(unknown)}; choose from {','.join(SECTIONS)}")
    s = Session(args)
    ee = s.ee_specs() if "ee-paper" in sections else []
    singles = [x for x in ee if int(dict(x.params).get("ensemble", 1)) == 1]
    if "fast" in sections:
        s.fast()
    s.ee_paper(singles, reserve=args.reserve if "families" in sections else 10)
    if "families" in sections:
        s.families()
    s.ee_paper([x for x in ee if x not in singles], reserve=10)
    if "depth" in sections:
        s.depth()
    if s.b.done:
        s.V.write_outputs(s.b, s.results, [v for v in args.depth_variants.split(",") if v], s.say("depth"))
    s.flush()
    print(f"wrote {s.results / 'report.md'} and the records in {s.b.store.runs} in {time.perf_counter() - s.t0:.0f} s"
          + (f"; bundle {Path(args.bundle) / 'gpu-results.tar.gz'}" if args.bundle else ""))


def _references(table, specs) -> dict:
    """{"dataset/split": rows}: the suite's per-section references, else its plain one for the specs' section."""
    per_section = getattr(table, "section_reference", None)
    if per_section:
        return per_section
    return {f"{specs[0].dataset}/{specs[0].split}": table.reference} if table.reference and specs else {}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare", help="verified parts of CIFAR-10, Rossmann and ml-100k, and a carry plan")
    p.add_argument("--cifar10", help="the image folder (train/<class>/*.png, test/...) or cifar-10-python.tar.gz")
    p.add_argument("--rossmann", help=f"the folder with {', '.join(ROSSMANN_FILES)}")
    p.add_argument("--movielens", help=f"the ml-100k folder ({', '.join(ML100K_FILES)})")
    p.add_argument("--out", default="data/gpu", help="an ignored folder (default data/gpu)")
    p.add_argument("--part-mib", type=float, default=20.0, help="gzip'd CSV parts of at most this many MiB")
    p.add_argument("--cifar-part-mib", type=float, default=24.0, help="CIFAR-10 parts: MiB before xz (~16 after)")
    p.add_argument("--carry-mib", type=float, default=56.0, help="MiB one device call carries besides the tree")
    c = sub.add_parser("check", help="verify the prepared parts (sha256) and say what is missing")
    c.add_argument("--data", default="data/gpu")
    u = sub.add_parser("unpack", help="a bundle written by run --bundle into a results folder")
    u.add_argument("bundle")
    u.add_argument("--results", default="results/gpu")
    r = sub.add_parser("run", help="within --budget seconds: resnet-fast, ee-paper's network rows, every torch "
                                   "family, the depth curves")
    r.add_argument("--data", default="data/gpu", help="the folder prepare wrote")
    r.add_argument("--results", default="results/gpu", help="records (runs/), suite files, report.md")
    r.add_argument("--cache", help="bench's cache and the unpacked CSVs (default <results>/.cache)")
    r.add_argument("--bundle", help="also write gpu-results.tar.gz and report.md here (a device call's $OUT)")
    r.add_argument("--device", default="auto")
    r.add_argument("--budget", type=float, default=540.0, help="seconds for everything (default 540)")
    r.add_argument("--sections", default=",".join(SECTIONS), help="comma-separated, of " + ",".join(SECTIONS))
    r.add_argument("--min-run", type=float, default=15.0, help="an ee-paper run needs this many seconds left")
    r.add_argument("--reserve", type=float, default=60.0, help="seconds kept for the families during ee-paper")
    r.add_argument("--fast-epochs", type=int, default=24)
    r.add_argument("--fast-widths", help="resnet-fast widths, e.g. 32,64,128,256 (default: the plugin's)")
    r.add_argument("--ee-suite", default=str(ROOT / "suites" / "ee-paper.toml"))
    r.add_argument("--ee-split", default="paper")
    r.add_argument("--ee-epochs", type=int, help="override every ee-paper row's epochs (quick checks only)")
    r.add_argument("--ee-train-rows", type=int,
                   help="override Rossmann's train_rows (valid_rows: a tenth of it; quick checks only)")
    r.add_argument("--cpu-results", default=str(ROOT / "results"), help="where the CPU records are")
    r.add_argument("--family-epochs", type=int, default=1)
    r.add_argument("--family-images", type=int, default=200, help="CIFAR-10 train images per class (families)")
    r.add_argument("--family-timeout", type=float, default=120.0)
    r.add_argument("--depth-variants", default="plain-20,plain-56,resnet-20,resnet-56", help="empty: skip")
    r.add_argument("--depth-epochs", default="auto")
    r.add_argument("--depth-min", type=float, default=60.0, help="skip the depth curves with fewer seconds left")
    r.add_argument("--plugins", action="append", default=[], help="extra plugin folder (repeatable)")
    r.add_argument("--valid-size", type=int, help="cifar10 dataset parameters, for quick checks")
    r.add_argument("--train-per-class", type=int)
    r.add_argument("--test-per-class", type=int)
    args = ap.parse_args(argv)
    {"prepare": prepare, "check": check, "unpack": unpack, "run": run}[args.command](args)


if __name__ == "__main__":
    main()
