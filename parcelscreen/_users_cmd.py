"""``parcelscreen users``: officer view accounts (passwords stored as scrypt hashes)."""

from __future__ import annotations

import argparse
import getpass
import json
import sys


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("users", help="manage officer view accounts")
    users = p.add_subparsers(dest="users_command", required=True)
    add = users.add_parser("add", help="create an account (password prompted or from stdin)")
    add.add_argument("name")
    add.add_argument(
        "--role",
        default="officer",
        choices=["sorter", "officer", "admin"],
        help="officer: queue, parcels, outcomes; admin: also the halt switch",
    )
    add.add_argument("--officer-ref", default="", help="reference written to outcomes and log")
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input",
    )
    disable = users.add_parser("disable", help="disable an account and end its sessions")
    disable.add_argument("name")
    unlock = users.add_parser("unlock", help="clear a user name's failed sign-ins (logged)")
    unlock.add_argument("name")
    users.add_parser("list", help="list accounts (never passwords)")
    p.set_defaults(func=run)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if first != getpass.getpass("again: "):
        raise ValueError("the passwords differ")
    return first


def _unlock(name: str) -> int:
    """Clear the sign-in throttle's failures of a user name; the decision log records it."""
    from serving import Entry, Record, Settings
    from serving.officer import SignInThrottle

    settings = Settings()
    record = Record(settings)
    try:
        cleared = SignInThrottle(record.db, settings.secret_key).unlock(name)
        record.audit.append(Entry("officer_unlock", caller="cli",
                                  detail={"username": name, "failures_cleared": cleared}))
    finally:
        record.close()
    print(json.dumps({"username": name, "unlocked": True, "failures_cleared": cleared}))
    return 0


def run(args: argparse.Namespace) -> int:
    from serving import Settings
    from serving.officer import UserError, UserStore

    from ._maintenance import open_record

    record = open_record(Settings(), must_exist=False)
    if record is None:
        return 2
    store = UserStore(record.db)
    try:
        if args.users_command == "add":
            user = store.add(args.name, _password(args.password_stdin), args.role,
                             args.officer_ref)  # fmt: skip
            print(json.dumps({"username": user.username, "role": user.role.value,
                              "officer_ref": user.officer_ref}))  # fmt: skip
        elif args.users_command == "disable":
            if not store.disable(args.name):
                print(f"error: no active user named {args.name!r}", file=sys.stderr)
                return 1
            print(json.dumps({"username": args.name, "disabled": True}))
        elif args.users_command == "unlock":
            return _unlock(args.name)
        else:
            print(json.dumps(store.list(), indent=1))
    except (UserError, ValueError) as exc:  # a bad name or password, or a taken name
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
