"""Tests of datasets/cifar10/ and datasets/digits.py: the official python archive (built here in
its exact format: pickled batches in cifar-10-batches-py/ inside a .tar.gz), the image-folder
layout, the split, the verified download from a local server, and the embedded digits set."""
from __future__ import annotations

import hashlib
import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest

from bench import FilesMissing, LoadContext
from bench.data.download import ChecksumMismatch
from bench.data.extract import UnsafeArchive
from bench.plugins.registry import load_file

ROOT = Path(__file__).resolve().parents[1]
C = load_file(ROOT / "datasets" / "cifar10")  # by path, as the registry loads it
D = load_file(ROOT / "datasets" / "digits.py")


def images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), (np.arange(n) % 10).astype(np.int64)


def _batch(x: np.ndarray, y: np.ndarray) -> bytes:
    # the official layout: 3072 bytes per row, the red plane, then green, then blue, each row-major
    rows = x.transpose(0, 3, 1, 2).reshape(len(x), 3072)
    return pickle.dumps({b"batch_label": b"b", b"labels": [int(v) for v in y], b"data": rows,
                         b"filenames": [b"f%d.png" % i for i in range(len(y))]}, protocol=2)


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def write_archive(path: Path, per_batch: int = 20, n_test: int = 20, extra=None) -> tuple:
    """A small archive in the official format; returns (path, md5, train_x, train_y, test_x, test_y)."""
    xs, ys = [], []
    with tarfile.open(path, "w:gz") as tar:
        folder = tarfile.TarInfo("cifar-10-batches-py")
        folder.type = tarfile.DIRTYPE
        tar.addfile(folder)
        for i in range(1, 6):
            x, y = images(per_batch, i)
            xs.append(x)
            ys.append(y)
            _add(tar, f"cifar-10-batches-py/data_batch_{i}", _batch(x, y))
        tx, ty = images(n_test, 99)
        _add(tar, "cifar-10-batches-py/test_batch", _batch(tx, ty))
        _add(tar, "cifar-10-batches-py/batches.meta",
             pickle.dumps({b"label_names": [c.encode() for c in C.CLASSES]}, protocol=2))
        if extra:
            extra(tar)
    md5 = hashlib.md5(path.read_bytes()).hexdigest()
    return path, md5, np.concatenate(xs), np.concatenate(ys), tx, ty


def test_archive_reads_the_official_layout(tmp_path):
    path, md5, x, y, tx, ty = write_archive(tmp_path / C.ARCHIVE)
    train_x, train_y, test_x, test_y = C.read_archive(path, md5=md5)
    assert train_x.shape == (100, 32, 32, 3) and train_x.dtype == np.uint8
    np.testing.assert_array_equal(train_x, x)
    np.testing.assert_array_equal(train_y, y)
    np.testing.assert_array_equal(test_x, tx)
    np.testing.assert_array_equal(test_y, ty)


def test_archive_with_the_wrong_checksum_is_refused_before_unpickling(tmp_path, monkeypatch):
    path, md5, *_ = write_archive(tmp_path / C.ARCHIVE)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # tampered
    path.write_bytes(bytes(data))
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: pytest.fail("unpickled an unverified file"))
    with pytest.raises(ChecksumMismatch, match="not the expected"):
        C.read_archive(path, md5=md5)
    with pytest.raises(ChecksumMismatch):
        C.read_archive(path)  # the official checksum by default


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink"])
def test_archive_with_an_unsafe_member_is_refused(tmp_path, kind):
    def extra(tar):
        if kind == "symlink":
            info = tarfile.TarInfo("cifar-10-batches-py/link")
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(info)
        else:
            _add(tar, "../evil" if kind == "dotdot" else "/tmp/evil", b"x")

    path, md5, *_ = write_archive(tmp_path / C.ARCHIVE, extra=extra)
    with pytest.raises(UnsafeArchive, match="refused archive member"):
        C.read_archive(path, md5=md5)


def write_folder(root: Path, n_train: int = 4, n_test: int = 2) -> dict[str, list[np.ndarray]]:
    from PIL import Image

    made = {"train": [], "test": []}
    rng = np.random.default_rng(5)
    for part, n in (("train", n_train), ("test", n_test)):
        for cls in C.CLASSES:
            (root / part / cls).mkdir(parents=True)
            for i in range(n):
                img = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
                Image.fromarray(img).save(root / part / cls / f"{cls}_s_{i:06d}.png")
                made[part].append(img)
    return made


