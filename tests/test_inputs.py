"""Inputs are checked before anything runs: suite parameter types, `bench run` options, plugin
names claimed twice; and predictions of the wrong type end their run as a failed record."""
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from bench.cli.app import main
from bench.plugins.registry import discover
from bench.run.suite import SuiteError, load_suite
from conftest import run_records

TYPED = '''
import numpy as np

from bench import Dataset, Method, Schema, Split, Task


class Typed(Method):
    """Parameters of every kind the type check infers from defaults, plus one declared."""

    name = "typed"
    kinds = ("regression",)
    defaults = {"n_neighbors": 5, "lr": 0.1, "flag": False, "layers": (8,), "mode": "fast",
                "pca": None, "rule": "auto", "width": None}
    param_types = {"width": (int, type(None))}
    variants = {"typed": {}, "typed-big": {"n_neighbors": 50}}

    def fit(self, train, valid, ctx):
        return self

    def predict(self, data):
        return np.zeros(len(data))


class Strings(Method):
    name = "toy-strings"
    kinds = ("regression",)

    def fit(self, train, valid, ctx):
        return self

    def predict(self, data):
        return np.array(["high"] * len(data))


class UnknownLabel(Method):
    name = "toy-unknown-label"
    kinds = ("classification",)

    def fit(self, train, valid, ctx):
        return self

    def predict(self, data):
        out = np.zeros(len(data), dtype=np.int64)
        out[-1] = 7  # toy-cls has classes 0 and 1 only
        return out


class TypedData(Dataset):
    name = "typed-data"
    kind = "regression"
    target = "y"
    metrics = ("rmse",)
    embedded = True
    synthetic = True
    defaults = {"rows": 20}

    def load(self, split, ctx):
        n = self.params["rows"]
        return Task(dataset=self.name, kind=self.kind, target=self.target, metrics=self.metrics,
                    schema=Schema(continuous=("a",)), X=None, y=np.arange(float(n)),
                    split=Split(split, np.arange(n // 2), np.arange(0), np.arange(n // 2, n)),
                    synthetic=True)
'''


@pytest.fixture
def typed_dir(plugin_dir: Path) -> Path:
    (plugin_dir / "typed.py").write_text(TYPED)
    return plugin_dir


@pytest.fixture
def typed_registry(typed_dir: Path):
    return discover(extra_dirs=[typed_dir], entry_points=False)


def _typed_suite(write_suite, params: str, variant: str = "typed", dataset_params: str = "") -> Path:
    return write_suite(f'''
        [[datasets]]
        name = "typed-data"
        {dataset_params}
        [[methods]]
        variant = "{variant}"
        params = {{ {params} }}
        ''', name="typed-suite")


@pytest.mark.parametrize("params, expected", [
    ('n_neighbors = "ten"', "parameter n_neighbors = 'ten' should be int (its default is 5)"),
    ("n_neighbors = 2.5", "parameter n_neighbors = 2.5 should be int (its default is 5)"),
    ("n_neighbors = true", "parameter n_neighbors = True should be int (its default is 5)"),
    ("lr = false", "parameter lr = False should be float (its default is 0.1)"),
    ('lr = "0.1"', "parameter lr = '0.1' should be float (its default is 0.1)"),
    ("flag = 1", "parameter flag = 1 should be bool (its default is False)"),
    ("mode = 3", "parameter mode = 3 should be str (its default is 'fast')"),
    # a bare list is a sweep: each element must be a list itself
    ("layers = [16, 8]", "parameter layers = 16 should be list (its default is (8,))"),
    ('width = "wide"', "parameter width = 'wide' should be int or None (its default is None)"),
])
def test_mistyped_parameter_names_file_entry_and_type(write_suite, typed_registry, params, expected):
    path = _typed_suite(write_suite, params)
    with pytest.raises(SuiteError) as err:
        load_suite(path).expand(typed_registry)
    assert str(err.value) == f'{path}: method "typed": {expected}'


@pytest.mark.parametrize("params", [
    "n_neighbors = 3", "lr = 1", "lr = 0.5", "flag = true", "layers = [[16, 8]]", 'mode = "slow"',
    'pca = 50', 'pca = "anything"', "rule = 0.5", 'rule = "paper"', "width = 3",
    "n_neighbors = [1, 2, 3]",
])
def test_well_typed_parameters_pass(write_suite, typed_registry, params):
    specs = load_suite(_typed_suite(write_suite, params)).expand(typed_registry)
    assert specs and all(s.method == "typed" for s in specs)


