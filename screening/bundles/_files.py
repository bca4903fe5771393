"""A model bundle: one directory of files plus a manifest of their SHA-256 hashes.

A bundle holds everything needed to score and to explain a model (model.onnx,
booster.ubj, feature_spec.json, calibration.json, thresholds.json, metrics.json,
reference.json, model_card.md, ...). ``manifest.json`` lists every other file::

    {"format": 1, "created_at": "2026-11-29T12:45:01Z", "files": {"model.onnx": "<sha256>"}}

A bundle is loaded only after `verify_bundle` has checked that the files on disk are
exactly the listed ones, byte for byte, so a half-copied or edited model never scores. Every
file's size is checked against a cap before a byte of it is read (`MAX_FILE_BYTES`, and
`MAX_OTHER_FILE_BYTES` for the JSON files and the card), so an oversized file is refused
without being hashed or parsed. Where trusted public keys are given, the manifest must carry
an Ed25519 signature by one of them (``manifest.sig``, see ``_signing``); without them a
signature is not checked and unsigned bundles load (the development default).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import tempfile
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from .._errors import BundleError
from ._signing import Ed25519PrivateKey, Ed25519PublicKey, sign_manifest, verify_manifest

__all__ = [
    "MANIFEST_FORMAT",
    "MANIFEST_NAME",
    "MAX_BUNDLE_FILES",
    "MAX_FILE_BYTES",
    "MAX_MANIFEST_BYTES",
    "MAX_OTHER_FILE_BYTES",
    "SIGNATURE_NAME",
    "VerifiedBundle",
    "open_bundle",
    "sign_bundle",
    "verify_bundle",
    "write_manifest",
]

MANIFEST_NAME = "manifest.json"
SIGNATURE_NAME = "manifest.sig"
MANIFEST_FORMAT = 1
_MIB = 1 << 20
#: Largest size of these bundle files, in bytes (a model about 30 times the size the default
#: training makes; the ONNX session takes about three times its file in memory per worker).
MAX_FILE_BYTES: dict[str, int] = {
    "model.onnx": 64 * _MIB,
    "booster.ubj": 64 * _MIB,
    "treeshap.npz": 256 * _MIB,
}
#: Largest size of any other bundle file (the JSON files, the model card).
MAX_OTHER_FILE_BYTES = 16 * _MIB
#: Largest size of ``manifest.json`` and of ``manifest.sig``.
MAX_MANIFEST_BYTES = 1 * _MIB
#: Most entries (files and folders) a bundle folder may hold.
MAX_BUNDLE_FILES = 100
_SHA256 = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1 << 20
_UNLISTED = (MANIFEST_NAME, SIGNATURE_NAME)


def size_cap(name: str) -> int:
    """Largest size in bytes that the bundle file ``name`` may have."""
    return MAX_FILE_BYTES.get(name, MAX_OTHER_FILE_BYTES)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _too_large(bundle_dir: Path, name: str, size: int, cap: int) -> BundleError:
    return BundleError(
        f"bundle {bundle_dir}: {name} is {size} bytes, over its cap of {cap} "
        "bytes (screening.bundles.MAX_FILE_BYTES)"
    )


def _read_capped(bundle_dir: Path, name: str, cap: int) -> bytes | None:
    """The bytes of a regular file of the bundle, refused over ``cap``; None if absent."""
    path = bundle_dir / name
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise BundleError(
            f"bundle {bundle_dir}: {name} is unreadable (a symbolic link or not "
            f"a file?): {exc.strerror or exc}"
        ) from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise BundleError(f"bundle {bundle_dir}: {name} is not a regular file")
        if info.st_size > cap:
            raise _too_large(bundle_dir, name, info.st_size, cap)
        data = f.read(cap + 1)
    if len(data) > cap:  # it grew while being read
        raise _too_large(bundle_dir, name, len(data), cap)
    return data


def _bundle_files(bundle_dir: Path) -> dict[str, Path]:
    """Every file under the bundle except the manifest and its signature, keyed by relative
    POSIX path; refuses links, special files, too many entries and files over their cap."""
    if not bundle_dir.is_dir():
        raise BundleError(f"bundle {bundle_dir} is not a directory")
    entries: list[Path] = []
    for path in bundle_dir.rglob("*"):  # counted as found: a crowded folder is not listed
        entries.append(path)
        if len(entries) > MAX_BUNDLE_FILES:
            raise BundleError(f"bundle {bundle_dir} holds more than {MAX_BUNDLE_FILES} entries")
    found: dict[str, Path] = {}
    for path in sorted(entries):
        name = path.relative_to(bundle_dir).as_posix()
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            raise BundleError(f"bundle {bundle_dir}: {name} is a symbolic link; copy the file")
        if stat.S_ISDIR(info.st_mode):
            continue
        if not stat.S_ISREG(info.st_mode):
            raise BundleError(f"bundle {bundle_dir}: {name} is not a regular file")
        cap = MAX_MANIFEST_BYTES if name in _UNLISTED else size_cap(name)
        if info.st_size > cap:
            raise _too_large(bundle_dir, name, info.st_size, cap)
        if name not in _UNLISTED:
            found[name] = path
    return found


def write_manifest(bundle_dir: Path) -> dict[str, Any]:
    """Hash every file of the bundle and write manifest.json atomically; return it.

    A signature of an earlier manifest no longer matches, so it is removed.
    """
    bundle_dir = Path(bundle_dir)
    files = {name: _sha256(path) for name, path in _bundle_files(bundle_dir).items()}
    manifest = {
        "format": MANIFEST_FORMAT,
        "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "files": files,
    }
    write_json_atomic(bundle_dir / MANIFEST_NAME, manifest)
    (bundle_dir / SIGNATURE_NAME).unlink(missing_ok=True)
    return manifest


def sign_bundle(bundle_dir: Path, key: Ed25519PrivateKey) -> None:
    """Sign the bundle's ``manifest.json`` as it is on disk (writes ``manifest.sig``)."""
    bundle_dir = Path(bundle_dir)
    manifest = _read_capped(bundle_dir, MANIFEST_NAME, MAX_MANIFEST_BYTES)
    if manifest is None:
        raise BundleError(f"bundle {bundle_dir}: {MANIFEST_NAME} is missing")
    write_bytes_atomic(bundle_dir / SIGNATURE_NAME, sign_manifest(manifest, key))


