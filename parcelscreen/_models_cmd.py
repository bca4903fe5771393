"""``parcelscreen models``: list registry versions; promote a version or the challenger."""

from __future__ import annotations

import argparse
import json
import sys


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("models", help="list and promote model versions")
    models = p.add_subparsers(dest="models_command", required=True)
    models.add_parser("list", help="versions and aliases")
    promote = models.add_parser("promote", help="make VERSION (or 'challenger') the champion")
    promote.add_argument("ref", help="a version name or an alias such as 'challenger'")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from screening import BundleError, ModelRegistry, RegistryError
    from serving import DecisionLog, Entry, Settings

    settings = Settings()
    registry = ModelRegistry(settings.registry)
    if args.models_command == "list":
        print(json.dumps({"versions": registry.versions(), "aliases": registry.aliases()},
                         indent=1))  # fmt: skip
        return 0
    try:
        version = registry.resolve(args.ref)
        registry.load(version)  # refuse a bundle that fails its hash check
        previous = registry.aliases().get("champion")
        registry.set_alias("champion", version)
    except (RegistryError, BundleError) as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    DecisionLog(settings.audit_path).append(Entry(
        "promote", caller="cli", model_version=version,
        detail={"alias": "champion", "from": args.ref, "previous": previous}))  # fmt: skip
    print(json.dumps({"champion": version, "previous": previous}))
    return 0
