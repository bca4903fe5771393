"""A model bundle: one directory of files plus a manifest of their SHA-256 hashes.

A bundle holds everything needed to score and to explain a model (model.onnx,
booster.ubj, feature_spec.json, calibration.json, thresholds.json, metrics.json,
reference.json, model_card.md, ...). ``manifest.json`` lists every other file::

    {"format": 1, "created_at": "2026-11-29T12:45:01Z", "files": {"model.onnx": "<sha256>"}}

A bundle is loaded only after `verify_bundle` has checked that the files on disk are
exactly the listed ones, byte for byte, so a half-copied or edited model never scores.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from ._errors import BundleError

__all__ = ["MANIFEST_FORMAT", "MANIFEST_NAME", "verify_bundle", "write_manifest"]

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 1
_SHA256 = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1 << 20


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _bundle_files(bundle_dir: Path) -> dict[str, Path]:
    """Every file under the bundle except the manifest, keyed by relative POSIX path."""
    if not bundle_dir.is_dir():
        raise BundleError(f"bundle {bundle_dir} is not a directory")
    found: dict[str, Path] = {}
    for path in sorted(bundle_dir.rglob("*")):
        name = path.relative_to(bundle_dir).as_posix()
        if path.is_symlink():
            raise BundleError(f"bundle {bundle_dir}: {name} is a symbolic link; copy the file")
        if path.is_file() and name != MANIFEST_NAME:
            found[name] = path
    return found


def write_manifest(bundle_dir: Path) -> dict[str, Any]:
    """Hash every file of the bundle and write manifest.json atomically; return it."""
    bundle_dir = Path(bundle_dir)
    files = {name: _sha256(path) for name, path in _bundle_files(bundle_dir).items()}
    manifest = {
        "format": MANIFEST_FORMAT,
        "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "files": files,
    }
    write_json_atomic(bundle_dir / MANIFEST_NAME, manifest)
    return manifest


def write_json_atomic(path: Path, payload: object) -> None:
    """Write JSON to a temporary file beside `path`, fsync it, then rename over `path`."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(payload, f, indent=2, sort_keys=True)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_manifest(bundle_dir: Path) -> dict[str, Any]:
    """Parse and shape-check manifest.json without looking at the other files."""
    path = Path(bundle_dir) / MANIFEST_NAME
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BundleError(f"bundle {bundle_dir}: {MANIFEST_NAME} is missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
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
    if not isinstance(name, str) or not name or name == MANIFEST_NAME or "\\" in name:
        return False
    parts = PurePosixPath(name).parts
    return not PurePosixPath(name).is_absolute() and ".." not in parts and "." not in parts


def verify_bundle(bundle_dir: Path) -> dict[str, Any]:
    """Check the bundle against its manifest and return the manifest.

    Raises BundleError naming every file that is missing, altered (hash differs) or not
    listed, and for a missing or unreadable manifest.
    """
    bundle_dir = Path(bundle_dir)
    manifest = read_manifest(bundle_dir)
    listed: dict[str, str] = manifest["files"]
    present = _bundle_files(bundle_dir)
    problems = []
    for name, expected in sorted(listed.items()):
        if name not in present:
            problems.append(f"{name}: listed in the manifest but missing")
            continue
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
    return manifest
