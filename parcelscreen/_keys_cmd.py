"""``parcelscreen keys``: create (printed once, stored hashed), revoke and list API keys."""

from __future__ import annotations

import argparse
import json
import sys


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("keys", help="manage the service's API keys")
    keys = p.add_subparsers(dest="keys_command", required=True)
    create = keys.add_parser("create", help="make a key and print it once")
    create.add_argument(
        "--role",
        required=True,
        choices=["monitor", "sorter", "officer", "admin"],
        help="monitor: reads /metrics only (a Prometheus scrape key)",
    )
    create.add_argument("--name", default="", help="who or what holds the key")
    revoke = keys.add_parser("revoke", help="revoke a key by its ID")
    revoke.add_argument("key_id")
    keys.add_parser("list", help="list keys (IDs, names, roles; never the keys)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from serving import KeyStore, ServingError, Settings

    from ._maintenance import open_record

    settings = Settings()
    record = open_record(settings, must_exist=False)
    if record is None:
        return 2
    store = KeyStore(record.db, settings.secret_key)
    if args.keys_command == "create":
        key_id, key = store.create(args.role, args.name)
        print(json.dumps({"key_id": key_id, "role": args.role, "key": key}))
        print("the key is shown only this once; it is stored hashed", file=sys.stderr)
    elif args.keys_command == "revoke":
        try:
            store.revoke(args.key_id)
        except ServingError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 1
        print(json.dumps({"key_id": args.key_id, "revoked": True}))
    else:
        print(json.dumps(store.list(), indent=1))
    return 0
