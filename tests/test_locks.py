"""The small parts under isolation and parallel runs: claims, the artifact lock, limits, GPU slots."""
from __future__ import annotations

import multiprocessing as mp
import time
from pathlib import Path

import pytest

from bench.data.artifacts import ArtifactCache
from bench.data import locks
from bench.run.limits import effective, method_budget, parse_memory, parse_timeout
from bench.core.method import FitContext
from bench.run.workers import gpu_slots


def test_a_claim_is_exclusive_until_released(tmp_path):
    path = tmp_path / "claims" / "k1"
    first = locks.try_claim(path, locks.owner_note(run="x"))
    assert first is not None and locks.try_claim(path) is None
    assert locks.holder(path)["run"] == "x"
    first.release()
    assert not path.exists()
    again = locks.try_claim(path)
    assert again is not None
    again.release()


def _hold_claim_then_die(path: str, ready) -> None:
    locks.try_claim(Path(path))
    ready.set()
    time.sleep(60)


def test_a_dead_holders_claim_can_be_taken(tmp_path):
    ctx = mp.get_context("spawn")
    ready = ctx.Event()
    proc = ctx.Process(target=_hold_claim_then_die, args=(str(tmp_path / "k"), ready))
    proc.start()
    assert ready.wait(30)
    assert locks.try_claim(tmp_path / "k") is None  # held by a live process
    proc.kill()
    proc.join()
    assert (tmp_path / "k").exists()  # the file stays behind, the lock does not
    claim = locks.try_claim(tmp_path / "k")
    assert claim is not None
    claim.release()


def _build_shared_artifact(cache: str, log: str) -> int:
    def build() -> int:
        with open(log, "a") as f:
            f.write("built\n")
        time.sleep(0.5)
        return 42

    return FitContext(seed=0, artifacts=ArtifactCache(Path(cache)), task_key="t").cached("art", {"a": 1}, build)


@pytest.mark.slow
def test_parallel_workers_build_a_cached_artifact_once(tmp_path):
    log = tmp_path / "log"
    with mp.get_context("spawn").Pool(2) as pool:
        values = pool.starmap(_build_shared_artifact, [(str(tmp_path), str(log))] * 2)
    assert values == [42, 42]
    assert log.read_text() == "built\n"
    assert [p.suffix for p in (tmp_path / "artifacts").iterdir()] == [".pkl"]


@pytest.mark.parametrize("text, mb", [(512, 512.0), ("512M", 512.0), ("4G", 4096.0), ("1.5GB", 1536.0),
                                      ("2048k", 2.0), (" 3 gib ", 3072.0)])
def test_memory_sizes(text, mb):
    assert parse_memory(text) == mb


@pytest.mark.parametrize("bad", ["lots", "-1G", 0, True, "4X"])
def test_bad_memory_sizes(bad):
    with pytest.raises(ValueError, match="memory limit must be"):
        parse_memory(bad)


def test_limit_precedence_and_method_budget():
    assert effective(5.0, 60.0) == 5.0 and effective(None, 60.0) == 60.0 and effective(None, None) is None
    assert method_budget(10.0) == pytest.approx(9.0) and method_budget(None) is None
    with pytest.raises(ValueError):
        parse_timeout(-2)


def test_gpu_slots_round_robin(monkeypatch):
    assert gpu_slots("cpu", 3) == [None, None, None]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,5")
    assert gpu_slots("cuda", 3) == [("2", "cuda:0"), ("5", "cuda:1"), ("2", "cuda:0")]
    assert gpu_slots("cuda:1", 2) == [("5", "cuda:1"), ("5", "cuda:1")]
