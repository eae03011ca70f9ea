"""scripts/gpu_all.py (everything a GPU measures, in one run) on tiny real-format data, on the CPU:
the parts and their sha256 manifest, the carry plan, the CPU record a GPU run is compared with,
and (slow) prepare + run end to end with click, tqdm and platformdirs blocked, as on the GPU
machine, leaving records that the suite files it writes find again."""
from __future__ import annotations

import dataclasses
import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from bench.core.identity import stable_hash
from bench.core.spec import RunRecord
from bench.plugins.registry import discover, load_file
from bench.report.table import latest_records
from bench.results.store import Store
from bench.run.suite import load_suite
from conftest import run_gpu_script

ROOT = Path(__file__).resolve().parents[1]
FILES = load_file(ROOT / "scripts" / "gpu_files.py")
SECTIONS = load_file(ROOT / "scripts" / "gpu_sections.py")
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

# A torch family that fails at fit: it must be listed among the families by itself and must not
# stop the others.
BOOM = '''
from bench.methods.torch import TorchMethod


class Boom(TorchMethod):
    name = "boom"
    kinds = ("regression",)
    description = "a torch family whose fit fails (tests)"
    defaults = {"epochs": 3}
    variants = {"boom": {}}

    def fit(self, train, valid=None, ctx=None):
        raise RuntimeError("boom: this family fails on purpose")

    def predict(self, data):
        raise RuntimeError("never fitted")
'''


