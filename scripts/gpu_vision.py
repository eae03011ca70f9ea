"""CIFAR-10 on a GPU in one command: resnet-fast to 94 %, then the ResNet paper's depth curves.

Two steps, no install (needs torch and numpy; not click, tqdm or platformdirs)::

    # here, once: decode the PNGs into uint8 parts of at most 60 MiB each (an ignored folder)
    PYTHONPATH=. python scripts/gpu_vision.py prepare --from ../shared/data/cifar10 --out data/cifar10-parts
    # on the GPU machine (~8 minutes): records, a generated suite file and report.md in --results
    PYTHONPATH=. python scripts/gpu_vision.py run --parts data/cifar10-parts --results "$OUT"

``run`` reassembles the parts (each checked against the sha256 in ``manifest.json``), builds
the cifar10 task with the dataset plugin's own split (same fingerprint as ``bench run``), fits
``resnet-fast`` on the full training part through the runner (one run record, as ``bench run``
writes it), and reports images/s, the training time, the test accuracy and the device. Then it
trains plain-20/56 and resnet-20/56 with the paper's recipe on a schedule shortened to the time
left (``--depth-epochs auto``: a one-epoch probe of each network on a subset sets the number of
epochs; lr / 10 at 50 % and 75 %, as in the paper), recording training and held-out error per
epoch. Records go to ``<results>/runs/``; ``<results>/gpu-vision.toml`` is the suite they
belong to, so back on a workstation::

    bench table --suite <results>/gpu-vision.toml --results-dir <results>
    bench plot depth --suite <results>/gpu-vision.toml --results-dir <results>
"""
from __future__ import annotations

import argparse
import inspect
import io
import json
import lzma
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ARRAYS = ("train_x", "train_y", "test_x", "test_y")
DEPTH_VARIANTS = ("plain-20", "plain-56", "resnet-20", "resnet-56")
PAPER_EPOCHS = 182
TARGET = 0.94


# -- prepare: PNGs -> parts --------------------------------------------------------------------

def _sha256(path: Path) -> str:
    from bench.data.download import file_checksum  # bench is on PYTHONPATH; imported late like the rest

    return file_checksum(path, "sha256")


# xz with a delta filter over the 3 interleaved colour bytes: CIFAR-10 to ~66 % (plain xz: 76 %)
XZ_FILTERS = [{"id": lzma.FILTER_DELTA, "dist": 3}, {"id": lzma.FILTER_LZMA2, "preset": 6}]


