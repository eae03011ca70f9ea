"""A run's identity covers everything that made its number: every project file its plugin imports
(transitively), the fits it depends on (the embedding network behind a "with EE" row, a blend's
members), an entry-point plugin's whole module or package, and its thread count. Changing any of
them re-runs exactly the affected runs and marks their old records stale (†)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bench.core import identity
from bench.plugins.registry import Origin, discover

ROOT = Path(__file__).resolve().parents[1]


def _names(files) -> set[str]:
    return {str(Path(f).relative_to(ROOT)) for f in files if str(f).startswith(str(ROOT))}


# -- the import closure ------------------------------------------------------------------------

def test_closure_follows_imports_into_bench_transitively():
    reg = discover(entry_points=False)
    nn_files = _names(identity.plugin_files(reg.method("ee").origin))
    assert {"plugins/tabular_nn/__init__.py", "plugins/tabular_nn/nets.py", "bench/nn/train.py", "bench/nn/optim.py",
            "bench/core/task.py"} <= nn_files
    knn_files = _names(identity.plugin_files(reg.method("knn").origin))
    assert {"plugins/knn.py", "bench/methods/features.py", "bench/core/task.py"} <= knn_files
    assert "bench/nn/train.py" not in knn_files  # the neighbours never run the training loop


def test_imports_inside_functions_and_relative_imports_count(tmp_path):
    pkg = tmp_path / "mypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "plugin.py").write_text("def fit():\n    from .helpers import deep\n    return deep.x\n")
    (pkg / "helpers").mkdir()
    (pkg / "helpers" / "__init__.py").write_text("")
    (pkg / "helpers" / "deep.py").write_text("x = 1\n")
    (pkg / "unrelated.py").write_text("y = 2\n")
    files = identity.closure([pkg / "plugin.py"], {"bench": ROOT, "mypkg": tmp_path})
    assert {p.name for p in files} == {"plugin.py", "deep.py", "__init__.py"}


# -- the fits a run depends on ---------------------------------------------------------------

def test_ee_baseline_covers_its_network_parameters(monkeypatch):
    reg = discover(entry_points=False)
    rf = reg.method("random-forest")
    ee_params = rf.resolved_params({"encoding": "ee", "ee_variant": "mf"})
    plain = rf.resolved_params({"encoding": "ordinal"})
    before_ee = identity.method_identity(reg, "random-forest", ee_params)
    before_plain = identity.method_identity(reg, "random-forest", plain)
    mf = reg.method("mf")
    monkeypatch.setitem(mf.params, "lr", float(mf.resolved_params().get("lr", 0.01)) * 3)
    assert identity.method_identity(reg, "random-forest", ee_params) != before_ee
    assert identity.method_identity(reg, "random-forest", plain) == before_plain


def test_blend_covers_its_members(monkeypatch):
    reg = discover(entry_points=False)
    blend = reg.method("blend").resolved_params()
    before = identity.method_identity(reg, "blend", blend)
    monkeypatch.setitem(reg.method(blend["members"][-1]).params, "epochs", 99)  # a default member
    assert identity.method_identity(reg, "blend", blend) != before


# -- entry points: the whole module or package -------------------------------------------------

def _entry_point_package(site: Path, layout: str) -> Path:
    """A distribution on sys.path with a `bench.methods` entry point, no pip needed: importlib's
    metadata finds its .dist-info folder like any installed one."""
    dist = site / "bench_ep_demo-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: bench-ep-demo\nVersion: 0.1\n")
    body = textwrap.dedent('''
        import numpy as np
        from bench import Method

        SHIFT = 0.0  # a module constant: part of the plugin's identity

        class Shifted(Method):
            name = "ep-shifted"
            kinds = ("regression",)
            defaults = {}

            def fit(self, train, valid, ctx):
                self.mean_ = float(np.mean(train.y))
                return self

            def predict(self, data):
                return np.full(len(data), self.mean_ + SHIFT)
    ''')
    if layout == "module":
        (site / "ep_demo.py").write_text(body)
        target = "ep_demo:Shifted"
    else:
        (site / "ep_demo").mkdir()
        (site / "ep_demo" / "__init__.py").write_text("from .core import Shifted\n")
        (site / "ep_demo" / "core.py").write_text(body.replace("SHIFT = 0.0", "from .settings import SHIFT"))
        (site / "ep_demo" / "settings.py").write_text("SHIFT = 0.0\n")
        target = "ep_demo:Shifted"
    (dist / "entry_points.txt").write_text(f"[bench.methods]\nshifted = {target}\n")
    return site / ("ep_demo.py" if layout == "module" else "ep_demo/settings.py")


@pytest.mark.parametrize("layout", ["module", "package"])
def test_entry_point_identity_covers_module_constants(tmp_path, layout):
    constant_file = _entry_point_package(tmp_path, layout)
    origin = Origin(distribution="bench-ep-demo", version="0.1", entry_point="bench.methods:shifted",
                    entry_point_value="ep_demo:Shifted")
    sys.path.insert(0, str(tmp_path))
    try:
        before = identity.code_identity(origin)
        constant_file.write_text(constant_file.read_text().replace("SHIFT = 0.0", "SHIFT = 1.0"))
        os.utime(constant_file, ns=(1, 1))  # a new mtime for the per-process digest cache
        assert identity.code_identity(origin) != before
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == "ep_demo" or m.startswith("ep_demo.")]:
            del sys.modules[name]


# -- end to end: a copy of the checkout, edited, re-run ----------------------------------------

SUITE = """
description = "identity test"
seeds = [0]

