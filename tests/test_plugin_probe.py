"""Plugins that end, crash or hang the process at import: `bench` lists them as broken (seen in a
probe process first) and keeps working; the probe's verdicts are cached per file content.

The commands run as separate processes: were the protection to fail, only they would die."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bench.plugins import probe as plugin_probe
from bench.plugins.candidates import file_candidate

ROOT = Path(__file__).resolve().parents[1]

EXITS = "import os\nos._exit(3)\n"
SEGFAULTS = "import ctypes\nctypes.string_at(0)\n"
HANGS = "import time\nprint('about to hang')\ntime.sleep(600)\n"
HEALTHY = '''
import numpy as np
from bench import Method

print("hello from a chatty plugin")  # on stdout at import: must not confuse the probe


class Healthy(Method):
    name = "{name}"
    kinds = ("regression",)

    def fit(self, train, valid, ctx):
        return self

    def predict(self, data):
        return np.zeros(len(data))
'''


def _folder(path: Path, hang: bool = True) -> Path:
    path.mkdir(parents=True)
    (path / "exits.py").write_text(EXITS)
    (path / "segfaults.py").write_text(SEGFAULTS)
    if hang:
        (path / "hangs.py").write_text(HANGS)
    (path / "healthy.py").write_text(textwrap.dedent(HEALTHY.format(name="probe-healthy")))
    return path


def _bench(*args: str, builtin: Path | None, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    """`bench ARGS` in a new process; ``builtin``: empty stand-ins for the shipped plugin folders."""
    boot = "from bench.cli.app import main; main()"
    if builtin is not None:
        boot = f"import pathlib, bench.plugins.registry as r; r.builtin_root = lambda: pathlib.Path({str(builtin)!r}); " + boot
    full = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    return subprocess.run([sys.executable, "-c", boot, *args], cwd=cwd, env=full, capture_output=True, text=True,
                          timeout=300)


def _broken(output: str) -> dict[str, str]:
    """`bench list`'s broken section: {file name: its error text}."""
    section = output.split("Broken plugins (everything else works)", 1)[1]
    found, name = {}, None
    for line in section.splitlines():
        if line.startswith("- "):
            name = Path(line[2:].strip()).name
            found[name] = ""
        elif name:
            found[name] += line.strip() + "\n"
    return found


def _verdicts(cache: Path) -> dict[str, dict]:
    return {p.name: {**json.loads(p.read_text()), "mtime_ns": p.stat().st_mtime_ns}
            for p in (cache / "plugin-probe").glob("*.json")}


