"""``parcelscreen db upgrade``: bring an older release's stores into the record database."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from serving import Settings


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("db", help="the record database's schema and older stores")
    db = p.add_subparsers(dest="db_command", required=True)
    upgrade = db.add_parser(
        "upgrade",
        help="merge an older release's audit.sqlite and history.sqlite into the "
        "record database (with the service stopped); each merged file is renamed *.merged",
    )
    upgrade.add_argument(
        "files",
        type=Path,
        nargs="*",
        help="older files to merge (default: audit.sqlite and history.sqlite "
        "beside the record database, where they exist)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from serving import Settings, UpgradeError, merge_legacy

    settings = Settings()
    if settings.database_url:
        if args.files:  # merging older SQLite files into PostgreSQL is not built: say so
            print(
                "error: the record is in PostgreSQL (PARCELSCREEN_DATABASE_URL): `db upgrade` "
                "applies its schema migrations only; merging an older release's SQLite files "
                f"({', '.join(str(f) for f in args.files)}) into PostgreSQL is not supported: "
                "nothing was done. Run `db upgrade` without files",
                file=sys.stderr,
            )
            return 2
        return _migrate(settings)
    files = list(args.files) or settings.legacy_stores
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        print(f"error: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    if not files:
        print(json.dumps({"merged": [], "note": "nothing to upgrade"}))
        return 0
    try:
        print(json.dumps(merge_legacy(settings.state_path, files)))
    except UpgradeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _migrate(settings: Settings) -> int:
    """PARCELSCREEN_DATABASE_URL: apply the schema migrations the record lacks."""
    from screening import PostgresDatabase, StoreUnavailable
    from serving import upgrade_schema

    assert settings.database_url is not None
    try:
        db = PostgresDatabase(
            settings.database_url,
            settings.database_schema,
            lock_timeout=settings.lock_timeout,
            create_schema=True,
        )
    except StoreUnavailable as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    try:
        print(json.dumps(upgrade_schema(db)))
    except StoreUnavailable as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    finally:
        db.close()
    return 0
