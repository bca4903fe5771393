"""Ed25519 signatures of bundle manifests: who published a bundle, checked before it loads.

A signature covers the exact bytes of ``manifest.json``, which lists the SHA-256 of every
other file, so it covers the whole bundle. It travels beside the manifest as
``manifest.sig``::

    {"algorithm": "ed25519", "key_id": "<16 hex>", "signature": "<base64, 64 bytes>"}

``key_id`` is the start of the SHA-256 of the raw public key; it only picks which trusted key
to try. Keys are PEM files: the private key PKCS#8 (unencrypted, kept readable by its owner
only), the public key SubjectPublicKeyInfo (``parcelscreen models keygen`` makes a pair).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .._errors import BundleError

__all__ = [
    "SIGNATURE_ALGORITHM",
    "Ed25519PrivateKey",
    "Ed25519PublicKey",
    "generate_key_pair",
    "key_id",
    "load_private_key",
    "load_public_keys",
    "sign_manifest",
    "verify_manifest",
]

SIGNATURE_ALGORITHM = "ed25519"
_MAX_KEY_FILE_BYTES = 64 * 1024


def key_id(key: Ed25519PublicKey) -> str:
    """Short name of a public key: the first 16 hex digits of the SHA-256 of its raw bytes."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def generate_key_pair(private_path: Path, public_path: Path) -> str:
    """Write a new key pair (the private file mode 0600, never over an existing file).

    Returns the key id.
    """
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for path in (private_path, public_path):
        if path.exists():
            raise FileExistsError(f"{path} exists; a key file is never overwritten")
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(private_pem)
    public_path.write_bytes(public_pem)
    return key_id(key.public_key())


def _read_key_file(path: Path) -> bytes:
    try:
        with Path(path).open("rb") as f:
            data = f.read(_MAX_KEY_FILE_BYTES + 1)
    except OSError as exc:
        raise ValueError(f"key file {path} is unreadable: {exc.strerror or exc}") from None
    if len(data) > _MAX_KEY_FILE_BYTES:
        raise ValueError(f"key file {path} is larger than a key file can be")
    return data


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 private key of a PEM file; ValueError naming the file otherwise."""
    data = _read_key_file(path)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path} is not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} holds a {type(key).__name__}, not an Ed25519 private key")
    return key


def load_public_keys(paths: Iterable[Path]) -> tuple[Ed25519PublicKey, ...]:
    """The Ed25519 public keys of PEM files; ValueError naming the first file that is not."""
    keys = []
    for path in paths:
        data = _read_key_file(path)
        try:
            key = serialization.load_pem_public_key(data)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{path} is not a PEM public key: {exc}") from None
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError(f"{path} holds a {type(key).__name__}, not an Ed25519 public key")
        keys.append(key)
    return tuple(keys)


def sign_manifest(manifest: bytes, key: Ed25519PrivateKey) -> bytes:
    """The ``manifest.sig`` document for the exact bytes of a manifest."""
    document = {
        "algorithm": SIGNATURE_ALGORITHM,
        "key_id": key_id(key.public_key()),
        "signature": base64.b64encode(key.sign(manifest)).decode("ascii"),
    }
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()


def verify_manifest(
    manifest: bytes, signature: bytes | None, trusted: Iterable[Ed25519PublicKey], where: str
) -> str:
    """Check that one of the ``trusted`` keys signed ``manifest``; return its key id.

    ``signature`` is the content of ``manifest.sig`` (None: the file is absent). Raises
    BundleError saying whether the signature is missing, malformed, made by a key that is not
    trusted, or does not match the manifest.
    """
    keys = {key_id(key): key for key in trusted}
    if signature is None:
        raise BundleError(
            f"{where}: manifest.sig is missing: only bundles signed by a trusted "
            f"key load here (trusted: {', '.join(sorted(keys))})"
        )
    try:
        document = json.loads(signature)
        algorithm, signer = document["algorithm"], str(document["key_id"])
        raw = base64.b64decode(document["signature"], validate=True)
    except (ValueError, TypeError, KeyError, binascii.Error) as exc:
        raise BundleError(f"{where}: manifest.sig is malformed: {exc!r}") from None
    if algorithm != SIGNATURE_ALGORITHM:
        raise BundleError(
            f"{where}: manifest.sig uses {algorithm!r}; expected {SIGNATURE_ALGORITHM!r}"
        )
    key = keys.get(signer) if isinstance(document["key_id"], str) else None
    if key is None:
        raise BundleError(
            f"{where}: manifest.sig is signed by key {signer!r}, which is not "
            f"trusted here (trusted: {', '.join(sorted(keys))})"
        )
    try:
        key.verify(raw, manifest)
    except InvalidSignature:
        raise BundleError(
            f"{where}: manifest.sig does not match manifest.json (key "
            f"{signer}): the manifest or the signature was altered"
        ) from None
    return signer
