"""``parcelscreen models``: list registry versions; promote a version or the challenger;
make a bundle-signing key pair; sign a published version.

Signing: ``models keygen --out PREFIX`` writes ``PREFIX.key`` (private, mode 0600) and
``PREFIX.pub``. With ``PARCELSCREEN_BUNDLE_SIGNING_KEY=PREFIX.key``, ``parcelscreen train``
signs what it publishes and ``models sign REF`` signs a published version; a service with
``PARCELSCREEN_TRUSTED_BUNDLE_KEYS=PREFIX.pub`` loads (and ``models promote`` accepts) only
bundles signed with that key.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from screening import Ed25519PrivateKey

SIGNING_KEY_VARIABLE = "PARCELSCREEN_BUNDLE_SIGNING_KEY"


def env_signing_key(path: str | Path | None = None) -> Ed25519PrivateKey | None:
    """The private key of ``path``, by default the file PARCELSCREEN_BUNDLE_SIGNING_KEY names
    (None when unset); ValueError naming the variable and the file when it is not an Ed25519
    private key."""
    from screening import load_private_key

    path = path or os.environ.get(SIGNING_KEY_VARIABLE)
    if not path:
        return None
    try:
        return load_private_key(Path(path))
    except ValueError as exc:
        raise ValueError(f"{SIGNING_KEY_VARIABLE}: {exc}") from None


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("models", help="list, promote and sign model versions")
    models = p.add_subparsers(dest="models_command", required=True)
    models.add_parser("list", help="versions and aliases")
    promote = models.add_parser("promote", help="make VERSION (or 'challenger') the champion")
    promote.add_argument("ref", help="a version name or an alias such as 'challenger'")
    keygen = models.add_parser("keygen", help="make an Ed25519 key pair for signing bundles")
    keygen.add_argument(
        "--out", type=Path, required=True, help="PREFIX: writes PREFIX.key (private) and PREFIX.pub"
    )
    sign = models.add_parser("sign", help=f"sign a published version with {SIGNING_KEY_VARIABLE}")
    sign.add_argument("ref", help="a version name or an alias")
    p.set_defaults(func=run)


def _keygen(prefix: Path) -> int:
    from screening import generate_key_pair

    private, public = prefix.with_name(prefix.name + ".key"), prefix.with_name(prefix.name + ".pub")
    try:
        # the README's `--out keys/release`: its folder is made (private to its owner)
        prefix.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = generate_key_pair(private, public)
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        print(f"error: cannot write the key pair: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
    print(json.dumps({"private_key": str(private), "public_key": str(public), "key_id": key}))
    print(
        f"sign with {SIGNING_KEY_VARIABLE}={private}; trust with "
        f"PARCELSCREEN_TRUSTED_BUNDLE_KEYS={public}",
        file=sys.stderr,
    )
    return 0


def run(args: argparse.Namespace) -> int:
    from screening import BundleError, ModelRegistry, RegistryError, key_id
    from serving import Entry, Record, Settings, trusted_bundle_keys

    if args.models_command == "keygen":
        return _keygen(args.out)
    settings = Settings()
    registry = ModelRegistry(settings.registry)
    if args.models_command == "sign":
        try:
            key = env_signing_key(settings.bundle_signing_key)
            if key is None:
                raise ValueError(f"{SIGNING_KEY_VARIABLE} is not set: no key to sign with")
            version = registry.sign(args.ref, key)
        except (ValueError, RegistryError, BundleError) as exc:
            print(f"error: {getattr(exc, 'message', exc)}", file=sys.stderr)
            return 1
        print(json.dumps({"signed": version, "key_id": key_id(key.public_key())}))
        return 0
    if args.models_command == "list":
        print(
            json.dumps({"versions": registry.versions(), "aliases": registry.aliases()}, indent=1)
        )
        return 0
    try:
        version = registry.resolve(args.ref)
        # refuse a bundle that fails its hash check, or its signature where keys are trusted
        registry.load(version, trusted_bundle_keys(settings.trusted_bundle_keys))
        previous = registry.aliases().get("champion")
        registry.set_alias("champion", version)
    except (RegistryError, BundleError) as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    record = Record(settings)
    try:
        record.audit.append(
            Entry(
                "promote",
                caller="cli",
                model_version=version,
                detail={"alias": "champion", "from": args.ref, "previous": previous},
            )
        )
    finally:
        record.close()
    print(json.dumps({"champion": version, "previous": previous}))
    return 0
