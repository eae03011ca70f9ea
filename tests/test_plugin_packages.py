"""Plugins may be packages: a folder with ``__init__.py`` in a plugin folder is one plugin, loaded
by path under a private module name, its relative imports working; a broken one is listed as
broken; the plugin folders themselves never become importable."""
from __future__ import annotations

import json
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

from bench.core import identity
from bench.plugins.candidates import file_candidate
from bench.plugins.registry import builtin_root, discover

INIT = '''
"""A method plugin in two modules: the class here, its arithmetic in a helper module."""
import numpy as np

from bench import Method

from .helpers import OFFSET, centre
from . import model


class Centred(Method):
    name = "pkg-centred"
    kinds = ("regression",)

    def fit(self, train, valid, ctx):
        self.centre_ = centre(train.y)
        return self

    def predict(self, data):
        return np.full(len(data), self.centre_ + OFFSET)
'''

HELPERS = '''
import numpy as np

OFFSET = 0.5


def centre(y):
    return float(np.median(y))
'''

MODEL = '''
from bench import Method


class FromSubmodule(Method):
    """Defined in a module of the package, exported by its __init__."""
    name = "pkg-sub"
    kinds = ("regression",)
'''


def write_package(folder: Path, name: str = "centred", helpers: str = HELPERS) -> Path:
    pkg = folder / name
    pkg.mkdir(parents=True)
    (pkg / "helpers.py").write_text(textwrap.dedent(helpers))
    (pkg / "model.py").write_text(textwrap.dedent(MODEL))
    # the __init__ imports the module `model` and exports its class too
    (pkg / "__init__.py").write_text(textwrap.dedent(INIT) + "FromSubmodule = model.FromSubmodule\n")
    return pkg


def test_a_package_plugin_is_discovered_with_its_helper_modules(plugin_dir):
    pkg = write_package(plugin_dir)
    reg = discover(extra_dirs=[plugin_dir], entry_points=False)
    assert reg.broken == []
    entry = reg.methods["pkg-centred"]
    assert entry.origin.path == str(pkg / "__init__.py")
    module = sys.modules[entry.cls.__module__]
    assert entry.cls.__module__.startswith("_bench_plugin_userplug_centred")
    assert module.__path__ == [str(pkg)]
    # the relative import found the package's own module, under the private name
    helpers = sys.modules[entry.cls.__module__ + ".helpers"]
    assert helpers.__file__ == str(pkg / "helpers.py") and helpers.OFFSET == 0.5
    # a class defined in a module of the package counts as the package's
    assert reg.methods["pkg-sub"].cls.__module__ == entry.cls.__module__ + ".model"
    # and pickles under its private name
    m = entry.build()
    assert type(pickle.loads(pickle.dumps(m))) is entry.cls


def test_a_package_plugin_runs(cli, plugin_dir, tmp_path):
    write_package(plugin_dir)
    suite = tmp_path / "pkg.toml"
    suite.write_text('[[datasets]]\nname = "toy-reg"\nsplit = "fixed"\n[[methods]]\nvariant = "pkg-centred"\n')
    invoke, results = cli
    out = invoke("run", "--suite", str(suite))
    assert out.exit_code == 0, out.output
    records = [json.loads(p.read_text()) for p in results.rglob("*.json")]
    mine = [r for r in records if r.get("spec", {}).get("method") == "pkg-centred"]
    assert mine and mine[0]["status"] == "ok", mine
    # toy-reg: y = 100 + i; train rows 0..23 (median 111.5) + OFFSET, test rows 32..39
    pred, truth = 112.0, 100.0 + 32 + 3.5
    assert abs(mine[0]["metrics"]["mape"] - abs(truth - pred) / truth) < 0.05


