"""End to end through the CLI on the toy plugins: records, resume, failures, skips, filters."""
import json
import textwrap
from pathlib import Path

import numpy as np
import pytest

from bench.core.dataset import LoadContext
from bench.core.spec import RunRecord
from bench.results.store import Store

from conftest import TOY_TEST_Y, TOY_TRAIN_MEAN, read_records, run_records


def _records(results: Path) -> dict[str, dict]:
    """{'method/dataset seed': record dict}, for the records under results/runs."""
    return run_records(results, key="{method}/{dataset} {seed}")


def _suite(write_suite, methods: list[str], datasets=("toy-reg",), seeds=(0,)) -> str:
    text = f"seeds = {list(seeds)}\n"
    text += "".join(f'[[datasets]]\nname = "{d}"\n' for d in datasets)
    text += "".join(f'[[methods]]\nvariant = "{m}"\n' for m in methods)
    return str(write_suite(text))


def test_run_writes_one_complete_record_per_run(cli, toy_registry, tmp_path):
    invoke, results = cli
    res = invoke("run", "--suite", "toy")
    assert res.exit_code == 0, res.output
    recs = _records(results)
    # toy-reg: toy-mean, toy-mean-shifted, toy-majority(n/a: classification only)
    # toy-cls: toy-majority (the toy-mean variants are n/a); two seeds each
    assert sorted(recs) == sorted(f"{m} {s}" for m in ("toy-mean/toy-reg", "toy-mean-shifted/toy-reg",
                                                       "toy-majority/toy-cls") for s in (0, 1))
    assert "12 runs: 6 ok, 6 n/a" in res.output

    task = toy_registry.dataset("toy-reg").build().load("fixed", LoadContext(tmp_path, tmp_path))
    r = recs["toy-mean/toy-reg 0"]
    assert r["status"] == "ok" and r["error"] is None
    # mean of train y = 111.5; test y = 132..139
    expected_mape = np.mean(np.abs(TOY_TEST_Y - TOY_TRAIN_MEAN) / TOY_TEST_Y)
    expected_rmse = np.sqrt(np.mean((TOY_TEST_Y - TOY_TRAIN_MEAN) ** 2))
    assert r["metrics"] == {"mape": pytest.approx(expected_mape), "rmse": pytest.approx(expected_rmse)}
    shifted = recs["toy-mean-shifted/toy-reg 0"]["metrics"]["rmse"]
    assert shifted == pytest.approx(np.sqrt(np.mean((TOY_TEST_Y - TOY_TRAIN_MEAN - 10) ** 2)))
    # majority class of [0,0,0,1]*3 is 0; test labels [0,0,0,1] -> accuracy 3/4
    assert recs["toy-majority/toy-cls 1"]["metrics"] == {"accuracy": 0.75}

    assert isinstance(r["fit_seconds"], float) and r["fit_seconds"] >= 0
    assert isinstance(r["predict_seconds"], float) and r["predict_seconds"] >= 0
    assert isinstance(r["peak_memory_mb"], float)
    assert r["device"] == "cpu" and r["hardware"]
    assert {"python", "numpy", "pandas", "bench"} <= set(r["versions"])
    assert r["split"] == {"name": "fixed", "fingerprint": task.split.fingerprint,
                          "sizes": {"train": 24, "valid": 8, "test": 8}}
    assert r["dataset"]["synthetic"] is True and r["dataset"]["metrics"] == ["mape", "rmse"]
    assert r["method"]["family"] == "toy-mean"
    assert r["method"]["origin"]["path"].endswith("toy_methods.py")
    assert r["spec"]["params"] == {"shift": 0.0, "scale": 1.0, "layers": [8]}
    assert r["suite"] == "toy" and r["started_at"] and r["finished_at"]
    # the file name is the record key; records round-trip through the store
    for p in (results / "runs").glob("*.json"):
        rec = Store(results).get(p.stem)
        assert isinstance(rec, RunRecord) and rec.key == p.stem
    # the table was printed and written
    assert "### toy-reg / fixed (synthetic data)" in res.output
    assert (results / "toy" / "table.md").read_text().startswith("## toy table")


