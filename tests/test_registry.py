"""Discovery: user folders, broken plugins, duplicates, close matches, globs, private module
names and entry points of installed distributions."""
import pickle
import sys
import textwrap
from pathlib import Path

import pytest

from bench.plugins.registry import NO_ENTRY_POINTS_ENV, builtin_root, discover

from conftest import write_plugin_folder

REPO = builtin_root().resolve()


def _ours(reg, folder):
    """Broken entries that come from a given folder (the built-in plugins are not under test)."""
    return [b for b in reg.broken if b.origin.startswith(str(folder))]


def test_discovers_a_user_folder(plugin_dir):
    reg = discover(extra_dirs=[plugin_dir], entry_points=False)
    for v in ("toy-mean", "toy-mean-shifted", "toy-majority", "toy-boom", "toy-nan", "toy-short"):
        assert v in reg.methods
    mean = reg.methods["toy-mean"]
    assert mean.family == "toy-mean"
    assert reg.methods["toy-mean-shifted"].params == {"shift": 10.0}
    assert reg.methods["toy-mean-shifted"].resolved_params() == {"shift": 10.0, "scale": 1.0, "layers": (8,)}
    assert mean.origin.path == str(plugin_dir / "toy_methods.py")
    assert len(mean.origin.source_hash) == 16
    assert {"toy-reg", "toy-cls", "toy-files"} <= set(reg.datasets)
    assert reg.datasets["toy-reg"].origin.path == str(plugin_dir / "toy_datasets.py")
    assert reg.suites["toy"] == plugin_dir / "toy.toml"
    # nothing else: the built-in folders are empty stand-ins here
    assert set(reg.methods) == {"toy-mean", "toy-mean-shifted", "toy-majority", "toy-boom", "toy-nan", "toy-short"}
    assert set(reg.datasets) == {"toy-reg", "toy-cls", "toy-files"}
    assert reg.broken == []


def test_builtin_folders_come_first_and_hold_suites(plugin_dir, builtin_dir):
    (builtin_dir / "plugins" / "shipped.py").write_text(SHIPPED)
    (builtin_dir / "suites" / "toy.toml").write_text('[[datasets]]\nname = "toy-reg"\n[[methods]]\nvariant = "toy-shipped"\n')
    reg = discover(extra_dirs=[plugin_dir], entry_points=False)
    assert reg.methods["toy-shipped"].origin.path == str(builtin_dir / "plugins" / "shipped.py")
    assert reg.methods["toy-shipped"].cls.__module__ == "_bench_plugin_plugins_shipped"
    assert reg.suites["toy"] == builtin_dir / "suites" / "toy.toml"  # a built-in suite wins its name


def test_the_real_builtin_folders(plugin_dir, monkeypatch):
    """The shipped folders (not the stand-ins): found, private module names, never importable."""
    monkeypatch.undo()  # the real builtin_root
    reg = discover(extra_dirs=[plugin_dir], entry_points=False)
    assert builtin_root().resolve() == REPO
    assert "breast-cancer" in reg.datasets and "smoke" in reg.suites
    assert reg.datasets["breast-cancer"].cls.__module__ == "_bench_plugin_datasets_breast_cancer"
    assert "toy-mean" in reg.methods  # the user folder still works beside them
    _assert_private(reg)


def test_resolved_params_precedence(toy_registry):
    e = toy_registry.methods["toy-mean-shifted"]
    # defaults < variant < caller; None from the caller never overrides
    assert e.resolved_params({"shift": 3.0, "scale": None})["shift"] == 3.0
    assert e.resolved_params({"shift": None})["shift"] == 10.0
    assert e.build({"scale": 2.0}).params == {"shift": 10.0, "scale": 2.0, "layers": (8,)}


def test_missing_user_folder_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        discover(extra_dirs=[tmp_path / "nope"], entry_points=False)


def test_broken_plugins_are_listed_and_the_rest_still_works(plugin_dir):
    (plugin_dir / "raises_at_import.py").write_text("raise RuntimeError('cannot import me')\n")
    (plugin_dir / "bad_syntax.py").write_text("def broken(:\n    pass\n")
    (plugin_dir / "missing_dep.py").write_text("import no_such_module_for_bench_tests\n")
    reg = discover(extra_dirs=[plugin_dir], entry_points=False)
    broken = {Path(b.origin).name: b.error for b in _ours(reg, plugin_dir)}
    assert set(broken) == {"raises_at_import.py", "bad_syntax.py", "missing_dep.py"}
    assert "RuntimeError: cannot import me" in broken["raises_at_import.py"]
    assert "SyntaxError" in broken["bad_syntax.py"]
    assert "No module named 'no_such_module_for_bench_tests'" in broken["missing_dep.py"]
    assert "toy-mean" in reg.methods and "toy-reg" in reg.datasets
    # a failed import leaves no half-initialised module behind
    assert not [m for m in sys.modules if "raises_at_import" in m or "bad_syntax" in m]
    # and the unknown-name message points at the broken plugins
    with pytest.raises(KeyError, match="Broken plugins"):
        reg.method("from-the-broken-file")