def test_glob_entry_names_the_variant_it_matched(write_suite, typed_registry):
    path = _typed_suite(write_suite, 'n_neighbors = "ten"', variant="typed*")
    with pytest.raises(SuiteError, match=r'method "typed\*" \(variant typed\): parameter n_neighbors'):
        load_suite(path).expand(typed_registry)


def test_mistyped_dataset_parameter(write_suite, typed_registry):
    path = _typed_suite(write_suite, "", dataset_params='params = { rows = "many" }')
    with pytest.raises(SuiteError) as err:
        load_suite(path).expand(typed_registry)
    assert str(err.value) == (f'{path}: dataset "typed-data": parameter rows = \'many\' should be int '
                              "(its default is 20)")


def test_mistyped_parameter_stops_bench_run_before_anything_runs(cli, typed_dir, write_suite):
    invoke, results = cli
    path = _typed_suite(write_suite, 'n_neighbors = "ten"')
    res = invoke("run", "--suite", str(path))
    assert res.exit_code == 2
    assert f"""{path}: method "typed": parameter n_neighbors = 'ten' should be int""" in res.output
    assert not (results / "runs").exists()


def test_every_shipped_suite_passes_the_checks():
    reg = discover(entry_points=False)
    assert len(reg.suites) >= 5
    for name, path in reg.suites.items():
        assert load_suite(path, name).expand(reg), name


def test_repeated_seed_in_a_suite_names_the_file(write_suite):
    path = write_suite('''
        seeds = [0, 1, 0]
        [[datasets]]
        name = "toy-reg"
        [[methods]]
        variant = "toy-mean"
        ''')
    with pytest.raises(SuiteError) as err:
        load_suite(path)
    assert str(err.value).startswith(f"{path}: seeds list 0 more than once")


# --- bench run options ------------------------------------------------------------------------

def _run(plugin_dir: Path, tmp_path: Path, *args: str):
    """`bench run --suite toy --dry-run` with these options (and no --device unless given)."""
    argv = ["run", "--suite", "toy", "--dry-run", "--plugins", str(plugin_dir),
            "--data-dir", str(tmp_path), "--cache-dir", str(tmp_path / "cache"),
            "--results-dir", str(tmp_path / "results"), *args]
    return CliRunner().invoke(main, argv, catch_exceptions=False)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-5", "0"])
def test_timeout_must_be_a_positive_finite_number(plugin_dir, tmp_path, value):
    res = _run(plugin_dir, tmp_path, "--device", "cpu", f"--timeout={value}")
    assert res.exit_code == 2
    assert "Invalid value for" in res.output and "--timeout" in res.output


def test_unknown_device_is_a_usage_error_listing_the_choices(plugin_dir, tmp_path):
    res = _run(plugin_dir, tmp_path, "--device", "tpu")
    assert res.exit_code == 2
    assert "Invalid value for --device" in res.output
    assert "'tpu' is not a device; use auto, cpu, cuda or cuda:N" in res.output


@pytest.mark.parametrize("value, reason", [
    ("abc", "'abc' is not a comma-separated list of integers"),
    ("0,x", "'0,x' is not a comma-separated list of integers"),
    ("0,0", "seed 0 given more than once in '0,0'"),
    ("1,2,1", "seed 1 given more than once"),
])
def test_bad_seeds_name_the_option(plugin_dir, tmp_path, value, reason):
    res = _run(plugin_dir, tmp_path, "--device", "cpu", "--seeds", value)
    assert res.exit_code == 2
    assert "Invalid value for --seeds" in res.output and reason in res.output


def test_good_options_still_plan(plugin_dir, tmp_path):
    res = _run(plugin_dir, tmp_path, "--device", "cpu", "--timeout", "30", "--seeds", "3,4")
    assert res.exit_code == 0, res.output
    assert "suite toy: 12 runs" in res.output  # 3 variants x 2 datasets x 2 seeds, some n/a
    assert res.output.count(" seed 3\n") == 6 and res.output.count(" seed 4\n") == 6


# --- one name, two plugins --------------------------------------------------------------------