def _stats(results: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_mtime_ns, p.stat().st_ino) for p in (results / "runs").glob("*.json")}


@pytest.mark.slow
def test_resume_skips_recorded_runs_and_force_reruns(cli):
    invoke, results = cli
    assert invoke("run", "--suite", "toy", "--format", "none").exit_code == 0
    before = _stats(results)
    contents = {p.name: p.read_bytes() for p in (results / "runs").glob("*.json")}
    assert len(before) == 6

    res = invoke("run", "--suite", "toy", "--format", "none")
    assert res.exit_code == 0
    assert "12 runs: 6 cached, 6 n/a" in res.output
    assert _stats(results) == before
    assert {p.name: p.read_bytes() for p in (results / "runs").glob("*.json")} == contents

    res = invoke("run", "--suite", "toy", "--format", "none", "--force")
    assert res.exit_code == 0
    assert "12 runs: 6 ok, 6 n/a" in res.output
    after = _stats(results)
    assert set(after) == set(before)  # same keys, rewritten
    assert all(after[k][1] != before[k][1] for k in before)  # atomically replaced files


@pytest.mark.slow
def test_failing_plugin_is_recorded_and_the_suite_goes_on(cli, write_suite):
    invoke, results = cli
    suite = _suite(write_suite, ["toy-boom", "toy-mean"])
    res = invoke("run", "--suite", suite, "--format", "none")
    assert res.exit_code == 1
    assert "FAILED toy-boom on toy-reg/fixed seed 0: RuntimeError: boom in fit" in res.output
    assert "2 runs: 1 ok, 1 failed" in res.output
    recs = _records(results)
    assert recs["toy-mean/toy-reg 0"]["status"] == "ok"
    boom = recs["toy-boom/toy-reg 0"]
    assert boom["status"] == "failed" and boom["error"] == "RuntimeError: boom in fit"
    assert boom["metrics"] == {} and boom["fit_seconds"] is None
    assert "boom in fit" in boom["info"]["traceback"] and "Traceback" in boom["info"]["traceback"]

    # failed runs are never cached: the next run tries again
    res = invoke("run", "--suite", suite, "--format", "none")
    assert res.exit_code == 1 and "2 runs: 1 cached, 1 failed" in res.output


@pytest.mark.parametrize("variant, reason", [
    ("toy-nan", "method toy-nan: predict returned 1 non-finite values (NaN/inf)"),
    ("toy-short", "method toy-short: predict returned shape (7,) for 8 rows; expected (8,)"),
])
def test_bad_predictions_fail_the_run_with_the_reason(cli, write_suite, variant, reason):
    invoke, results = cli
    res = invoke("run", "--suite", _suite(write_suite, [variant, "toy-mean"]), "--format", "none")
    assert res.exit_code == 1
    recs = _records(results)
    bad = recs[f"{variant}/toy-reg 0"]
    assert bad["status"] == "failed" and bad["error"] == f"ValueError: {reason}"
    assert recs["toy-mean/toy-reg 0"]["status"] == "ok"


@pytest.mark.slow
def test_missing_dataset_files_skip_with_instructions(cli, write_suite):
    invoke, results = cli
    suite = _suite(write_suite, ["toy-mean"], datasets=("toy-files", "toy-reg"))
    res = invoke("run", "--suite", suite)
    assert res.exit_code == 3, res.output  # CI must not go green having run nothing
    assert "skipped toy-files/default" in res.output
    assert "Download data.csv from https://example.org/toy" in res.output
    assert "toyfiles" in res.output and "data.csv" in res.output
    assert "2 runs: 1 ok, 1 skipped" in res.output
    assert list(_records(results)) == ["toy-mean/toy-reg 0"]
    allowed = invoke("run", "--suite", suite, "--allow-skip")
    assert allowed.exit_code == 0, allowed.output
    assert "2 runs: 1 cached, 1 skipped" in allowed.output


def test_dry_run_writes_nothing(cli, tmp_path):
    invoke, results = cli
    res = invoke("run", "--suite", "toy", "--dry-run")
    assert res.exit_code == 0
    assert "suite toy: 12 runs" in res.output
    assert "toy-mean-shifted on toy-reg/fixed seed 1" in res.output
    assert not results.exists()
    assert not (tmp_path / "cache").exists()


