"""Signed artifacts: only files this user's bench wrote are ever unpickled.

Unpickling runs code, and a cache folder may be shared, synced or restored from elsewhere, so
``FitContext.cached`` stores every artifact behind an HMAC-SHA256 made with a per-user secret
key kept outside every cache and results folder (``platformdirs.user_config_dir("bench")``, or
the file named by ``BENCH_KEY_FILE``). Whoever can plant a file in the cache cannot sign it; a
file that fails the check is never unpickled, only rebuilt. The key is made once (32 random
bytes from ``secrets``, mode 0600) and refused when it is a link, someone else's file, or
readable by others.

File layout: ``MAGIC || HMAC(key, MAGIC || label || NUL || payload) || payload``; the label (the
artifact's file name) binds a signature to one artifact, so signed files cannot be swapped.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
import tempfile
from pathlib import Path

from bench.data.paths import UnsafePath, atomic_write, open_nofollow, private_dir

MAGIC = b"bench-signed-v1\n"
KEY_BYTES = 32
KEY_ENV = "BENCH_KEY_FILE"


class KeyFileError(RuntimeError):
    """The artifact key file cannot be trusted or made; the message names it and the fix."""


class BadSignature(ValueError):
    """A file is not signed with this user's key (tampered with, planted, or from elsewhere)."""


def key_path() -> Path:
    """``BENCH_KEY_FILE`` when set, else ``artifact.key`` in the per-user config folder."""
    if os.environ.get(KEY_ENV):
        return Path(os.environ[KEY_ENV]).expanduser()
    from platformdirs import user_config_dir

    return Path(user_config_dir("bench")) / "artifact.key"


def load_key(path: str | os.PathLike | None = None) -> bytes:
    """The secret key, made on first use; refused (:class:`KeyFileError`) unless it is a plain
    file of this user's that nobody else can read or write."""
    path = Path(path) if path is not None else key_path()
    try:
        with open_nofollow(path) as f:
            _check_key_file(path, os.fstat(f.fileno()))
            key = f.read(KEY_BYTES + 1)
    except (FileNotFoundError, NotADirectoryError):  # no key yet (or its folder cannot exist): make one
        return _create_key(path)
    except UnsafePath:
        raise KeyFileError(f"{path}: the artifact key file is a symbolic link (or not a plain file); "
                           f"refused, since whoever controls its target could forge cached artifacts. "
                           f"Delete it (bench makes a new key) or set {KEY_ENV} to a plain file of "
                           f"your own.") from None
    except OSError as e:
        raise KeyFileError(f"{path}: cannot use this artifact key file ({e.strerror or e}). Delete it "
                           f"(bench makes a new one) or set {KEY_ENV} to a file of your own.") from None
    if len(key) != KEY_BYTES:
        raise KeyFileError(f"{path}: not a {KEY_BYTES}-byte artifact key ({len(key)} bytes). Delete it: "
                           f"bench makes a new one and rebuilds its cached artifacts.")
    return key


def _check_key_file(path: Path, st: os.stat_result) -> None:
    if st.st_uid != os.getuid():
        raise KeyFileError(f"{path}: the artifact key belongs to user id {st.st_uid}, not to you "
                           f"({os.getuid()}). Set {KEY_ENV} to a file of your own, or delete it.")
    if stat.S_IMODE(st.st_mode) & 0o077:
        raise KeyFileError(f"{path}: the artifact key is open to other users (mode "
                           f"{stat.S_IMODE(st.st_mode):04o}). Run `chmod 600 {path}`, or delete it "
                           f"(bench makes a new one and rebuilds its cached artifacts).")


def _create_key(path: Path) -> bytes:
    """Write a fresh key under a private temporary name (mkstemp: O_CREAT|O_EXCL|O_NOFOLLOW, 0600)
    and hard-link it into place, so no reader ever sees half a key and a racing process's key
    wins without being overwritten."""
    try:
        folder = private_dir(path.parent, allow_link=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:  # a read-only home or config folder: say where the key can go instead
        raise KeyFileError(f"{path}: cannot create the artifact key there ({e.strerror or e}). Set "
                           f"{KEY_ENV} to a path in a writable folder of your own (outside every "
                           f"cache and results folder).") from None
    key = secrets.token_bytes(KEY_BYTES)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(key)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:  # another process made it first (or something is planted there)
            return load_key(path)
        except OSError as e:
            raise KeyFileError(f"{path}: cannot create the artifact key ({e.strerror or e}). Set "
                               f"{KEY_ENV} to a path in a folder of your own.") from None
    finally:
        os.unlink(tmp)
    return key


def _mac(key: bytes, label: str, payload: bytes) -> bytes:
    mac = hmac.new(key, MAGIC, hashlib.sha256)
    mac.update(label.encode() + b"\0")
    mac.update(payload)
    return mac.digest()


def seal(key: bytes, label: str, payload: bytes) -> bytes:
    return MAGIC + _mac(key, label, payload) + payload


def unseal(key: bytes, label: str, blob: bytes) -> bytes:
    """The payload of ``blob`` once its signature checks out; else :class:`BadSignature`."""
    head = len(MAGIC) + hashlib.sha256().digest_size
    if not blob.startswith(MAGIC) or len(blob) < head:
        raise BadSignature("not a signed bench artifact")
    payload = memoryview(blob)[head:]
    if not hmac.compare_digest(blob[len(MAGIC):head], _mac(key, label, payload)):
        raise BadSignature("its signature does not match this user's key")
    return payload.tobytes()


def write_signed(path: Path, payload: bytes, key: bytes) -> None:
    """Sign ``payload`` for ``path`` (labelled by its file name) and write it atomically."""
    with atomic_write(path) as f:
        f.write(seal(key, path.name, payload))


def read_signed(path: Path, key: bytes) -> bytes | None:
    """The verified payload at ``path``; None when there is no file; :class:`BadSignature` when
    the file is a link, special, unsigned or signed with another key (it is never unpickled)."""
    try:
        with open_nofollow(path) as f:
            blob = f.read()
    except FileNotFoundError:
        return None
    except OSError as e:  # a link or special file (UnsafePath), or unreadable
        raise BadSignature(str(e)) from None
    return unseal(key, path.name, blob)