def test_files_starting_with_underscore_are_not_plugins(plugin_dir):
    (plugin_dir / "_helpers.py").write_text("raise RuntimeError('not a plugin')\n")
    reg = discover(extra_dirs=[plugin_dir], entry_points=False)
    assert _ours(reg, plugin_dir) == []


SHIPPED = '''
from bench import Method


class Shipped(Method):
    name = "toy-shipped"
    kinds = ("regression",)
'''

DUP = '''
from bench import Dataset, Method


class Again(Method):
    name = "toy-again"
    kinds = ("regression",)
    variants = {"toy-again": {}, "toy-mean": {}}


class ShippedAgain(Method):
    name = "toy-shipped"
    kinds = ("regression",)


class ToyRegAgain(Dataset):
    name = "toy-reg"
    kind = "regression"
'''


def test_duplicate_names_are_reported_and_the_first_wins(plugin_dir, builtin_dir):
    (builtin_dir / "plugins" / "shipped.py").write_text(SHIPPED)
    (plugin_dir / "zz_duplicates.py").write_text(DUP)
    reg = discover(extra_dirs=[plugin_dir], entry_points=False)
    errors = [b.error for b in _ours(reg, plugin_dir)]
    assert any("method variant 'toy-mean' is already defined by" in e and "toy_methods.py" in e for e in errors)
    assert any("dataset 'toy-reg' is already defined by" in e for e in errors)
    assert reg.methods["toy-mean"].origin.path.endswith("toy_methods.py")
    assert reg.methods["toy-again"].origin.path.endswith("zz_duplicates.py")
    assert reg.datasets["toy-reg"].origin.path.endswith("toy_datasets.py")
    # built-in plugins come first
    assert any("method variant 'toy-shipped' is already defined by" in e and "shipped.py" in e for e in errors)
    assert reg.methods["toy-shipped"].origin.path.endswith("shipped.py")
    assert len(errors) == 3


def test_unknown_names_suggest_close_matches(toy_registry):
    with pytest.raises(KeyError) as err:
        toy_registry.method("toy-maen")
    msg = err.value.args[0]
    assert "unknown method 'toy-maen'" in msg and "did you mean" in msg and "'toy-mean'" in msg
    with pytest.raises(KeyError) as err:
        toy_registry.dataset("toy-rge")
    assert "unknown dataset 'toy-rge'" in err.value.args[0] and "'toy-reg'" in err.value.args[0]
    with pytest.raises(KeyError) as err:
        toy_registry.method("zzzzzzzz")
    assert "did you mean" not in err.value.args[0] and "Known:" in err.value.args[0]


def test_unknown_suite(toy_registry):
    with pytest.raises(KeyError, match="did you mean 'toy'"):
        toy_registry.suite_path("tyo")


MLPS = '''
from bench import Method


class Mlps(Method):
    name = "mlp-family"
    kinds = ("regression",)
    variants = {"tmlp10": {}, "tmlp2": {}, "tmlp1": {}, "tmlp2-bn": {}, "other": {}}
'''


def test_glob_matching_uses_natural_order(plugin_dir):
    (plugin_dir / "mlps.py").write_text(MLPS)
    reg = discover(extra_dirs=[plugin_dir], entry_points=False)
    assert reg.match_methods(["tmlp*"]) == ["tmlp1", "tmlp2", "tmlp2-bn", "tmlp10"]
    assert reg.match_methods(["tmlp?"]) == ["tmlp1", "tmlp2"]
    assert reg.match_methods(["tmlp10", "oth*"]) == ["other", "tmlp10"]
    assert reg.match_methods(["TMLP*"]) == []  # case-sensitive
    assert reg.match_datasets(["toy-*"]) == ["toy-cls", "toy-files", "toy-reg"]