def write_parts(arrays: dict[str, np.ndarray], out: Path, part_mib: float = 60.0, xz: bool = False) -> Path:
    """Each array as .npy files of at most ``part_mib`` MiB (whole rows), plus manifest.json;
    ``xz``: each part compressed (``.npy.xz``), so fewer MiB have to travel."""
    out.mkdir(parents=True, exist_ok=True)
    limit = int(part_mib * (1 << 20)) - 4096  # room for the .npy header
    manifest: dict = {"format": 1, "arrays": {}}
    for name, a in arrays.items():
        row = max(1, a[:1].nbytes)
        per_part = max(1, limit // row)
        parts = []
        for i, lo in enumerate(range(0, len(a), per_part)):
            path = out / f"{name}-{i:03d}.npy{'.xz' if xz else ''}"
            buf = io.BytesIO()
            np.save(buf, np.ascontiguousarray(a[lo:lo + per_part]))
            data = buf.getvalue()
            path.write_bytes(lzma.compress(data, format=lzma.FORMAT_XZ, filters=XZ_FILTERS) if xz else data)
            parts.append({"file": path.name, "rows": int(min(per_part, len(a) - lo)), "sha256": _sha256(path)})
        manifest["arrays"][name] = {"shape": list(a.shape), "dtype": str(a.dtype), "parts": parts}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return out / "manifest.json"


def read_parts(folder: Path) -> tuple[np.ndarray, ...]:
    """The arrays written by :func:`write_parts`, every part checked against its sha256."""
    folder = Path(folder)
    mpath = folder / "manifest.json"
    if not mpath.exists():
        raise SystemExit(f"{mpath} not found: prepare the data first with\n  PYTHONPATH=. python "
                         f"scripts/gpu_vision.py prepare --from ../shared/data/cifar10 --out {folder}")
    manifest = json.loads(mpath.read_text())
    parts = [(name, part) for name in ARRAYS for part in manifest["arrays"][name]["parts"]]
    with ThreadPoolExecutor(8) as pool:  # hashing and xz release the GIL
        loaded = list(pool.map(lambda np_: _load_part(folder, mpath, np_[1]), parts))
    out = []
    for name in ARRAYS:
        spec = manifest["arrays"][name]
        a = np.concatenate([x for (n, _), x in zip(parts, loaded) if n == name])
        if list(a.shape) != spec["shape"] or str(a.dtype) != spec["dtype"]:
            raise SystemExit(f"{folder}: {name} reassembled as {a.shape} {a.dtype}, manifest says "
                             f"{spec['shape']} {spec['dtype']}")
        out.append(a)
    return tuple(out)


def _load_part(folder: Path, mpath: Path, part: dict) -> np.ndarray:
    """One part, after its sha256 is checked (a missing or changed part stops the run, named)."""
    path = folder / Path(part["file"]).name  # a name in the folder, never a path elsewhere
    if not path.is_file():
        raise SystemExit(f"{path}: missing (listed in {mpath}); carry or prepare it again")
    if _sha256(path) != part["sha256"]:
        raise SystemExit(f"{path}: sha256 differs from {mpath}; prepare the parts again")
    data = path.read_bytes()
    if path.suffix == ".xz":
        data = lzma.decompress(data, format=lzma.FORMAT_XZ)
    return np.load(io.BytesIO(data), allow_pickle=False)


def cifar_module(registry):
    return inspect.getmodule(registry.dataset("cifar10").cls)


def prepare(args) -> None:
    from bench.plugins.registry import discover

    cifar = cifar_module(discover(entry_points=False))
    src = Path(args.source)
    t0 = time.perf_counter()
    arrays = cifar.read_archive(src) if src.is_file() else cifar.read_image_folder(src)
    manifest = write_parts(dict(zip(ARRAYS, arrays)), Path(args.out), args.part_mib, getattr(args, "xz", False))
    files = sorted(Path(args.out).glob("*.npy*"))
    print(f"decoded {len(arrays[1]):,} train + {len(arrays[3]):,} test images from {src} in "
          f"{time.perf_counter() - t0:.0f} s; wrote {len(files)} parts (largest "
          f"{max(f.stat().st_size for f in files) / (1 << 20):.1f} MiB) and {manifest}")


# -- run: the benchmark --------------------------------------------------------------------------

def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return "[[" + ", ".join(toml_value(x) for x in v) + "]]"  # a list as one value, not a sweep
    return json.dumps(v)


def write_suite(path: Path, dataset_params: dict, runs: list[tuple[str, dict]], note: str) -> None:
    """The suite whose expansion is exactly the runs made, so bench table / plot find them."""
    lines = [f"description = {json.dumps(note)}", "seeds = [0]", "", "[[datasets]]", 'name = "cifar10"']
    if dataset_params:
        lines.append("params = { " + ", ".join(f"{k} = {toml_value(v)}" for k, v in dataset_params.items()) + " }")
    for variant, overrides in runs:
        lines += ["", "[[methods]]", f'variant = "{variant}"']
        if overrides:
            lines.append("params = { " + ", ".join(f"{k} = {toml_value(v)}" for k, v in overrides.items()) + " }")
    lines += ["", "[table]", 'title = "gpu-vision: CIFAR-10 test accuracy (scripts/gpu_vision.py)"', ""]
    path.write_text("\n".join(lines))


class Bench:
    """Runs specs through bench's runner into one store, keeping what the report needs."""

    def __init__(self, args, task, dataset_params: dict, data_dir: Path | None = None, cache_dir: Path | None = None):
        from bench.plugins.registry import discover
        from bench.run.execute import RunOptions
        from bench.results.store import Store
        from bench.core import environment

        self.registry = discover(getattr(args, "plugins", None) or (), entry_points=False)  # + --plugins folders
        self.task = task
        self.dataset_params = dataset_params
        self.device = environment.resolve_device(args.device)
        self.hardware = environment.hardware(self.device)
        self.store = Store(Path(args.results))
        self.opts = RunOptions(data_dir=Path(data_dir or args.parts),
                               cache_dir=Path(cache_dir or Path(args.results) / ".cache"),
                               device=self.device, show_progress=False,
                               command="PYTHONPATH=. python " + " ".join(sys.argv))
        self.done: list[tuple[str, dict]] = []

    def spec(self, variant: str, overrides: dict):
        from bench.core.spec import RunSpec

        entry = self.registry.method(variant)
        params = entry.resolved_params(overrides)
        return RunSpec(suite="gpu-vision", dataset="cifar10",
                       dataset_params=tuple(sorted(self.dataset_params.items())), split="official",
                       method=variant, params=tuple(sorted(params.items())),
                       overrides=tuple(sorted(overrides.items())), seed=0, label=variant)

    def execute(self, spec, task, timeout: float | None, keep: bool = True):
        """One run through the runner; its record (any status) is stored when ``keep``. Never raises
        for a failed fit: the record says what went wrong."""
        from bench.run.execute import execute

        self.opts.timeout = timeout
        rec = execute(self.registry, spec, task, self.opts)
        if keep:
            self.store.put(rec)
        return rec

    def run(self, variant: str, overrides: dict, timeout: float | None, keep: bool = True):
        """A cifar10 run of ``variant`` that must succeed (SystemExit with the error if not)."""
        rec = self.execute(self.spec(variant, overrides), self.task, timeout, keep=False)
        if rec.status != "ok":
            raise SystemExit(f"{variant} failed: {rec.error}\n{rec.info.get('traceback', '')}")
        if keep:
            self.store.put(rec)
            self.done.append((variant, overrides))
        return rec


def _subset(task, n: int):
    """A copy of the task whose train part is its first ``n`` train rows (for timing probes)."""
    import dataclasses

    split = dataclasses.replace(task.split, train=task.split.train[:n], valid=task.split.valid[:0])
    return dataclasses.replace(task, split=split)


def cifar_task(registry, arrays, valid_size=None, train_per_class=None, test_per_class=None):
    """The cifar10 task of the plugin's own split, and the dataset parameters that name it."""
    dataset_params = {k: v for k, v in (("valid_size", valid_size), ("train_per_class", train_per_class),
                                        ("test_per_class", test_per_class)) if v is not None}
    task = cifar_module(registry).build_task(arrays, **{"valid_size": 5000, **dataset_params})
    if dataset_params.get("valid_size") == 5000:
        dataset_params.pop("valid_size")
    return task, dataset_params


def fast_section(b: Bench, epochs: int, widths: str | None, timeout: float | None, say) -> None:
    """resnet-fast on the full training part: images/s, training time, and whether it reached 94 %."""
    fast = {"epochs": epochs}
    if widths:
        fast["widths"] = [int(w) for w in widths.split(",")]
    rec = b.run("resnet-fast", fast, timeout=timeout)
    acc, info = rec.metrics["accuracy"], rec.info
    reached = (f"reached {TARGET:.0%} in {info['train_seconds']:.1f} s of training"
               if acc >= TARGET else f"did not reach {TARGET:.0%} (accuracy reached {acc:.2%})")
    say("## resnet-fast")
    say("")
    say(f"- test accuracy {acc:.4f} after {info['epochs_run']} epochs ({info['stop_reason']}): {reached}")
    say(f"- training {info['train_seconds']:.1f} s at {info['images_per_s']:,.0f} images/s "
        f"(fit {rec.fit_seconds:.1f} s with per-epoch validation, predict {rec.predict_seconds:.1f} s), "
        f"{info['amp']} autocast, channels-last {info['channels_last']}, device {b.hardware}")


def depth_section(b: Bench, variants: list[str], depth_epochs: str, deadline: float, say) -> None:
    """plain/resnet-20/56 with the paper's recipe on a schedule shortened to end by ``deadline``
    (a time.perf_counter() value): one-epoch probes on a subset set the epochs (``auto``)."""
    task = b.task
    if depth_epochs == "auto":
        n_probe = min(len(task.split.train), 8192)
        b.task = _subset(task, n_probe)
        per_epoch = 0.0
        try:
            for v in variants:
                r = b.run(v, {"epochs": 1}, timeout=None, keep=False)
                per_epoch += r.info["train_seconds"] * len(task.split.train) / n_probe * 1.15
        finally:
            b.task = task
        left = deadline - time.perf_counter() - 10
        epochs = int(max(2, min(PAPER_EPOCHS, left // max(per_epoch, 1e-9))))
        how = (f"{epochs} epochs chosen to fit the {left:.0f} s left (one-epoch probes: "
               f"{per_epoch:.1f} s per epoch of all {len(variants)} networks)")
    else:
        epochs = int(depth_epochs)
        how = f"{epochs} epochs (--depth-epochs)"
    say("")
    say("## resnet-depth (He et al. 2016, Fig. 1 / 6)")
    say("")
    say(f"Shortened schedule: {how}; the paper trains {PAPER_EPOCHS} epochs (64k iterations); "
        f"lr 0.1, / 10 at epochs {round(0.5 * epochs)} and {round(0.75 * epochs)}.")
    say("")
    say(f"| network | epochs | train error (last epoch) | valid error (held-out {len(task.split.valid):,}) "
        f"| test error | s/epoch |")
    say("|---|---|---|---|---|---|")
    for v in variants:
        rest = max(1.0, deadline - time.perf_counter())
        r = b.run(v, {"epochs": epochs}, timeout=rest)
        rows = [h for h in r.history if "train_error" in h]
        last = rows[-1] if rows else {}
        va = last.get("valid_accuracy")
        say(f"| {v} | {r.info['epochs_run']} | {100 * last.get('train_error', float('nan')):.2f} % | "
            f"{'n/a' if va is None else f'{100 * (1 - va):.2f} %'} | {100 * (1 - r.metrics['accuracy']):.2f} % | "
            f"{r.info['train_seconds'] / max(1, r.info['epochs_run']):.2f} |")


def write_outputs(b: Bench, results: Path, variants: list[str], say) -> Path:
    """The suite file of the runs made (``gpu-vision.toml``) and, with matplotlib, the depth curves."""
    suite_path = results / "gpu-vision.toml"
    write_suite(suite_path, b.dataset_params, b.done,
                f"generated by scripts/gpu_vision.py on {b.hardware}: resnet-fast and the depth networks")
    try:
        from bench.report import plots

        recs = [r for r in b.store.records() if r.method.get("variant") in variants]
        if recs:
            plots.depth_curves(recs, results / "depth-curves.png", title=f"CIFAR-10 on {b.hardware}")
            say(f"Curves: {results / 'depth-curves.png'}")
    except ImportError:
        say(f"(matplotlib is not installed here: draw the curves elsewhere with `bench plot depth "
            f"--suite {suite_path} --results-dir {results}`)")
    return suite_path


def run(args) -> None:
    t_start = time.perf_counter()
    from bench.plugins.registry import discover

    arrays = read_parts(Path(args.parts))
    task, dataset_params = cifar_task(discover(entry_points=False), arrays, args.valid_size,
                                      args.train_per_class, args.test_per_class)
    b = Bench(args, task, dataset_params)
    results = Path(args.results)
    results.mkdir(parents=True, exist_ok=True)
    report = [f"# gpu-vision: CIFAR-10 on {b.hardware}", "",
              f"device `{b.device}`; split fingerprint {task.split.fingerprint} "
              f"({', '.join(f'{k} {v:,}' for k, v in task.split.sizes().items())}); "
              f"budget {args.budget:.0f} s; command `{b.opts.command}`", ""]

    def say(line: str = "") -> None:
        print(line, flush=True)
        report.append(line)

    fast_section(b, args.fast_epochs, args.fast_widths, args.budget * 0.5, say)
    variants = [v for v in args.depth_variants.split(",") if v]
    if variants:
        depth_section(b, variants, args.depth_epochs, t_start + args.budget, say)
    say("")
    say(f"Total {time.perf_counter() - t_start:.0f} s.")
    suite_path = write_outputs(b, results, variants, say)
    (results / "report.md").write_text("\n".join(report) + "\n")
    print(f"wrote {results / 'report.md'}, {suite_path} and {len(b.done)} records in {b.store.runs}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare", help="decode CIFAR-10 into uint8 parts of at most --part-mib MiB")
    p.add_argument("--from", dest="source", required=True,
                   help="the image folder (train/<class>/*.png, test/...) or cifar-10-python.tar.gz")
    p.add_argument("--out", default="data/cifar10-parts")
    p.add_argument("--part-mib", type=float, default=60.0)
    p.add_argument("--xz", action="store_true", help="compress each part with xz (CIFAR-10: ~66 %% of the bytes)")
    r = sub.add_parser("run", help="resnet-fast to 94 %%, then the depth curves, within --budget seconds")
    r.add_argument("--parts", default="data/cifar10-parts")
    r.add_argument("--results", default="results/vision/gpu")
    r.add_argument("--device", default="auto")
    r.add_argument("--budget", type=float, default=450.0, help="seconds for everything (default 450)")
    r.add_argument("--fast-epochs", type=int, default=24)
    r.add_argument("--fast-widths", help="resnet-fast widths, e.g. 32,64,128,256 (default: the plugin's)")
    r.add_argument("--depth-epochs", default="auto", help="epochs of the depth networks, or auto")
    r.add_argument("--depth-variants", default=",".join(DEPTH_VARIANTS), help="comma-separated; empty: skip")
    r.add_argument("--valid-size", type=int, help="cifar10 dataset parameters, for quick checks")
    r.add_argument("--train-per-class", type=int)
    r.add_argument("--test-per-class", type=int)
    args = ap.parse_args(argv)
    prepare(args) if args.command == "prepare" else run(args)


if __name__ == "__main__":
    main()