def test_a_broken_package_is_listed_and_leaves_nothing_behind(plugin_dir):
    write_package(plugin_dir, "halfbroken", helpers="raise RuntimeError('helper cannot import')\n")
    (plugin_dir / "nothing_here").mkdir()  # no __init__.py: not a plugin
    (plugin_dir / "nothing_here" / "x.py").write_text("raise RuntimeError('not a plugin')\n")
    (plugin_dir / "_private_pkg").mkdir()
    (plugin_dir / "_private_pkg" / "__init__.py").write_text("raise RuntimeError('not a plugin')\n")
    (plugin_dir / "__pycache__").mkdir()
    reg = discover(extra_dirs=[plugin_dir], entry_points=False)
    broken = {b.origin: b.error for b in reg.broken}
    assert list(broken) == [str(plugin_dir / "halfbroken" / "__init__.py")]
    assert "RuntimeError: helper cannot import" in broken[str(plugin_dir / "halfbroken" / "__init__.py")]
    assert "pkg-centred" not in reg.methods and "toy-mean" in reg.methods
    assert not [m for m in sys.modules if "halfbroken" in m]


def test_the_probe_imports_a_package_and_fingerprints_all_its_files(plugin_dir, monkeypatch):
    pkg = write_package(plugin_dir)
    reg = discover(extra_dirs=[plugin_dir], entry_points=False, safe=True)
    assert "pkg-centred" in reg.methods and reg.broken == []
    before = file_candidate(pkg / "__init__.py", "x").fingerprint
    source = reg.methods["pkg-centred"].origin.source_hash
    (pkg / "helpers.py").write_text(HELPERS.replace("0.5", "0.25"))
    assert file_candidate(pkg / "__init__.py", "x").fingerprint != before
    again = discover(extra_dirs=[plugin_dir], entry_points=False)
    assert again.methods["pkg-centred"].origin.source_hash != source


def test_a_package_that_kills_the_process_is_caught_by_the_probe(plugin_dir):
    write_package(plugin_dir, "killer", helpers="import os\nos._exit(3)\n")
    reg = discover(extra_dirs=[plugin_dir], entry_points=False, safe=True)
    broken = {b.origin: b.error for b in reg.broken}
    assert "exit status 3" in broken[str(plugin_dir / "killer" / "__init__.py")]
    assert "toy-mean" in reg.methods


def test_the_identity_of_a_package_covers_its_helper_modules(tmp_path):
    datasets = tmp_path / "root" / "datasets"  # like the built-in folder: no __init__.py itself
    pkg = write_package(datasets)
    origin = type("O", (), {"path": str(pkg / "__init__.py"), "distribution": None, "version": None,
                            "source_hash": ""})()
    files = identity.plugin_files(origin)
    assert {f.name for f in files} >= {"__init__.py", "helpers.py", "model.py"}
    assert not [f for f in files if f.parent == datasets]
    before = identity.code_identity(origin)
    (pkg / "helpers.py").write_text(HELPERS.replace("0.5", "0.75"))
    assert identity.code_identity(origin) != before


def test_builtin_packages_never_make_plugins_or_datasets_importable(tmp_path):
    """The real built-in folders (datasets there are packages) in a fresh interpreter."""
    code = textwrap.dedent('''
        import importlib, sys
        from bench.plugins.registry import discover
        reg = discover(entry_points=False)
        assert reg.broken == [], reg.broken
        print(reg.datasets["rossmann"].origin.path)
        print(reg.datasets["rossmann"].cls.__module__)
        for name in ("plugins", "datasets"):
            try:
                mod = importlib.import_module(name)
            except ImportError:
                print("no", name)
            else:  # only someone else's package (Hugging Face's datasets) may answer
                print("other", name, getattr(mod, "__file__", None))
        ''')
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    path, module, *imports = res.stdout.strip().splitlines()
    assert path == str(builtin_root() / "datasets" / "rossmann" / "__init__.py")
    assert module == "_bench_plugin_datasets_rossmann"
    for line in imports:
        assert line.startswith("no ") or str(builtin_root()) not in line, line