def _assert_private(reg, *folders):
    for name in ("datasets", "plugins"):
        mod = sys.modules.get(name)
        if mod is not None:  # e.g. Hugging Face's `datasets`, never ours
            locations = [getattr(mod, "__file__", None) or ""] + list(getattr(mod, "__path__", []))
            for root in (REPO, *folders):
                assert not any(str(loc).startswith(str(root)) for loc in locations), (name, locations)
    for entry in list(reg.methods.values()) + list(reg.datasets.values()):
        if entry.origin.path:
            assert entry.cls.__module__.startswith("_bench_plugin_"), entry.cls.__module__
            # the card is the plugin file's, or (a package) one of its own modules'
            file, origin = Path(sys.modules[entry.cls.__module__].__file__), Path(entry.origin.path)
            assert file == origin or (origin.name == "__init__.py" and file.is_relative_to(origin.parent)), (
                file, origin)


def test_plugin_folders_never_become_importable_packages(tmp_path, builtin_dir):
    user = write_plugin_folder(tmp_path / "plugins")  # a user folder named like ours
    (builtin_dir / "plugins" / "shipped.py").write_text(SHIPPED)
    reg = discover(extra_dirs=[user], entry_points=False)
    _assert_private(reg, builtin_dir, user)


def test_plugin_classes_pickle_under_their_private_module_names(toy_registry):
    m = toy_registry.methods["toy-mean-shifted"].build()
    back = pickle.loads(pickle.dumps(m))
    assert type(back) is type(m) and back.params == m.params


def test_discover_twice_reuses_the_loaded_modules(plugin_dir, toy_registry):
    again = discover(extra_dirs=[plugin_dir], entry_points=False)
    assert again.methods["toy-mean"].cls is toy_registry.methods["toy-mean"].cls


def test_user_folder_named_like_a_builtin_one_does_not_replace_it(tmp_path, builtin_dir):
    """A user folder `plugins/` with a file named like a built-in plugin file gets its own module,
    so the built-in classes still pickle (regression: both were `_bench_plugin_plugins_<stem>`)."""
    shipped = builtin_dir / "plugins" / "shipped.py"
    shipped.write_text(SHIPPED)
    user = tmp_path / "plugins"
    user.mkdir()
    (user / "shipped.py").write_text(textwrap.dedent('''
        from bench import Method

        class Mine(Method):
            name = "toy-mine"
            kinds = ("regression",)
        '''))
    reg = discover(extra_dirs=[user], entry_points=False)
    mine, builtin = reg.methods["toy-mine"].cls, reg.methods["toy-shipped"].cls
    assert mine.__module__ != builtin.__module__
    assert sys.modules[mine.__module__].__file__ == str(user / "shipped.py")
    assert sys.modules[builtin.__module__].__file__ == str(shipped)
    for cls in (mine, builtin):
        assert type(pickle.loads(pickle.dumps(cls()))) is cls


# --- entry points of installed distributions ---------------------------------------------------

EP_MODULE = '''
import numpy as np
from bench import Dataset, Method, Schema, Split, Task


class EPMethod(Method):
    name = "toy-ep"
    kinds = ("regression",)
    defaults = {"k": 1}
    variants = {"toy-ep": {}, "toy-ep-k2": {"k": 2}}

    def fit(self, train, valid, ctx):
        return self

    def predict(self, data):
        return np.zeros(len(data))


class EPData(Dataset):
    name = "toy-ep-data"
    kind = "regression"
    embedded = True
'''


def _fake_distribution(site: Path, module: str, entry_points: str) -> None:
    """What pip leaves in site-packages: the module and a .dist-info with METADATA and entry points."""
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module}.py").write_text(EP_MODULE)
    info = site / "toy_ep_dist-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-ep-dist\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))


@pytest.fixture
def ep_site(tmp_path, monkeypatch, request, builtin_dir):
    module = f"toy_ep_module_{request.node.name.replace('[', '_').replace(']', '_').replace('-', '_')}"
    site = tmp_path / "site"
    _fake_distribution(site, module, f"""
        [bench.methods]
        toy-ep = {module}:EPMethod
        toy-ep-missing = {module}:NoSuchClass
        toy-ep-notaclass = {module}:np

        [bench.datasets]
        toy-ep-data = {module}

        [console_scripts]
        unrelated = {module}:main
        """)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delenv(NO_ENTRY_POINTS_ENV, raising=False)
    yield module
    sys.modules.pop(module, None)


