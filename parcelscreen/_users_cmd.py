"""``parcelscreen users``: officer view accounts (passwords stored as scrypt hashes).

Only the roles that may sign in to the officer view are offered (officer, admin). Every
change of an account is recorded in the decision log (the user name and what changed, never
a password). The record database must exist where the settings point, unless the
environment names its place (``PARCELSCREEN_DATA_DIR``): see ``_maintenance.open_record``.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from typing import Any

ROLES = ["officer", "admin"]
ROLE_HELP = "officer: worklists, parcels, outcomes; admin: also assigns parcels and the halt switch"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("users", help="manage officer view accounts")
    users = p.add_subparsers(dest="users_command", required=True)
    add = users.add_parser("add", help="create an account (password prompted or from stdin)")
    add.add_argument("name")
    add.add_argument("--role", default="officer", choices=ROLES, help=ROLE_HELP)
    add.add_argument("--officer-ref", default="", help="reference written to outcomes and log")
    _password_option(add)
    reset = users.add_parser("reset", help="set a new password (the account's sessions end)")
    reset.add_argument("name")
    _password_option(reset)
    role = users.add_parser("role", help="change an account's role (its sessions end)")
    role.add_argument("name")
    role.add_argument("role", choices=ROLES, help=ROLE_HELP)
    disable = users.add_parser("disable", help="disable an account and end its sessions")
    disable.add_argument("name")
    enable = users.add_parser("enable", help="enable a disabled account again")
    enable.add_argument("name")
    unlock = users.add_parser("unlock", help="clear a user name's failed sign-ins (logged)")
    unlock.add_argument("name")
    users.add_parser("list", help="list accounts (never passwords)")
    p.set_defaults(func=run)


def _password_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input",
    )


NO_TERMINAL = "no terminal to ask for a password; use --password-stdin"


def _terminal() -> bool:
    """Whether there is a terminal to ask on (getpass's /dev/tty, or standard input)."""
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return sys.stdin.isatty()
    os.close(fd)
    return True


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not _terminal():  # getpass would read standard input, warn, and fail at its end
        raise ValueError(NO_TERMINAL)
    try:
        first = getpass.getpass("password: ")
        if first != getpass.getpass("again: "):
            raise ValueError("the passwords differ")
    except EOFError:
        raise ValueError(NO_TERMINAL) from None
    return first


def _unlock(name: str) -> int:
    """Clear the sign-in throttle's failures of a user name; the decision log records it."""
    from serving import Entry, Record, Settings
    from serving.officer import SignInThrottle

    settings = Settings()
    record = Record(settings)
    try:
        cleared = SignInThrottle(record.db, settings.secret_key).unlock(name)
        record.audit.append(
            Entry(
                "officer_unlock",
                caller="cli",
                detail={"username": name, "failures_cleared": cleared},
            )
        )
    finally:
        record.close()
    print(json.dumps({"username": name, "unlocked": True, "failures_cleared": cleared}))
    return 0


def _checked_password(args: argparse.Namespace) -> str:
    """The password of ``add`` and ``reset``, read and checked (with the new account's name
    and role) before the record database is opened: a refusal creates nothing."""
    from serving.officer import UserStore

    password = _password(args.password_stdin)
    if args.users_command == "add":
        UserStore.check_new_account(args.name, password, args.role)
    else:
        UserStore.check_password(password)
    return password


def _change(args: argparse.Namespace, store: Any, password: str) -> dict[str, Any] | None:
    """Apply one account command; what changed (None: no such account)."""
    name = args.name
    if args.users_command == "add":
        user = store.add(name, password, args.role, args.officer_ref)
        return {
            "username": user.username,
            "role": user.role.value,
            "officer_ref": user.officer_ref,
            "created": True,
        }
    if args.users_command == "reset":
        changed = store.set_password(name, password)
        return {"username": name, "password_reset": True} if changed else None
    if args.users_command == "role":
        return {"username": name, "role": args.role} if store.set_role(name, args.role) else None
    if args.users_command == "enable":
        return {"username": name, "enabled": True} if store.enable(name) else None
    return {"username": name, "disabled": True} if store.disable(name) else None


def run(args: argparse.Namespace) -> int:
    from serving import Entry, Settings
    from serving.officer import UserError, UserStore

    from ._maintenance import open_record

    if args.users_command == "unlock":
        return _unlock(args.name)
    password = ""
    if args.users_command in ("add", "reset"):
        try:
            password = _checked_password(args)
        except (UserError, ValueError) as exc:  # nothing opened, nothing created
            print(f"error: {exc}", file=sys.stderr)
            return 2
    record = open_record(Settings(), must_exist=args.users_command != "add")
    if record is None:
        return 2
    try:
        store = UserStore(record.db)
        if args.users_command == "list":
            print(json.dumps(store.list(), indent=1))
            return 0
        changed = _change(args, store, password)
        if changed is None:
            what = (
                "disabled "
                if args.users_command == "enable"
                else ("active " if args.users_command == "disable" else "")
            )
            print(
                f"error: no {what}account named {args.name!r} in {record.settings.state_path}",
                file=sys.stderr,
            )
            return 1
        record.audit.append(
            Entry(f"officer_account_{args.users_command}", caller="cli", detail=changed)
        )
        print(json.dumps(changed))
    except (UserError, ValueError) as exc:  # a bad name, role or password, or a taken name
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        record.close()
    return 0