@pytest.mark.slow
def test_plugins_that_end_crash_or_hang_the_process_are_listed_as_broken(tmp_path):
    builtin = tmp_path / "builtin"
    for sub in ("plugins", "datasets", "suites"):
        (builtin / sub).mkdir(parents=True)
    plugins = _folder(tmp_path / "killers")
    cache = tmp_path / "cache"
    env = {"BENCH_CACHE": str(cache), "BENCH_PROBE_TIMEOUT": "4", "BENCH_DISABLE_PLUGIN_AUTOLOAD": "1"}

    res = _bench("list", "--plugins", str(plugins), builtin=builtin, env=env, cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert any(l.startswith("probe-healthy") for l in res.stdout.splitlines()), res.stdout
    broken = _broken(res.stdout)
    assert set(broken) == {"exits.py", "segfaults.py", "hangs.py"}, res.stdout
    assert "importing it ended the process with exit status 3" in broken["exits.py"]
    assert "importing it killed the process (SIGSEGV" in broken["segfaults.py"]
    assert "segfaults.py\", line 2" in broken["segfaults.py"]  # the fault handler's traceback
    assert "did not finish within 4 s" in broken["hangs.py"] and "BENCH_PROBE_TIMEOUT" in broken["hangs.py"]
    assert "about to hang" in broken["hangs.py"]
    first = _verdicts(cache)
    assert sorted(v["verdict"] for v in first.values()) == ["fatal", "fatal", "fatal", "survived"]
    assert all(v["key"]["python"] == sys.executable for v in first.values())

    # again: every verdict comes from the cache (no file is probed, so none is rewritten)
    again = _bench("list", "broken", "--plugins", str(plugins), builtin=builtin, env=env, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert set(_broken(again.stdout)) == {"exits.py", "segfaults.py", "hangs.py"}
    assert _verdicts(cache) == first

    # an edit probes that file again (and only it): it no longer exits, so its method is listed
    (plugins / "exits.py").write_text(textwrap.dedent(HEALTHY.format(name="probe-mended")))
    mended = _bench("list", "--plugins", str(plugins), builtin=builtin, env=env, cwd=tmp_path)
    assert mended.returncode == 0, mended.stderr
    assert set(_broken(mended.stdout)) == {"segfaults.py", "hangs.py"}
    assert any(l.startswith("probe-mended") for l in mended.stdout.splitlines()), mended.stdout
    now = _verdicts(cache)
    new = set(now) - set(first)
    assert len(new) == 1 and now[new.pop()]["verdict"] == "survived"
    assert {k: v for k, v in now.items() if k in first} == first


@pytest.mark.slow
def test_table_renders_beside_a_plugin_that_ends_the_process(tmp_path):
    """The shipped plugins and the smoke suite, plus a user folder holding killers."""
    plugins = _folder(tmp_path / "killers", hang=False)
    env = {"BENCH_DISABLE_PLUGIN_AUTOLOAD": "1"}  # the session's cache (conftest): shipped plugins probed once
    res = _bench("table", "--suite", "smoke", "--plugins", str(plugins), "--results-dir", str(tmp_path / "results"),
                 builtin=None, env=env, cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "## smoke" in res.stdout
    assert any(l.startswith("| knn ") for l in res.stdout.splitlines()), res.stdout


EP_KILLER = "import os\nos._exit(4)\n"


@pytest.mark.slow
def test_entry_point_that_ends_the_process_is_listed_as_broken(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "probe_ep_killer.py").write_text(EP_KILLER)
    (site / "probe_ep_healthy.py").write_text(textwrap.dedent(HEALTHY.format(name="probe-ep-healthy")))
    info = site / "probe_ep_dist-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: probe-ep-dist\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[bench.methods]\nkiller = probe_ep_killer\n"
                                           "healthy = probe_ep_healthy:Healthy\n")
    builtin = tmp_path / "builtin"
    for sub in ("plugins", "datasets", "suites"):
        (builtin / sub).mkdir(parents=True)
    env = {"PYTHONPATH": os.pathsep.join([str(site), str(ROOT)]), "BENCH_CACHE": str(tmp_path / "cache")}
    env_ = {k: v for k, v in os.environ.items() if k != "BENCH_DISABLE_PLUGIN_AUTOLOAD"}
    boot = (f"import pathlib, bench.plugins.registry as r; r.builtin_root = lambda: pathlib.Path({str(builtin)!r}); "
            "from bench.cli.app import main; main()")
    res = subprocess.run([sys.executable, "-c", boot, "list", "methods"], cwd=tmp_path, env={**env_, **env},
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert any(l.startswith("probe-ep-healthy") and "probe-ep-dist 0.1" in l for l in res.stdout.splitlines())
    res = subprocess.run([sys.executable, "-c", boot, "list", "broken"], cwd=tmp_path, env={**env_, **env},
                         capture_output=True, text=True, timeout=300)
    assert "- probe-ep-dist 0.1 (entry point bench.methods:killer)" in res.stdout, res.stdout
    assert "importing it ended the process with exit status 4" in res.stdout


@pytest.mark.slow
def test_cached_verdicts_that_are_planted_or_tampered_with_are_not_trusted(tmp_path):
    plugin = tmp_path / "plug" / "fine.py"
    plugin.parent.mkdir()
    plugin.write_text("VALUE = 1\n")
    cand = file_candidate(plugin, "_bench_probe_test_fine")
    cache = tmp_path / "cache"
    assert plugin_probe.screen([cand], cache=cache) == {}
    (verdict,) = (cache / "plugin-probe").glob("*.json")
    record = json.loads(verdict.read_text())
    assert record["verdict"] == "survived" and record["candidate"] == str(plugin)

    # a verdict for other content (the key does not match) is ignored and replaced
    forged = {**record, "verdict": "fatal", "reason": "forged", "key": {**record["key"], "sha256": "0" * 64}}
    verdict.write_text(json.dumps(forged))
    assert plugin_probe.screen([cand], cache=cache) == {}
    assert json.loads(verdict.read_text())["verdict"] == "survived"

    # a planted link is never followed, even to a verdict that would match
    elsewhere = tmp_path / "planted.json"
    elsewhere.write_text(json.dumps({**record, "verdict": "fatal", "reason": "planted"}))
    verdict.unlink()
    verdict.symlink_to(elsewhere)
    assert plugin_probe.screen([cand], cache=cache) == {}
    assert not verdict.is_symlink() and json.loads(verdict.read_text())["verdict"] == "survived"


def test_a_wrong_timeout_setting_is_a_clear_error(plugin_dir, monkeypatch, bench_cmd):
    monkeypatch.setenv(plugin_probe.TIMEOUT_ENV, "soon")
    res = bench_cmd(["list", "--plugins", str(plugin_dir)])
    assert res.exit_code == 2
    assert "BENCH_PROBE_TIMEOUT='soon'" in res.output and "positive number of seconds" in res.output