def _script(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return run_gpu_script("gpu_all.py", *args, cwd=cwd, timeout=900)


def _tiny_sources(root: Path) -> Path:
    """Rossmann CSVs in Kaggle's format (the plugin's generator), an ml-100k folder with fold u1 and
    a CIFAR-10 image folder: all tiny, all built here."""
    R = load_file(ROOT / "datasets" / "rossmann")
    R.write_kaggle_csvs(*R.generate_raw(n_stores=8, n_days=200, seed=1), root / "rossmann")
    ml = root / "ml-100k"
    ml.mkdir(parents=True)
    rows = [(1 + i % 20, 1 + i // 20, 1 + i % 5, 880_000_000 + 7 * i) for i in range(200)]

    def lines(keep):
        return "".join("\t".join(map(str, r)) + "\n" for i, r in enumerate(rows) if keep(i))
    (ml / "u.data").write_text(lines(lambda i: True))
    (ml / "u1.base").write_text(lines(lambda i: i % 5))
    (ml / "u1.test").write_text(lines(lambda i: not i % 5))
    from PIL import Image

    rng = np.random.default_rng(0)
    for part, n in (("train", 3), ("test", 1)):
        for cls in CLASSES:
            (root / "cifar10" / part / cls).mkdir(parents=True)
            for i in range(n):
                Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(
                    root / "cifar10" / part / cls / f"{i}.png")
    return root


def test_file_parts_round_trip_and_refuse_a_changed_or_missing_part(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    rng = np.random.default_rng(0)
    (src / "train.csv").write_bytes(rng.integers(0, 256, 30_000, dtype=np.uint8).tobytes())  # gzip cannot shrink it
    (src / "store.csv").write_text("Store,StoreType\n1,a\n")
    out = tmp_path / "parts"
    FILES.pack_files(src, ["train.csv", "store.csv", "store_states.csv"], out, part_mib=0.01,
                     optional=("store_states.csv",))
    manifest = json.loads((out / "manifest.json").read_text())
    assert sorted(manifest["files"]) == ["store.csv", "train.csv"]  # the optional file is absent: left out
    assert len(manifest["files"]["train.csv"]["parts"]) >= 3
    assert all(p.stat().st_size <= 0.01 * (1 << 20) for p in out.glob("*.gz.*"))
    dest = FILES.unpack_files(out, tmp_path / "data" / "rossmann")
    assert (dest / "train.csv").read_bytes() == (src / "train.csv").read_bytes()
    assert (dest / "store.csv").read_text() == "Store,StoreType\n1,a\n"
    assert FILES.check_parts(out) == []

    part = out / "train.csv.gz.001"
    part.write_bytes(part.read_bytes()[:-1] + bytes([part.read_bytes()[-1] ^ 1]))
    assert FILES.check_parts(out) == [f"{part}: sha256 differs from {out / 'manifest.json'}; prepare the parts again"]
    with pytest.raises(SystemExit, match="train.csv.gz.001: sha256 differs"):
        FILES.unpack_files(out, tmp_path / "data2")
    assert not (tmp_path / "data2" / "train.csv").exists()
    (out / "store.csv.gz.000").unlink()
    with pytest.raises(SystemExit, match=r"store.csv.gz.000: missing"):
        FILES.unpack_files(out, tmp_path / "data2")
    with pytest.raises(SystemExit, match="nothing-here/manifest.json not found: prepare the data first"):
        FILES.unpack_files(tmp_path / "nothing-here", tmp_path / "data2")
    with pytest.raises(SystemExit, match=r"not found: .*src/u.data"):
        FILES.pack_files(src, ["u.data"], tmp_path / "ml")


def test_xz_image_parts_round_trip_and_refuse_a_changed_part(tmp_path):
    V = load_file(ROOT / "scripts" / "gpu_vision.py")
    rng = np.random.default_rng(1)
    a = {"train_x": rng.integers(0, 256, (40, 8, 8, 3), dtype=np.uint8), "train_y": np.arange(40) % 10,
         "test_x": rng.integers(0, 256, (10, 8, 8, 3), dtype=np.uint8), "test_y": np.arange(10)}
    V.write_parts(a, tmp_path, part_mib=0.005, xz=True)  # 5 KiB before xz: several parts
    assert len(list(tmp_path.glob("train_x-*.npy.xz"))) > 1 and not list(tmp_path.glob("*.npy"))
    for name, got in zip(V.ARRAYS, V.read_parts(tmp_path)):
        np.testing.assert_array_equal(got, a[name])
    assert FILES.check_parts(tmp_path) == []  # gpu_all's check reads gpu_vision's manifest too
    part = tmp_path / "train_x-001.npy.xz"
    part.write_bytes(part.read_bytes()[:-1] + b"\x07")
    with pytest.raises(SystemExit, match="train_x-001.npy.xz: sha256 differs"):
        V.read_parts(tmp_path)
    assert FILES.check_parts(tmp_path) == [f"{part}: sha256 differs from {tmp_path / 'manifest.json'}; "
                                           "prepare the parts again"]


def test_carry_plan_fits_each_call(tmp_path):
    MiB = 1 << 20
    sizes = {"big/a": 30, "big/b": 30, "big/c": 20, "big/d": 20, "small/x": 3, "small/y": 1}
    for name, mib in sizes.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"\0" * (mib * MiB))
    plan = FILES.carry_plan(tmp_path, [tmp_path / "big", tmp_path / "small"], limit_mib=56)
    carried = [p for paths, _ in plan for p in paths]
    assert sorted(carried) == ["big/a", "big/b", "big/c", "big/d", "small"]  # a folder that fits travels whole
    for paths, used in plan:
        assert used <= 56 * MiB and len(paths) <= 8
        assert used == sum((tmp_path / p).stat().st_size if (tmp_path / p).is_file() else 4 * MiB for p in paths)
    assert len(plan) == 2 and plan[-1][1] == min(u for _, u in plan)  # the lightest call last (it runs)
    with pytest.raises(SystemExit, match="big/a is 30.0 MiB"):
        FILES.carry_plan(tmp_path, [tmp_path / "big"], limit_mib=25)


def _record(spec, device="cpu", fit=10.0, finished="2026-01-01T00:00:00+00:00", status="ok", params=None):
    """A run record of ``spec`` as the store reads it back (JSON), with other parameters if given."""
    ident = json.loads(json.dumps(spec.identity))
    ident["params"].update(params or {})
    return RunRecord(key=f"{device}-{fit}-{finished}", spec_id=stable_hash(ident), spec=ident, status=status,
                     fit_seconds=fit, device=device, threads=2, finished_at=finished,
                     overrides=json.loads(json.dumps(dict(spec.overrides))))


def test_speedup_compares_with_the_cpu_record_of_the_same_spec():
    registry = discover(entry_points=False)
    suite, specs = SECTIONS.ee_paper_specs(registry, ROOT / "suites" / "ee-paper.toml")
    # the network rows of the paper split, seed 0, single nets first; no baseline, no other split
    assert {s.method for s in specs} == {"mlp", "ee", "ee-1cycle"} and len(specs) == 6
    assert {(s.split, s.seed) for s in specs} == {("paper", 0)}
    assert [int(dict(s.params).get("ensemble", 1)) for s in specs] == [1, 1, 5, 5, 5, 5]
    single = specs[0]
    other = specs[2]
    gpu = _record(single, device="cuda", fit=2.0)
    exact_old = _record(single, fit=40.0, finished="2026-01-01T00:00:00+00:00")
    exact_new = _record(single, fit=50.0, finished="2026-02-01T00:00:00+00:00")
    changed = _record(single, fit=60.0, finished="2026-03-01T00:00:00+00:00", params={"epochs": 7})
    failed = _record(single, fit=1.0, finished="2026-04-01T00:00:00+00:00", status="failed")
    of_other = _record(other, fit=70.0)
    records = [gpu, exact_old, exact_new, changed, failed, of_other]
    # the same spec whatever its device, threads or key: the newest ok CPU one, never the GPU's
    rec, differ = SECTIONS.cpu_match(single, records)
    assert rec is exact_new and differ == []
    assert SECTIONS.speedup_cells(gpu, rec, differ, single) == ("50.0 (2 threads, 2026-02-01)", "25.0x")
    # no exact one: the same suite parameters under defaults that changed since, named
    rec, differ = SECTIONS.cpu_match(single, [gpu, changed, of_other])
    assert rec is changed and differ == ["epochs"]
    cpu_cell, speed = SECTIONS.speedup_cells(gpu, rec, differ, single)
    assert "epochs 7 / " in cpu_cell and speed == "30.0x"
    # nothing of this experiment on the CPU
    assert SECTIONS.cpu_match(single, [gpu, failed, of_other]) == (None, [])
    assert SECTIONS.speedup_cells(gpu, None, [], single) == ("no CPU record", "n/a")
    # another seed is another experiment
    reseeded = dataclasses.replace(single, seed=1)
    assert SECTIONS.cpu_match(reseeded, records) == (None, [])


def test_every_torch_family_is_found_with_a_dataset(tmp_path):
    (tmp_path / "boom.py").write_text(BOOM)
    registry = discover([tmp_path], entry_points=False)
    found = dict(SECTIONS.families(registry))
    assert {"mlp", "ee", "mf", "ncf", "resnet-fast", "cifar-resnet", "boom"} <= set(found)
    assert not {"knn", "random-forest", "xgboost", "bias"} & set(found)  # not torch methods
    assert found["mlp"] == "mlp" and found["ee"] == "ee"  # the variant named like its family
    target, _ = SECTIONS.family_target(registry, "mf", {"movielens"}, 2)
    assert target == ("movielens", {}, "u1")
    target, _ = SECTIONS.family_target(registry, "mf", set(), 2)
    assert target == ("movielens-sim", {}, "random")  # no real data prepared: the embedded stand-in
    target, why = SECTIONS.family_target(registry, "resnet-fast", set(), 2)
    assert target is None and "image-classification" in why


@pytest.mark.slow
def test_prepare_and_run_everything_without_click_tqdm_platformdirs(tmp_path, bench_cmd):
    src = _tiny_sources(tmp_path / "src")
    data = tmp_path / "data" / "gpu"
    prep = _script("prepare", "--cifar10", str(src / "cifar10"), "--rossmann", str(src / "rossmann"),
                   "--movielens", str(src / "ml-100k"), "--out", str(data), cwd=tmp_path)
    assert prep.returncode == 0, prep.stderr
    assert sorted(json.loads((data / "rossmann" / "manifest.json").read_text())["files"]) == [
        "store.csv", "store_states.csv", "train.csv"]
    assert sorted(json.loads((data / "ml-100k" / "manifest.json").read_text())["files"]) == [
        "u.data", "u1.base", "u1.test"]
    assert (data / "cifar10" / "train_x-000.npy.xz").is_file()
    assert 'carry ["data/gpu/' in (data / "carry-plan.txt").read_text()
    assert _script("check", "--data", str(data), cwd=tmp_path).returncode == 0

    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "boom.py").write_text(BOOM)
    results, bundle = tmp_path / "out", tmp_path / "bundle"
    quick = ["--device", "cpu", "--budget", "600", "--ee-epochs", "1", "--ee-train-rows", "300"]
    run = _script("run", "--data", str(data), "--results", str(results), *quick, "--fast-epochs", "1",
                  "--fast-widths", "4,4,4,4", "--valid-size", "10", "--train-per-class", "2",
                  "--family-images", "1", "--depth-variants", "resnet-20", "--depth-epochs", "2",
                  "--cpu-results", str(tmp_path / "no-cpu-records"), "--plugins", str(plugins),
                  "--bundle", str(bundle), cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    report = (results / "report.md").read_text()
    assert "device `cpu`" in report and "torch " in report and "scripts/gpu_all.py run" in report
    assert "did not reach 94%" in report and "| resnet-20 | 2 |" in report
    assert report.count("| no CPU record | n/a |") == 6
    families = {line.split(" | ")[0][2:]: line for line in report.splitlines() if line.startswith("| ")}
    assert "| failed |" in families["boom"] and "boom: this family fails on purpose" in families["boom"]
    for family in ("cifar-resnet", "mf", "ncf"):  # after boom failed, the others still ran
        assert "| ok |" in families[family], families[family]
    assert "covered above: resnet-fast" in families["resnet-fast"]
    # every section's records, found again through the suite file written for it
    registry = discover([plugins], entry_points=False)
    found = {toml: sorted(r.spec["method"] for r in latest_records(load_suite(results / toml), registry, Store(results)))
             for toml in ("gpu-ee-paper.toml", "gpu-families.toml", "gpu-vision.toml")}
    assert found["gpu-ee-paper.toml"] == ["ee", "ee-1cycle", "ee-1cycle", "mlp", "mlp", "mlp"]
    families_run = set(found["gpu-families.toml"])  # one variant of every NN family on its kind's data
    assert {"mf", "ncf", "plain-20", "fasttext", "kim-cnn", "transformer"} <= families_run, families_run
    assert not families_run & {"ee", "mlp"}  # covered by ee-paper's rows
    assert found["gpu-vision.toml"] == ["resnet-20", "resnet-fast"]
    assert [r.status for r in Store(results).records() if r.spec["method"] == "boom"] == ["failed"]  # recorded
    res = bench_cmd(["table", "--suite", str(results / "gpu-ee-paper.toml"), "--results-dir", str(results)])
    assert res.exit_code == 0, res.output
    assert "neural network, 5-net average (paper's recipe)" in res.output and "0.1010" in res.output

    # back on a workstation: the bundle (two files, whatever the number of records) unpacks into a results folder
    assert sorted(p.name for p in bundle.iterdir()) == ["gpu-results.tar.gz", "report.md"]
    unpacked = tmp_path / "results" / "gpu"
    assert _script("unpack", str(bundle / "gpu-results.tar.gz"), "--results", str(unpacked), cwd=tmp_path).returncode == 0
    assert len(list((unpacked / "runs").glob("*.json"))) == len(list((results / "runs").glob("*.json")))
    res = bench_cmd(["table", "--suite", str(unpacked / "gpu-families.toml"), "--results-dir", str(unpacked),
                     "--plugins", str(plugins)])
    assert res.exit_code == 0 and "mf (mf)" in res.output, res.output
    assert re.search(r"\| boom \(boom\) +\| failed +\|", res.output), res.output

    # the same rows again, compared with the CPU records of the first run (same specs); a changed
    # part refuses its dataset, named, and the run goes on without it
    part = data / "ml-100k" / "u1.base.gz.000"
    part.write_bytes(part.read_bytes() + b"\0")
    again = _script("run", "--data", str(data), "--results", str(tmp_path / "again"), *quick,
                    "--sections", "ee-paper", "--cpu-results", str(results), cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    report = (tmp_path / "again" / "report.md").read_text()
    assert f"movielens: REFUSED, not used: {part}: sha256 differs" in report
    assert report.count("| no CPU record |") == 0 and report.count("x |") >= 6
    check = _script("check", "--data", str(data), cwd=tmp_path)
    assert check.returncode != 0 and f"{part}: sha256 differs" in check.stderr