@pytest.mark.slow
def test_method_and_dataset_filters(cli):
    invoke, results = cli
    res = invoke("run", "--suite", "toy", "--methods", "toy-mean*", "--datasets", "toy-reg",
                 "--seeds", "3", "--format", "none")
    assert res.exit_code == 0
    assert sorted(_records(results)) == ["toy-mean-shifted/toy-reg 3", "toy-mean/toy-reg 3"]

    res = invoke("run", "--suite", "toy", "--methods", "toy-majority,toy-mean", "--datasets", "*-cls",
                 "--format", "none")
    assert res.exit_code == 0
    assert "4 runs: 2 ok, 2 n/a" in res.output
    assert sorted(_records(results))[:2] == ["toy-majority/toy-cls 0", "toy-majority/toy-cls 1"]

    res = invoke("run", "--suite", "toy", "--methods", "nothing*")
    assert res.exit_code == 2 and "nothing to run" in res.output


@pytest.mark.slow
def test_atomic_write_leaves_no_temporary_files(cli):
    invoke, results = cli
    assert invoke("run", "--suite", "toy", "--format", "none").exit_code == 0
    names = [p.name for p in (results / "runs").iterdir()]
    assert len(names) == 6 and all(n.endswith(".json") and not n.startswith(".") for n in names)


def test_store_put_cleans_up_when_the_write_fails(tmp_path):
    store = Store(tmp_path)
    rec = RunRecord(key="k1", spec_id="s", spec={}, status="ok", info={"bad": object()})
    store.put(rec)  # default=str makes odd values strings
    assert json.loads(store.path("k1").read_text())["info"]["bad"].startswith("<object")

    class Unwritable:
        def __str__(self):
            raise RuntimeError("cannot serialise")

    with pytest.raises(RuntimeError, match="cannot serialise"):
        store.put(RunRecord(key="k2", spec_id="s", spec={}, status="ok", info={"x": Unwritable()}))
    assert sorted(p.name for p in store.runs.iterdir()) == ["k1.json"]


@pytest.mark.slow
@pytest.mark.parametrize("garbage", ['{"key": "trunc', "[]", "null", '{"key": "only-a-key"}'])
def test_corrupt_record_is_reported_and_skipped_by_table(cli, garbage):
    invoke, results = cli
    assert invoke("run", "--suite", "toy", "--format", "none").exit_code == 0
    (results / "runs" / "corrupt.json").write_text(garbage)
    res = invoke("table", "--suite", "toy")
    assert res.exit_code == 0, res.output
    assert "skipping corrupt record" in res.output and "corrupt.json" in res.output
    row = next(line for line in res.output.splitlines() if line.startswith("| toy-mean "))
    assert "failed" not in row and " ± " in row
    store = Store(results)
    assert len(list(store.records())) == 6
    assert [p.name for p, _ in store.corrupt] == ["corrupt.json"]


def test_run_resumes_over_a_corrupt_record(cli, toy_registry):
    invoke, results = cli
    assert invoke("run", "--suite", "toy", "--format", "none", "--methods", "toy-mean").exit_code == 0
    (path,) = [p for p in (results / "runs").glob("*.json") if '"seed": 0' in p.read_text()]
    path.write_text("{not json")
    res = invoke("run", "--suite", "toy", "--format", "none", "--methods", "toy-mean")
    assert res.exit_code == 0 and "4 runs: 1 ok, 1 cached, 2 n/a" in res.output
    assert json.loads(path.read_text())["status"] == "ok"


def test_table_command_writes_a_file(cli, tmp_path):
    invoke, results = cli
    assert invoke("run", "--suite", "toy", "--format", "none").exit_code == 0
    out = tmp_path / "t.csv"
    res = invoke("table", "--suite", "toy", "--format", "csv", "--out", str(out))
    assert res.exit_code == 0 and f"wrote {out}" in res.output
    assert out.read_text().splitlines()[0].startswith("dataset,method,")


