"""A file-based model registry: immutable versions plus movable aliases.

Layout under the registry root::

    versions/<version>/   one verified bundle per version, never changed after publish
    aliases.json          {"aliases": {"champion": "<version>"}, "history": [...]}
    .lock                 fcntl lock taken by every writer

Publishing copies a verified bundle into a temporary directory beside its destination and
renames it into place, so readers see either no version or a complete one. Alias changes
are serialised by the lock and written by atomic rename, with every change appended to a
history list: who served what, and since when, can always be answered.

A reference resolves only to a folder inside ``versions/``: an alias whose target is not a
version name (``..``, an absolute path, a slash), or a version folder that is a symbolic link
or otherwise leads outside the registry root, is refused (RegistryError). Publishing signs the
manifest when given a private key; loading checks the signature when given trusted keys.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .._errors import BundleError, RegistryError
from ._files import sign_bundle, verify_bundle, write_json_atomic
from ._signing import Ed25519PrivateKey, Ed25519PublicKey

__all__ = ["ModelRegistry"]

ALIAS_PATTERN = re.compile(r"[a-z]+")
VERSION_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
ALIASES_NAME = "aliases.json"
_LOCK_NAME = ".lock"


def _now() -> datetime:
    return datetime.now(UTC)


class ModelRegistry:
    """Versions of model bundles under `root`, addressed by version or alias.

    Alias names are lower-case letters only (``champion``, ``challenger``); version names
    must contain something else (a digit, a dot, a dash) so a reference is never both.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._versions = self.root / "versions"

    # -- versions -----------------------------------------------------------------------

    def publish(
        self,
        bundle_dir: Path,
        version: str | None = None,
        signing_key: Ed25519PrivateKey | None = None,
    ) -> str:
        """Verify `bundle_dir` and copy it in as a new, immutable version; return its name.

        The default name is the UTC time plus the first 8 hex digits of the hash of the
        manifest's file list, e.g. ``20261129T124501Z-3f9a0c1d``. With ``signing_key`` the
        published manifest is signed (``manifest.sig``).
        """
        manifest = verify_bundle(Path(bundle_dir))
        if version is None:
            files = json.dumps(manifest["files"], sort_keys=True).encode()
            version = f"{_now():%Y%m%dT%H%M%SZ}-{hashlib.sha256(files).hexdigest()[:8]}"
        self._check_version_name(version)
        self._versions.mkdir(parents=True, exist_ok=True)
        target = self._versions / version
        if target.exists():
            raise RegistryError(
                f"version {version!r} already exists; versions are immutable", status_code=409
            )
        staging = Path(tempfile.mkdtemp(dir=self._versions, prefix=f".{version}."))
        try:
            shutil.copytree(bundle_dir, staging, dirs_exist_ok=True)
            verify_bundle(staging)
            if signing_key is not None:
                sign_bundle(staging, signing_key)
            with self._locked():
                if target.exists():
                    raise RegistryError(
                        f"version {version!r} already exists; versions are immutable",
                        status_code=409,
                    )
                staging.rename(target)
        finally:
            if staging.exists():
                shutil.rmtree(staging)
        return version

    def versions(self) -> list[str]:
        """Published versions, sorted by name (default names sort by publish time)."""
        if not self._versions.is_dir():
            return []
        return sorted(
            p.name
            for p in self._versions.iterdir()
            if p.is_dir() and not p.is_symlink() and not p.name.startswith(".")
        )

    # -- aliases ------------------------------------------------------------------------

    def set_alias(self, alias: str, version: str) -> None:
        """Point `alias` at an existing `version` and record the change in the history."""
        if not ALIAS_PATTERN.fullmatch(alias):
            raise RegistryError(f"alias {alias!r} must be lower-case letters only", status_code=400)
        with self._locked():
            if not self._is_version(version) or not (self._versions / version).is_dir():
                raise RegistryError(
                    f"cannot point {alias!r} at unknown version {version!r}", status_code=404
                )
            self._inside(version)
            state = self._read_aliases()
            state["aliases"][alias] = version
            state["history"].append(
                {"alias": alias, "version": version, "time": _now().isoformat()}
            )
            write_json_atomic(self.root / ALIASES_NAME, state)

    def aliases(self) -> dict[str, str]:
        """Current alias -> version mapping."""
        return dict(self._read_aliases()["aliases"])

    def history(self) -> list[dict[str, str]]:
        """Every alias change, oldest first: {"alias", "version", "time"}."""
        return list(self._read_aliases()["history"])

    # -- lookup -------------------------------------------------------------------------

    def resolve(self, ref: str) -> str:
        """The version an alias points at, or `ref` itself when it names a version.

        The version is a plain version name whose folder lies inside the registry (no link
        leading out of it), or RegistryError.
        """
        if not isinstance(ref, str):
            raise RegistryError(f"no version or alias named {ref!r}", status_code=404)
        if ALIAS_PATTERN.fullmatch(ref):
            aliases = self.aliases()
            if ref not in aliases:
                known = ", ".join(sorted(aliases)) or "none"
                raise RegistryError(f"unknown alias {ref!r} (known: {known})", status_code=404)
            version = aliases[ref]
            if not self._is_version(version):
                raise RegistryError(
                    f"alias {ref!r} points at {version!r}, which is not a "
                    "version name of this registry (a path?): refused",
                    status_code=409,
                )
            self._inside(version)
            return str(version)
        if self._is_version(ref) and (self._versions / ref).is_dir():
            self._inside(ref)
            return ref
        raise RegistryError(f"no version or alias named {ref!r} in {self.root}", status_code=404)

    def path(self, ref: str) -> Path:
        """Directory of the bundle `ref` resolves to (inside the registry; not verified)."""
        return self._versions / self.resolve(ref)

    def load(self, ref: str, trusted_keys: Iterable[Ed25519PublicKey] = ()) -> Path:
        """Directory of the bundle `ref` resolves to, after verifying every file (and the
        manifest's signature, where ``trusted_keys`` are given)."""
        path = self.path(ref)
        if not path.is_dir():
            raise BundleError(f"bundle {path} for {ref!r} is missing from the registry")
        verify_bundle(path, trusted_keys)
        return path

    def sign(self, ref: str, signing_key: Ed25519PrivateKey) -> str:
        """Sign the manifest of a published version after verifying it; return the version.

        The bundle's files and manifest stay as published; ``manifest.sig`` is added (or
        replaced) beside the manifest.
        """
        version = self.resolve(ref)
        with self._locked():
            path = self.load(version)
            sign_bundle(path, signing_key)
        return version

    # -- internals ----------------------------------------------------------------------

    @staticmethod
    def _is_version(name: object) -> bool:
        """A version name: no separator, no ``..`` component, never an alias name."""
        return (
            isinstance(name, str)
            and VERSION_PATTERN.fullmatch(name) is not None
            and ALIAS_PATTERN.fullmatch(name) is None
        )

    def _inside(self, version: str) -> None:
        """Refuse a version folder that is a link or resolves outside ``versions/``."""
        folder = self._versions / version
        if folder.is_symlink():
            raise RegistryError(
                f"version {version!r} is a symbolic link ({folder}); the "
                "registry serves only folders inside itself",
                status_code=409,
            )
        real = folder.resolve()
        if real.parent != self.root.resolve() / "versions":
            raise RegistryError(
                f"version {version!r} resolves to {real}, outside the "
                f"registry {self.root}: refused",
                status_code=409,
            )

    @staticmethod
    def _check_version_name(version: str) -> None:
        if not VERSION_PATTERN.fullmatch(version) or ALIAS_PATTERN.fullmatch(version):
            raise RegistryError(
                f"version {version!r} must be 1-128 characters of letters, digits, '.', '_' "
                "or '-', start with a letter or digit, and not be letters only "
                "(letters-only names are aliases)",
                status_code=400,
            )

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Exclusive registry lock, held across processes until the block ends."""
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / _LOCK_NAME).open("a") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _read_aliases(self) -> dict[str, Any]:
        path = self.root / ALIASES_NAME
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"aliases": {}, "history": []}
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RegistryError(f"{path} is unreadable: {exc}") from exc
        if not (
            isinstance(state, dict)
            and isinstance(state.get("aliases"), dict)
            and isinstance(state.get("history"), list)
        ):
            raise RegistryError(f"{path} must hold {{'aliases': {{...}}, 'history': [...]}}")
        return state