[[datasets]]
name = "rossmann-sim"
split = "paper"
params = { n_stores = 20, n_days = 300, train_rows = 2000, valid_rows = 500 }

[[methods]]
variant = "ee"
params = { epochs = 1 }

[[methods]]
variant = "knn"
params = { encoding = "ordinal" }

[[methods]]
variant = "knn"
label = "knn (with EE)"
params = { encoding = "ee" }
"""


def _copy_checkout(dest: Path) -> Path:
    for sub in ("bench", "plugins", "datasets", "suites"):
        shutil.copytree(ROOT / sub, dest / sub, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def _bench(copy: Path, *args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(copy), "BENCH_DISABLE_PLUGIN_AUTOLOAD": "1", **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "bench", *args], cwd=copy, env=env,
                          capture_output=True, text=True, timeout=600)


def _plan(out: str) -> dict[str, str]:
    """`--dry-run` lines -> {run description: state}."""
    rows = {}
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("["):
            state, what = line[1:].split("] ", 1)
            rows[what] = state
    return rows


@pytest.mark.slow
@pytest.mark.timeout(600)  # five `bench` processes, two of them training
def test_editing_bench_nn_reruns_the_network_and_its_ee_baseline_only(tmp_path):
    copy = _copy_checkout(tmp_path / "checkout")
    suite = copy / "suites" / "identity.toml"
    suite.write_text(SUITE)
    assert "rossmann-sim" in _bench(copy, "list", "datasets").stdout  # built in: never a reason to skip
    args = ["run", "--suite", str(suite), "--results-dir", str(tmp_path / "results"),
            "--cache-dir", str(tmp_path / "cache"), "--quiet", "--threads", "1", "--format", "none"]
    first = _bench(copy, *args)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "3 runs: 3 ok" in first.stderr

    train = copy / "bench" / "nn" / "train.py"
    train.write_text(train.read_text() + "\n# an edit that could have changed a number\n")
    plan = _plan(_bench(copy, *args, "--dry-run").stdout)
    stale = {k for k, v in plan.items() if v.startswith("to run")}
    assert len(plan) == 3
    assert {k.split("[")[0].split(" ")[0] for k in stale} == {"ee", "knn"}
    assert all("encoding=ordinal" not in k for k in stale)  # the plain knn row is still current
    assert any(v == "recorded" and "encoding=ordinal" in k for k, v in plan.items())

    table = _bench(copy, "table", "--suite", str(suite), "--results-dir", str(tmp_path / "results"))
    assert table.returncode == 0, table.stderr
    rows = {line.split("|")[1].strip(): line for line in table.stdout.splitlines() if line.startswith("| ")}
    assert "†" in rows["ee"] and "†" in rows["knn (with EE)"]
    assert "†" not in rows["knn"]

    second = _bench(copy, *args)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "3 runs: 2 ok, 1 cached" in second.stderr  # exactly the two affected runs re-ran

    # a different thread count is a different run: its key changes, nothing is reused
    plan = _plan(_bench(copy, *[a if a != "1" else "2" for a in args], "--dry-run").stdout)
    assert all(v.startswith("to run") for v in plan.values())


def test_an_unknown_dependency_is_a_usage_error_naming_the_suite(cli, plugin_dir, write_suite):
    invoke, _ = cli
    suite = write_suite('''
        [[datasets]]
        name = "toy-reg"
        split = "fixed"
        [[methods]]
        variant = "toy-ee-user"
    ''')
    plugin = plugin_dir / "dep_user.py"
    plugin.write_text(textwrap.dedent('''
        import numpy as np
        from bench import Method

        class UsesMissing(Method):
            name = "toy-ee-user"
            kinds = ("regression",)
            defaults = {"encoding": "ee", "ee_variant": "no-such-network"}

            def fit(self, train, valid, ctx):
                return self

            def predict(self, data):
                return np.zeros(len(data))
    '''))
    for extra in ((), ("--dry-run",)):
        res = invoke("run", "--suite", str(suite), *extra)
        assert res.exit_code == 2, res.output
        assert str(suite) in res.output and "'no-such-network'" in res.output and "not a known method" in res.output


def test_machinery_is_followed_but_not_hashed(tmp_path, monkeypatch):
    """A locking or version change must not re-run every suite; the numerical code must."""
    reg = discover(entry_points=False)
    files = identity.plugin_files(reg.method("knn").origin)
    assert identity.BENCH_DIR / "__init__.py" in files  # reached (`from bench import Method`) ...
    before = identity.files_identity(files)
    fake = {p: ("0" * 16 if p in identity.MACHINERY else identity.file_digest(p)) for p in files}
    monkeypatch.setattr(identity, "file_digest", lambda p: fake[p])
    assert identity.files_identity(files) == before  # ... but not part of the digest
    fake[identity.BENCH_DIR / "methods" / "features.py"] = "1" * 16
    assert identity.files_identity(files) != before


def test_a_reused_closure_sees_edits_and_new_modules(tmp_path):
    """The per-process closure cache must never hide a change: an edited file, or a module that
    appears where an import now resolves, gives a new closure."""
    pkg = tmp_path / "mypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    plugin = pkg / "plugin.py"
    plugin.write_text("from mypkg import helper\n")
    roots = {"mypkg": tmp_path}
    first = identity.closure([plugin], roots)
    assert pkg / "helper.py" not in first
    (pkg / "helper.py").write_text("from mypkg import deep\n")  # the import now resolves
    second = identity.closure([plugin], roots)
    assert pkg / "helper.py" in second
    (pkg / "deep.py").write_text("X = 1\n")
    assert pkg / "deep.py" in identity.closure([plugin], roots)


# -- file digests (hashlib.file_digest) -------------------------------------------------------

def test_file_digests_read_in_blocks_equal_the_digest_of_the_whole_file(tmp_path):
    """The file hashes behind record keys, plugin source hashes, probe verdicts and download
    checks: the same digests, at the same truncation, as hashing the file's bytes at once."""
    import hashlib

    from bench.data.download import file_checksum as archive_digest
    from bench.plugins.candidates import file_candidate
    from bench.plugins.registry import file_hash

    body = os.urandom(3 * 2**20 + 17)  # more than one block of hashlib.file_digest
    for name, data in (("big.py", body), ("empty.py", b"")):
        path = tmp_path / name
        path.write_bytes(data)
        sha = hashlib.sha256(data).hexdigest()
        assert identity.file_digest(path) == file_hash(path) == sha[:16]
        assert file_candidate(path, "m").fingerprint == sha
        assert archive_digest(path, "md5") == hashlib.md5(data).hexdigest()
        assert archive_digest(path, "sha256") == sha


def test_no_plugin_identity_covers_the_harness():
    """A plugin's number is made by its code, the contracts, the method bases, nn and data helpers;
    the runner, store, registry, report, CLI and SDK must stay out, or any change to them would
    re-run every suite (`from bench import Method` must not reach bench.sdk, for instance)."""
    reg = discover(entry_points=False)
    harness = ("run", "results", "report", "cli", "plugins", "perf")
    origins = [e.origin for e in reg.methods.values()] + [e.origin for e in reg.datasets.values()]
    reached = set()
    for origin in origins:
        for f in identity.plugin_files(origin):
            rel = f.relative_to(identity.BENCH_DIR.parent)
            if rel.parts[0] == "bench" and (rel.parts[1] in harness or rel.name == "sdk.py"):
                reached.add(f"{origin.path}: {rel}")
    assert not reached