CLAIMS = '''
import numpy as np
import pandas as pd

from bench import Dataset, Method, Schema, Split, Task


class Claim{n}(Method):
    name = "toy-dup"
    kinds = ("regression",)

    def fit(self, train, valid, ctx):
        return self

    def predict(self, data):
        return np.full(len(data), {n}.0)


class ClaimData{n}(Dataset):
    name = "dup-data"
    kind = "regression"
    target = "y"
    metrics = ("rmse",)
    embedded = True
    synthetic = True

    def load(self, split, ctx):
        return Task(dataset=self.name, kind=self.kind, target=self.target, metrics=self.metrics,
                    schema=Schema(continuous=("a",)), X=pd.DataFrame({{"a": np.arange(8.0)}}),
                    y=np.arange(8.0), split=Split(split, np.arange(4), np.arange(0), np.arange(4, 8)),
                    synthetic=True)
'''


@pytest.fixture
def claimed_twice(plugin_dir: Path) -> Path:
    for n in (1, 2):
        (plugin_dir / f"claim_{n}.py").write_text(textwrap.dedent(CLAIMS.format(n=n)))
    return plugin_dir


@pytest.mark.parametrize("dataset, variant, what", [
    ("toy-reg", "toy-dup", "method variant 'toy-dup'"),
    ("dup-data", "toy-mean", "dataset 'dup-data'"),
])
def test_name_claimed_by_two_plugins_stops_run(cli, claimed_twice, write_suite, dataset, variant, what):
    invoke, results = cli
    path = write_suite(f'[[datasets]]\nname = "{dataset}"\n[[methods]]\nvariant = "{variant}"\n')
    for extra in (["--dry-run"], []):
        res = invoke("run", "--suite", str(path), *extra)
        assert res.exit_code == 2, res.output
        first, second = claimed_twice / "claim_1.py", claimed_twice / "claim_2.py"
        assert f"{what} is defined by {first} and by {second}" in res.output
    assert not (results / "runs").exists()


@pytest.mark.parametrize("name, what", [("toy-dup", "method variant 'toy-dup'"), ("dup-data", "dataset 'dup-data'")])
def test_check_refuses_a_name_claimed_by_two_plugins(cli, claimed_twice, name, what):
    """`bench check` used to pass whichever plugin loaded first while `bench run` refused the name."""
    invoke, _ = cli
    res = invoke("check", name)
    assert res.exit_code == 2, res.output
    first, second = claimed_twice / "claim_1.py", claimed_twice / "claim_2.py"
    assert f"{what} is defined by {first} and by {second}" in res.output
    assert "PASS" not in res.output


def test_a_clash_elsewhere_does_not_stop_run_and_list_still_shows_it(cli, claimed_twice):
    invoke, _ = cli
    res = invoke("run", "--suite", "toy", "--dry-run")
    assert res.exit_code == 0, res.output
    res = invoke("list", "broken")
    assert res.exit_code == 0
    assert "claim_2.py" in res.output and "method variant 'toy-dup' is already defined by" in res.output


# --- predictions of the wrong type ------------------------------------------------------------

def _records(results: Path) -> dict[str, dict]:
    return run_records(results, key="{method}")


@pytest.mark.parametrize("variant, dataset, reason", [
    ("toy-strings", "toy-reg", "ValueError: method toy-strings: predict returned string values "
                               "(e.g. 'high') for a regression task; it must return numbers"),
    ("toy-unknown-label", "toy-cls", "ValueError: method toy-unknown-label: predict returned label(s) 7 "
                                     "that are not among the train part's classes (0, 1)"),
])
def test_predictions_of_the_wrong_type_fail_the_run(cli, typed_dir, write_suite, variant, dataset, reason):
    invoke, results = cli
    good = "toy-mean" if dataset == "toy-reg" else "toy-majority"
    path = write_suite(f'[[datasets]]\nname = "{dataset}"\n'
                       f'[[methods]]\nvariant = "{variant}"\n[[methods]]\nvariant = "{good}"\n')
    res = invoke("run", "--suite", str(path), "--format", "none")
    assert res.exit_code == 1, res.output
    recs = _records(results)
    assert recs[variant]["status"] == "failed" and recs[variant]["error"] == reason
    assert recs[variant]["metrics"] == {}
    assert recs[good]["status"] == "ok"