def write_json_atomic(path: Path, payload: object) -> None:
    """Write JSON to a temporary file beside `path`, fsync it, then rename over `path`."""
    write_bytes_atomic(path, (json.dumps(payload, indent=2, sort_keys=True) + "\n").encode())


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write bytes to a temporary file beside `path`, fsync it, then rename over `path`."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_manifest(bundle_dir: Path) -> dict[str, Any]:
    """Parse and shape-check manifest.json without looking at the other files."""
    bundle_dir = Path(bundle_dir)
    data = _read_capped(bundle_dir, MANIFEST_NAME, MAX_MANIFEST_BYTES)
    if data is None:
        raise BundleError(f"bundle {bundle_dir}: {MANIFEST_NAME} is missing")
    return _parse_manifest(bundle_dir, data)


def _parse_manifest(bundle_dir: Path, data: bytes) -> dict[str, Any]:
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise BundleError(f"bundle {bundle_dir}: {MANIFEST_NAME} is unreadable: {exc}") from exc
    if not isinstance(manifest, dict):
        raise BundleError(f"bundle {bundle_dir}: {MANIFEST_NAME} must hold a JSON object")
    if manifest.get("format") != MANIFEST_FORMAT:
        raise BundleError(
            f"bundle {bundle_dir}: {MANIFEST_NAME} has format {manifest.get('format')!r}, "
            f"expected {MANIFEST_FORMAT}"
        )
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise BundleError(f"bundle {bundle_dir}: {MANIFEST_NAME} lists no files")
    for name, digest in files.items():
        if not _safe_name(name):
            raise BundleError(f"bundle {bundle_dir}: {MANIFEST_NAME} lists unsafe path {name!r}")
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
            raise BundleError(
                f"bundle {bundle_dir}: {MANIFEST_NAME} gives {name} a malformed sha256 {digest!r}"
            )
    return manifest


def _safe_name(name: object) -> bool:
    if not isinstance(name, str) or not name or name in _UNLISTED or "\\" in name:
        return False
    parts = PurePosixPath(name).parts
    return not PurePosixPath(name).is_absolute() and ".." not in parts and "." not in parts


@dataclass(frozen=True)
class VerifiedBundle:
    """A bundle that passed its checks: the manifest, its exact bytes, and the files asked
    for, as the bytes that were hashed (so nothing changed between check and use)."""

    path: Path
    manifest: dict[str, Any]
    manifest_bytes: bytes
    contents: dict[str, bytes]
    signed_by: str | None  # key id of the trusted signature; None where none was asked for


def open_bundle(
    bundle_dir: Path, trusted_keys: Iterable[Ed25519PublicKey] = (), read: Collection[str] = ()
) -> VerifiedBundle:
    """Check the bundle (sizes, signature where ``trusted_keys`` are given, every hash) and
    return it with the bytes of the files named in ``read``.

    Raises BundleError naming every file that is missing, altered (hash differs) or not
    listed, and for a missing, unreadable or (where keys are trusted) unsigned manifest.
    """
    bundle_dir = Path(bundle_dir)
    present = _bundle_files(bundle_dir)
    data = _read_capped(bundle_dir, MANIFEST_NAME, MAX_MANIFEST_BYTES)
    if data is None:
        raise BundleError(f"bundle {bundle_dir}: {MANIFEST_NAME} is missing")
    keys = tuple(trusted_keys)
    signer = None
    if keys:  # before parsing: an untrusted manifest is not even read
        signature = _read_capped(bundle_dir, SIGNATURE_NAME, MAX_MANIFEST_BYTES)
        signer = verify_manifest(data, signature, keys, f"bundle {bundle_dir}")
    manifest = _parse_manifest(bundle_dir, data)
    listed: dict[str, str] = manifest["files"]
    problems = []
    contents: dict[str, bytes] = {}
    for name, expected in sorted(listed.items()):
        if name not in present:
            problems.append(f"{name}: listed in the manifest but missing")
            continue
        if name in read:
            content = _read_capped(bundle_dir, name, size_cap(name))
            if content is None:
                problems.append(f"{name}: listed in the manifest but missing")
                continue
            contents[name] = content
            actual = hashlib.sha256(content).hexdigest()
        else:
            actual = _sha256(present[name])
        if actual != expected:
            problems.append(
                f"{name}: sha256 {actual[:12]}... differs from manifest {expected[:12]}..."
            )
    problems.extend(
        f"{name}: present but not listed in the manifest"
        for name in sorted(set(present) - set(listed))
    )
    if problems:
        raise BundleError(f"bundle {bundle_dir} failed verification: " + "; ".join(problems))
    return VerifiedBundle(bundle_dir, manifest, data, contents, signer)


def verify_bundle(
    bundle_dir: Path, trusted_keys: Iterable[Ed25519PublicKey] = ()
) -> dict[str, Any]:
    """Check the bundle against its manifest (and signature) and return the manifest.

    Raises BundleError naming every file that is missing, altered (hash differs) or not
    listed, and for a missing or unreadable manifest.
    """
    return open_bundle(bundle_dir, trusted_keys).manifest