def test_image_folder_loader_and_cache(tmp_path):
    made = write_folder(tmp_path / "data" / "cifar10")
    ctx = LoadContext(tmp_path / "data", tmp_path / "cache")
    task = C.Cifar10(valid_size=10).load(None, ctx)
    assert task.kind == "image-classification" and task.schema.image_shape == (32, 32, 3)
    assert task.X.shape == (60, 32, 32, 3) and task.X.dtype == np.uint8
    # rows: class by class (official label order), files by name; lossless PNG round trip
    np.testing.assert_array_equal(task.X[:40], np.stack(made["train"]))
    np.testing.assert_array_equal(task.X[40:], np.stack(made["test"]))
    np.testing.assert_array_equal(task.y[:8], [0, 0, 0, 0, 1, 1, 1, 1])
    assert task.split.sizes() == {"train": 30, "valid": 10, "test": 20}
    assert len(list((tmp_path / "cache" / "cifar10").glob("arrays-*.npz"))) == 1
    again = C.Cifar10(valid_size=10).load(None, ctx)  # from the cache
    np.testing.assert_array_equal(again.X, task.X)
    assert again.split.fingerprint == task.split.fingerprint


def test_image_folder_with_a_stray_folder_is_an_error(tmp_path):
    write_folder(tmp_path / "cifar10", n_train=1, n_test=1)
    (tmp_path / "cifar10" / "train" / "cats").mkdir()
    with pytest.raises(ValueError, match="one folder per class"):
        C.read_image_folder(tmp_path / "cifar10")


def test_split_is_seeded_balanced_and_subsettable():
    train_y = np.repeat(np.arange(10), 50)
    test_y = np.repeat(np.arange(10), 10)
    s = C.make_split(train_y, test_y, valid_size=100)
    assert s.sizes() == {"train": 400, "valid": 100, "test": 100}
    assert not set(s.train) & set(s.valid)
    assert np.bincount(train_y[s.valid]).tolist() == [10] * 10
    assert s.fingerprint == C.make_split(train_y, test_y, valid_size=100).fingerprint
    sub = C.make_split(train_y, test_y, valid_size=100, train_per_class=5, test_per_class=2)
    assert np.bincount(train_y[sub.train]).tolist() == [5] * 10
    assert np.array_equal(sub.valid, s.valid) and set(sub.train) <= set(s.train)
    assert len(sub.test) == 20 and sub.test.min() >= 500
    assert sub.fingerprint != s.fingerprint
    with pytest.raises(ValueError, match="per class"):
        C.make_split(train_y, test_y, valid_size=100, train_per_class=41)


def test_download_is_verified_then_read(tmp_path, monkeypatch, file_server):
    path, md5, x, *_ = write_archive(tmp_path / "served.tar.gz")
    server = file_server
    server.files["/cifar-10-python.tar.gz"] = path.read_bytes()
    monkeypatch.setenv("BENCH_CIFAR10_URL", server.url + "/cifar-10-python.tar.gz")
    ctx = LoadContext(tmp_path / "data", tmp_path / "cache")
    monkeypatch.setattr(C.read, "ARCHIVE_MD5", "0" * 32)  # what the served file is not
    with pytest.raises(ChecksumMismatch, match="refused and deleted"):
        C.Cifar10(valid_size=10).load(None, ctx)
    assert not list((tmp_path / "data").glob("*.tar.gz*")) and not list((tmp_path / "data").glob(".*part"))
    monkeypatch.setattr(C.read, "ARCHIVE_MD5", md5)
    task = C.Cifar10(valid_size=10).load(None, ctx)
    assert (tmp_path / "data" / C.ARCHIVE).is_file() and len(server.requests) == 2
    np.testing.assert_array_equal(task.X[:100], x)
    C.Cifar10(valid_size=10).load(None, ctx)
    assert len(server.requests) == 2  # present now: no second download


def test_offline_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_CIFAR10_DOWNLOAD", "0")
    with pytest.raises(FilesMissing, match="cifar-10-python.tar.gz") as info:
        C.Cifar10().load(None, LoadContext(tmp_path / "data", tmp_path / "cache"))
    assert C.ARCHIVE_MD5 in str(info.value) and "BENCH_DATA" in str(info.value)


def test_digits_is_embedded_images():
    task = D.Digits().load(None)
    assert task.kind == "image-classification" and task.X.shape == (1797, 8, 8, 1) and task.X.dtype == np.uint8
    assert task.X.max() == 255 and task.schema.n_classes == 10
    sizes = task.split.sizes()
    assert sum(sizes.values()) == 1797 and sizes["test"] >= 350
    assert not set(task.split.train) & set(task.split.test)


def test_smoke_suite_has_a_cnn_and_a_pixel_baseline_on_digits_only():
    from bench.plugins.registry import discover
    from bench.run.suite import load_suite

    reg = discover(entry_points=False)
    specs = load_suite(reg.suite_path("smoke"), name="smoke").expand(reg)
    on_digits = sorted(s.method for s in specs if s.dataset == "digits")
    assert on_digits == ["knn", "resnet-20"]
    assert not [s for s in specs if s.method == "resnet-20" and s.dataset != "digits"]