def test_list_shows_plugins_and_broken_ones(cli, plugin_dir):
    invoke, _ = cli
    (plugin_dir / "oops.py").write_text("raise ImportError('needs a thing')\n")
    res = invoke("list")
    assert res.exit_code == 0
    assert "toy-mean-shifted" in res.output and "userplug/toy_methods.py" in res.output
    assert "toy-files" in res.output and "embedded (synthetic)" in res.output
    assert "Broken plugins (everything else works)" in res.output
    assert "oops.py" in res.output and "ImportError: needs a thing" in res.output


def test_missing_plugin_folder_is_a_usage_error(cli, tmp_path):
    invoke, _ = cli
    res = invoke("list", "--plugins", str(tmp_path / "nope"), plugins=False)
    assert res.exit_code == 2 and "does not exist" in res.output


OTHER_METHOD = '''
import numpy as np

from bench import Method


class Median(Method):
    name = "toy-median"
    kinds = ("regression",)

    def fit(self, train, valid, ctx):
        self.median_ = float(np.median(train.y))
        return self

    def predict(self, data):
        return np.full(len(data), self.median_)
'''


@pytest.mark.slow
def test_editing_one_plugin_file_reruns_only_its_runs(cli, plugin_dir, write_suite):
    invoke, results = cli
    (plugin_dir / "median.py").write_text(OTHER_METHOD)
    suite = _suite(write_suite, ["toy-mean", "toy-median"], seeds=(0, 1))
    assert invoke("run", "--suite", suite, "--format", "none").exit_code == 0
    (plugin_dir / "median.py").write_text(OTHER_METHOD + "\n# a comment changes the source hash\n")
    res = invoke("run", "--suite", suite, "--format", "none")
    assert res.exit_code == 0 and "4 runs: 2 ok, 2 cached" in res.output
    assert "ok toy-median on toy-reg/fixed seed 0" in res.output and "ok toy-mean on" not in res.output
    recs = read_records(results)
    assert len(recs) == 6  # the old toy-median records stay, under their old keys


def test_a_plugins_lazy_imports_are_not_timed_as_its_fit(tmp_path, monkeypatch, cli, plugin_dir):
    """Plugin cards import light and import their libraries in fit; the run imports those first
    (bench.run.execute.preimport), so fit seconds are the fit's, not a slow import's."""
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "slowlib_for_bench_test.py").write_text("import time\ntime.sleep(1.5)\nVALUE = 1\n")
    monkeypatch.syspath_prepend(str(lib))
    (plugin_dir / "lazy_method.py").write_text(textwrap.dedent('''
        import numpy as np
        from bench import Method

        class Lazy(Method):
            name = "lazy-import"
            kinds = ("regression",)

            def fit(self, train, valid, ctx):
                import slowlib_for_bench_test
                self.mean_ = float(np.mean(train.y)) + slowlib_for_bench_test.VALUE - 1
                return self

            def predict(self, data):
                return np.full(len(data), self.mean_)
    '''))
    (plugin_dir / "lazy.toml").write_text('seeds = [0]\n[[datasets]]\nname = "toy-reg"\nsplit = "fixed"\n'
                                          '[[methods]]\nvariant = "lazy-import"\n')
    invoke, results = cli
    res = invoke("run", "--suite", "lazy", "--executor", "inline")
    assert res.exit_code == 0, res.output
    (rec,) = [r for r in run_records(results).values()]
    assert rec["status"] == "ok" and rec["fit_seconds"] < 1.0  # the 1.5 s import came before the clock


def test_a_shared_fit_is_reused_only_under_the_same_threads(tmp_path):
    """The mf fit that a "with EE" forest uses is cached per thread count (other floats under 1
    thread than under 2): a run at --threads 2 never takes the fit a --threads 1 run made."""
    import bench

    params = {"n_estimators": 5, "encoding": "ee", "ee_variant": "mf"}

    def run(threads):
        rec = bench.run_one("random-forest", "movielens-sim", split="random", params=params, threads=threads,
                            data_dir=tmp_path / "data", cache_dir=tmp_path / "cache")
        assert rec.status == "ok", rec.error
        return "helper_fits" in rec.info  # the mf network was trained in this run

    assert run(1) and run(2)  # each setting fits its own
    assert not run(2) and not run(1)  # and reuses it after