def test_entry_point_plugins_are_discovered_with_their_distribution(ep_site):
    reg = discover()
    for variant in ("toy-ep", "toy-ep-k2"):
        e = reg.methods[variant]
        assert e.cls.__module__ == ep_site
        assert e.origin.path is None
        assert e.origin.distribution == "toy-ep-dist"
        assert e.origin.version == "1.2.3"
        assert e.origin.entry_point == "bench.methods:toy-ep"
        assert len(e.origin.source_hash) == 16
    assert reg.methods["toy-ep-k2"].resolved_params() == {"k": 2}
    assert str(reg.methods["toy-ep"].origin) == "toy-ep-dist 1.2.3 (entry point bench.methods:toy-ep)"
    # a module as entry point: its dataset classes are registered
    d = reg.datasets["toy-ep-data"]
    assert d.origin.distribution == "toy-ep-dist" and d.origin.entry_point == "bench.datasets:toy-ep-data"
    # bad entry points are listed as broken, with the distribution named
    broken = {b.origin: b.error for b in reg.broken if "toy-ep-dist" in b.origin}
    assert set(broken) == {"toy-ep-dist 1.2.3 (entry point bench.methods:toy-ep-missing)",
                           "toy-ep-dist 1.2.3 (entry point bench.methods:toy-ep-notaclass)"}
    assert "NoSuchClass" in broken["toy-ep-dist 1.2.3 (entry point bench.methods:toy-ep-missing)"]
    assert "not a bench method" in broken["toy-ep-dist 1.2.3 (entry point bench.methods:toy-ep-notaclass)"]


def test_entry_points_can_be_switched_off(ep_site, monkeypatch):
    assert "toy-ep" not in discover(entry_points=False).methods
    monkeypatch.setenv(NO_ENTRY_POINTS_ENV, "1")
    reg = discover()
    assert "toy-ep" not in reg.methods and "toy-ep-data" not in reg.datasets
    assert not [b for b in reg.broken if "toy-ep-dist" in b.origin]
    assert "toy-ep" in discover(entry_points=True).methods


def test_entry_point_method_shows_in_bench_list(ep_site, bench_cmd):
    res = bench_cmd(["list", "methods"])
    assert res.exit_code == 0, res.output
    line = next(l for l in res.output.splitlines() if l.startswith("toy-ep-k2"))
    assert "toy-ep-dist 1.2.3" in line and "k=2" in line


SUBCLASSES = '''
from pathlib import Path

from bench.plugins.registry import load_file

KNN = load_file(Path({knn!r})).KNN  # the built-in classes, as the registry loads them
BreastCancer = load_file(Path({bc!r})).BreastCancer


class MyKNN(KNN):  # a new plugin: its own name and variants
    name = "my-knn"
    variants = {{"my-knn": {{"n_neighbors": 3}}}}


class SameName(KNN):  # inherits name "knn": refused, never a second "knn"
    pass


class OwnNameOnly(KNN):  # inherits knn's three variants: refused
    name = "knn-renamed"


class MyCancer(BreastCancer):
    name = "my-cancer"


class SameCancer(BreastCancer):
    pass
'''


def test_a_subclass_of_a_plugin_registers_under_its_own_card_only(plugin_dir, builtin_dir):
    """A plugin class registers only in the module defining it, under its own `name` and `variants`;
    a subclass inheriting them is listed as broken with what to set (and nothing clashes)."""
    for sub, name in (("plugins", "knn.py"), ("datasets", "breast_cancer.py")):
        (builtin_dir / sub / name).write_text((REPO / sub / name).read_text())
    knn, bc = builtin_dir / "plugins" / "knn.py", builtin_dir / "datasets" / "breast_cancer.py"
    (plugin_dir / "subclasses.py").write_text(SUBCLASSES.format(knn=str(knn), bc=str(bc)))
    reg = discover(extra_dirs=[plugin_dir], entry_points=False)
    assert reg.clashes == {}
    assert {v: e.cls.__name__ for v, e in reg.methods.items() if "knn" in v} == {
        "knn": "KNN", "knn-standardized": "KNN", "knn-raw": "KNN", "my-knn": "MyKNN"}
    assert reg.methods["knn"].origin.path == str(knn)
    assert reg.methods["my-knn"].origin.path == str(plugin_dir / "subclasses.py")
    assert reg.methods["my-knn"].build().params["n_neighbors"] == 3
    assert reg.datasets["my-cancer"].cls.__name__ == "MyCancer"
    assert reg.datasets["breast-cancer"].origin.path == str(bc)
    errors = sorted(b.error for b in _ours(reg, plugin_dir))
    assert len(errors) == 3, errors
    assert "class OwnNameOnly (name 'knn-renamed') inherits `variants` ['knn', 'knn-raw', 'knn-standardized'] " \
           "from KNN; it is not registered. Set its own, e.g. `variants = {'knn-renamed': {}}`." in errors
    assert any(e.startswith("class SameName inherits `name = 'knn'` from KNN") and "set its own `name`" in e
               for e in errors)
    assert any(e.startswith("class SameCancer inherits `name = 'breast-cancer'` from BreastCancer") for e in errors)
