"""Model bundles: a folder of files and a manifest of their hashes, written by training and
checked before anything in it is trusted.

``_files``: the manifest, size caps, hashes and their verification, atomic writes.
``_signing``: Ed25519 signatures of the manifest. ``_checks``: every file against the model.
``_model``: :func:`write_bundle` writes a bundle's files, :class:`LoadedModel` loads them.
``_registry``: published versions and their aliases.
"""

from ._files import (
    MANIFEST_NAME,
    MAX_BUNDLE_FILES,
    MAX_FILE_BYTES,
    SIGNATURE_NAME,
    sign_bundle,
    verify_bundle,
    write_json_atomic,
    write_manifest,
)
from ._model import REQUIRED_FILES, TREESHAP_FILE, BundleContents, LoadedModel, write_bundle
from ._registry import ModelRegistry
from ._signing import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
    generate_key_pair,
    key_id,
    load_private_key,
    load_public_keys,
)

__all__ = [
    "MANIFEST_NAME",
    "MAX_BUNDLE_FILES",
    "MAX_FILE_BYTES",
    "REQUIRED_FILES",
    "SIGNATURE_NAME",
    "TREESHAP_FILE",
    "BundleContents",
    "Ed25519PrivateKey",
    "Ed25519PublicKey",
    "LoadedModel",
    "ModelRegistry",
    "generate_key_pair",
    "key_id",
    "load_private_key",
    "load_public_keys",
    "sign_bundle",
    "verify_bundle",
    "write_bundle",
    "write_json_atomic",
    "write_manifest",
]
