"""Shared folders are safe: nothing read from a cache or results folder runs code, and nothing
follows a link planted there. Each test plants something (a pickle that runs a shell command, a
tampered or swapped artifact, a symlink or hard link pointing outside the folder) and checks that
no code ran, that the file outside was left byte for byte and mtime for mtime, and that bench
rebuilt what it needed or refused with a message naming the path."""
from __future__ import annotations

import json
import os
import pickle
import shlex
import stat
from pathlib import Path

import numpy as np
import pytest

from bench.data.artifacts import ArtifactCache
from bench.data import locks, signing
from bench.core.method import FitContext
from bench.data.paths import UnsafePath, cache_dir, private_dir
from bench.plugins.registry import load_file
from bench.run.schedule import JobQueue
from bench.results.store import Store

ROOT = Path(__file__).resolve().parents[1]


class _RunsShell:
    """Unpickling this runs ``touch MARKER`` (what a planted pickle would do)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {shlex.quote(str(self.marker))}",)


def evil_pickle(marker: Path) -> bytes:
    return pickle.dumps(_RunsShell(marker))


def test_the_planted_payload_really_runs_code_when_unpickled(tmp_path):
    """The control: without the signature check, the payload used below would have run."""
    marker = tmp_path / "ran"
    pickle.loads(evil_pickle(marker))
    assert marker.exists()


class Builds:
    """A build function that counts its calls."""

    def __init__(self, value):
        self.value, self.calls = value, 0

    def __call__(self):
        self.calls += 1
        return self.value


def ctx(cache: Path) -> FitContext:
    return FitContext(seed=0, artifacts=ArtifactCache(cache), task_key="task")


def artifact_path(tmp_path: Path, name: str = "emb", key: dict | None = None) -> Path:
    """Where ``cached(name, key)`` keeps its file, relative to a cache folder (found by building
    it once in a scratch cache: the name depends on the task and key only)."""
    scratch = tmp_path / "scratch-cache"
    ctx(scratch).cached(name, key or {"k": 1}, Builds(0))
    (made,) = (scratch / "artifacts").glob(f"{name}-*.pkl")
    return made.relative_to(scratch)


def outside_file(tmp_path: Path, data: bytes = b"precious bytes, not bench's\n") -> tuple[Path, tuple]:
    """A file outside every folder bench writes to, and its (bytes, mtime, inode) fingerprint."""
    target = tmp_path / "outside" / "precious.txt"
    target.parent.mkdir(exist_ok=True)
    target.write_bytes(data)
    os.utime(target, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
    return target, fingerprint(target)


def fingerprint(path: Path) -> tuple:
    st = os.stat(path)
    return path.read_bytes(), st.st_mtime_ns, st.st_ino, st.st_size


# -- (a) a malicious pickle where an artifact is read ------------------------------------------------

@pytest.mark.parametrize("when", ["before the first build", "over a built artifact"])
@pytest.mark.parametrize("form", ["bare pickle", "pickle behind a forged header"])
def test_a_planted_pickle_never_runs_and_the_artifact_is_rebuilt(tmp_path, when, form):
    marker = tmp_path / "code-ran"
    rel = artifact_path(tmp_path)
    cache = tmp_path / "cache"
    if when == "over a built artifact":
        assert ctx(cache).cached("emb", {"k": 1}, Builds("first")) == "first"
    path = cache / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = evil_pickle(marker)
    path.write_bytes(payload if form == "bare pickle" else signing.MAGIC + os.urandom(32) + payload)

    build = Builds("rebuilt")
    with pytest.warns(UserWarning, match=str(path)):
        assert ctx(cache).cached("emb", {"k": 1}, build) == "rebuilt"
    assert not marker.exists()
    assert build.calls == 1
    again = Builds("not needed")  # the rebuilt file replaced the planted one and verifies
    assert ctx(cache).cached("emb", {"k": 1}, again) == "rebuilt" and again.calls == 0


def test_a_signed_artifact_is_reused_without_rebuilding(tmp_path):
    cache = tmp_path / "cache"
    first, second = Builds({"table": np.arange(3)}), Builds(None)
    ctx(cache).cached("emb", {"k": 1}, first)
    got = ctx(cache).cached("emb", {"k": 1}, second)
    assert first.calls == 1 and second.calls == 0
    np.testing.assert_array_equal(got["table"], np.arange(3))
    (path,) = (cache / "artifacts").glob("emb-*.pkl")
    assert path.read_bytes().startswith(signing.MAGIC)


# -- (d) tampered, swapped or re-keyed artifacts ---------------------------------------------------

def _built(cache: Path, name: str, value) -> Path:
    ctx(cache).cached(name, {"k": 1}, Builds(value))
    (path,) = (cache / "artifacts").glob(f"{name}-*.pkl")
    return path


def _resign_with_wrong_key(path: Path, value) -> None:
    path.write_bytes(signing.seal(os.urandom(32), path.name, pickle.dumps(value)))


def _flip_a_payload_byte(path: Path, value) -> None:
    blob = bytearray(path.read_bytes())
    blob[-3] ^= 0x01
    path.write_bytes(bytes(blob))


def _valid_pickle_old_digest(path: Path, value) -> None:  # header and digest kept, payload swapped
    head = len(signing.MAGIC) + 32
    path.write_bytes(path.read_bytes()[:head] + pickle.dumps(value))


@pytest.mark.parametrize("tamper", [_resign_with_wrong_key, _flip_a_payload_byte, _valid_pickle_old_digest])
def test_a_tampered_artifact_is_rebuilt(tmp_path, tamper):
    cache = tmp_path / "cache"
    path = _built(cache, "emb", "genuine")
    tamper(path, "forged")
    build = Builds("rebuilt")
    with pytest.warns(UserWarning, match=str(path)):
        assert ctx(cache).cached("emb", {"k": 1}, build) == "rebuilt"
    assert build.calls == 1


def test_a_signed_artifact_copied_over_another_is_rebuilt(tmp_path):
    """The signature covers the file name: a genuine artifact cannot stand in for another."""
    cache = tmp_path / "cache"
    a, b = _built(cache, "a", "value of a"), _built(cache, "b", "value of b")
    a.write_bytes(b.read_bytes())
    build = Builds("a rebuilt")
    with pytest.warns(UserWarning, match=str(a)):
        assert ctx(cache).cached("a", {"k": 1}, build) == "a rebuilt"
    assert build.calls == 1


def test_an_artifact_symlink_is_not_followed_and_is_replaced(tmp_path):
    target, before = outside_file(tmp_path, signing.MAGIC + os.urandom(32) + pickle.dumps("x"))
    rel = artifact_path(tmp_path)
    cache = tmp_path / "cache"
    path = cache / rel
    path.parent.mkdir(parents=True)
    path.symlink_to(target)
    build = Builds("rebuilt")
    with pytest.warns(UserWarning, match="symbolic link"):
        assert ctx(cache).cached("emb", {"k": 1}, build) == "rebuilt"
    assert build.calls == 1 and fingerprint(target) == before
    assert not path.is_symlink() and path.read_bytes().startswith(signing.MAGIC)


def test_a_symlinked_artifacts_folder_is_refused(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "artifacts").symlink_to(elsewhere, target_is_directory=True)
    build = Builds(1)
    with pytest.raises(UnsafePath, match=str(cache / "artifacts")):
        ctx(cache).cached("emb", {"k": 1}, build)
    assert build.calls == 0 and list(elsewhere.iterdir()) == []


# -- (b) claims: a planted symlink at <results>/.claims/<key> --------------------------------------

def test_a_claim_symlink_is_refused_and_its_target_left_alone(tmp_path):
    target, before = outside_file(tmp_path)
    path = tmp_path / "results" / ".claims" / "k1"
    path.parent.mkdir(parents=True)
    path.symlink_to(target)
    with pytest.raises(UnsafePath, match=f"{path}: a symbolic link"):
        locks.try_claim(path, locks.owner_note(run="x"))
    assert fingerprint(target) == before and path.is_symlink()
    assert locks.holder(path) == {}  # not read through either


def test_a_claim_hard_link_or_fifo_is_refused(tmp_path):
    target, before = outside_file(tmp_path)
    claims = tmp_path / "results" / ".claims"
    claims.mkdir(parents=True)
    os.link(target, claims / "hard")
    os.mkfifo(claims / "fifo")
    for name in ("hard", "fifo"):
        with pytest.raises(UnsafePath, match="not a plain file"):
            locks.try_claim(claims / name)
    assert fingerprint(target) == before


def test_a_symlinked_claims_folder_is_refused(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / ".claims").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(UnsafePath, match="folder is a symbolic link"):
        locks.try_claim(tmp_path / "results" / ".claims" / "k1")
    assert list(elsewhere.iterdir()) == []


def test_a_claim_swapped_for_a_link_while_held_is_not_unlinked_through(tmp_path):
    target, before = outside_file(tmp_path)
    path = tmp_path / "results" / ".claims" / "k1"
    claim = locks.try_claim(path)
    path.unlink()
    path.symlink_to(target)
    claim.release()
    assert fingerprint(target) == before and path.is_symlink()


class _Spec:
    def describe(self) -> str:
        return "toy run"


class _Job:
    def __init__(self, key: str):
        self.key, self.spec = key, _Spec()


def test_job_queue_reports_a_planted_claim_and_goes_on(tmp_path):
    target, before = outside_file(tmp_path)
    store = Store(tmp_path / "results")
    queue = JobQueue([_Job("planted"), _Job("fine")], store)
    queue.claim_path("planted").parent.mkdir(parents=True)
    queue.claim_path("planted").symlink_to(target)
    refused = []
    queue.on_refuse = lambda job, message: refused.append((job.key, message))
    job = queue.next()
    assert job.key == "fine" and len(queue) == 0
    assert refused and refused[0][0] == "planted" and str(queue.claim_path("planted")) in refused[0][1]
    queue.release_all()
    assert fingerprint(target) == before


@pytest.mark.slow
def test_bench_run_with_planted_links_ends_without_touching_their_targets(cli, tmp_path):
    invoke, results = cli
    args = ("--suite", "toy", "--datasets", "toy-reg", "--seeds", "0", "--format", "none")
    assert invoke("run", *args).exit_code == 0
    keys = sorted(p.stem for p in (results / "runs").glob("*.json"))
    assert len(keys) == 2
    claim_target, claim_before = outside_file(tmp_path, b"claim target\n")
    record_target = tmp_path / "outside" / "record.json"
    record_target.write_text('{"not": "a record"}\n')
    record_before = fingerprint(record_target)
    (results / ".claims").mkdir()
    (results / ".claims" / keys[0]).symlink_to(claim_target)
    (results / "runs" / f"{keys[1]}.json").unlink()
    (results / "runs" / f"{keys[1]}.json").symlink_to(record_target)

    res = invoke("run", *args, "--force")
    assert res.exit_code == 1, res.output  # the refused run counts as failed; the other one ran
    assert f"{results / '.claims' / keys[0]}: a symbolic link" in res.output
    assert "1 ok" in res.output and "1 failed" in res.output
    assert fingerprint(claim_target) == claim_before and fingerprint(record_target) == record_before
    fresh = results / "runs" / f"{keys[1]}.json"
    assert not fresh.is_symlink() and json.loads(fresh.read_text())["status"] == "ok"


# -- (c) the artifact's .lock file ------------------------------------------------------------------

def test_an_artifact_lock_symlink_is_refused_and_its_target_left_alone(tmp_path):
    target, before = outside_file(tmp_path)
    rel = artifact_path(tmp_path)
    cache = tmp_path / "cache"
    lock = (cache / rel).with_suffix(".lock")
    lock.parent.mkdir(parents=True)
    lock.symlink_to(target)
    build = Builds(1)
    with pytest.raises(UnsafePath, match=f"{lock}: a symbolic link"):
        ctx(cache).cached("emb", {"k": 1}, build)
    with pytest.raises(UnsafePath, match=str(lock)):
        with locks.locked(lock):
            pass
    assert build.calls == 0 and fingerprint(target) == before and lock.is_symlink()


# -- (e) the key ------------------------------------------------------------------------------------

def test_the_key_is_private_and_outside_the_cache(tmp_path, artifact_key, monkeypatch):
    cache = tmp_path / "cache"
    ctx(cache).cached("emb", {"k": 1}, Builds(1))
    st = os.stat(artifact_key, follow_symlinks=False)
    assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600 and st.st_size == 32
    assert cache.resolve() not in artifact_key.resolve().parents
    assert signing.load_key() == artifact_key.read_bytes()  # made once, then reused
    monkeypatch.delenv("BENCH_KEY_FILE")  # the default: the per-user config folder, not a cache
    from platformdirs import user_config_dir

    default = signing.key_path()
    assert default == Path(user_config_dir("bench")) / "artifact.key"
    assert cache_dir() not in default.parents and default.parent != cache_dir()


def test_a_key_open_to_others_is_refused_with_the_fix(artifact_key, tmp_path):
    signing.load_key()
    for mode in (0o640, 0o604, 0o620):
        artifact_key.chmod(mode)
        with pytest.raises(signing.KeyFileError, match=f"{artifact_key}: .*open to other users.*chmod 600"):
            signing.load_key()
        with pytest.raises(signing.KeyFileError):
            ctx(tmp_path / "cache").cached("emb", {"k": 1}, Builds(1))


def test_a_symlinked_key_is_refused(artifact_key, tmp_path):
    real = tmp_path / "real.key"
    real.write_bytes(os.urandom(32))
    real.chmod(0o600)
    artifact_key.symlink_to(real)
    with pytest.raises(signing.KeyFileError, match=f"{artifact_key}: .*symbolic link.*Delete it"):
        signing.load_key()


@pytest.mark.skipif(os.getuid() != 0, reason="giving a file to another user needs root")
def test_someone_elses_key_is_refused(artifact_key):
    signing.load_key()
    os.chown(artifact_key, 4242, -1)
    with pytest.raises(signing.KeyFileError, match="belongs to user id 4242"):
        signing.load_key()


def test_a_short_key_is_refused(artifact_key):
    artifact_key.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(artifact_key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, b"short")
    os.close(fd)
    with pytest.raises(signing.KeyFileError, match="not a 32-byte"):
        signing.load_key()


def test_a_key_folder_that_cannot_be_made_names_the_setting(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the key's folder would go")  # like a read-only home: mkdir fails
    monkeypatch.setenv("BENCH_KEY_FILE", str(blocker / "bench" / "artifact.key"))
    with pytest.raises(signing.KeyFileError, match="cannot create the artifact key there.*BENCH_KEY_FILE to a path in a writable folder"):
        signing.load_key()


# -- (f) cache folders are private ------------------------------------------------------------------

def test_cache_folders_made_by_bench_are_private(tmp_path):
    cache = tmp_path / "new" / "cache"
    ctx(cache).cached("emb", {"k": 1}, Builds(1))
    for folder in (tmp_path / "new", cache, cache / "artifacts"):
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700, folder
    (path,) = (cache / "artifacts").glob("*.pkl")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_an_existing_folder_keeps_its_mode(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    private_dir(shared)
    assert stat.S_IMODE(os.stat(shared).st_mode) == 0o755


# -- other reads from a cache: the CIFAR-10 uint8 arrays ---------------------------------------------

C = load_file(ROOT / "datasets" / "cifar10")


def _arrays():
    x = np.zeros((2, 32, 32, 3), np.uint8)
    y = np.arange(2, dtype=np.int64)
    return x, y, x[:1], y[:1]


def test_a_pickled_array_cache_is_not_loaded_and_is_rebuilt(tmp_path):
    marker = tmp_path / "code-ran"
    cache = tmp_path / "cache"
    path = cache / "cifar10" / "arrays-k.npz"
    path.parent.mkdir(parents=True)
    evil = np.array([_RunsShell(marker)], dtype=object)
    np.savez(path, train_x=evil, train_y=evil, test_x=evil, test_y=evil)
    calls = []
    with pytest.warns(UserWarning, match=str(path)):
        got = C.cached_arrays(cache, "k", lambda: calls.append(1) or _arrays())
    assert not marker.exists() and calls == [1]
    np.testing.assert_array_equal(got[1], np.arange(2))
    with np.load(path, allow_pickle=False) as z:  # replaced by plain arrays
        assert z["train_x"].dtype == np.uint8


def test_an_array_cache_symlink_is_not_followed(tmp_path):
    target, before = outside_file(tmp_path)
    cache = tmp_path / "fresh-cache"
    path = cache / "cifar10" / "arrays-k.npz"
    path.parent.mkdir(parents=True)
    path.symlink_to(target)
    with pytest.warns(UserWarning, match="symbolic link"):
        C.cached_arrays(cache, "k", _arrays)
    assert fingerprint(target) == before and not path.is_symlink()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_dataset_cache_folders_are_private(tmp_path):
    cache = tmp_path / "made-here"
    C.cached_arrays(cache, "k", _arrays)
    assert stat.S_IMODE(os.stat(cache).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(cache / "cifar10").st_mode) == 0o700
