"""``parcelscreen audit``: verify the decision log's hash chain (and its head against the head
anchor); prune past retention; export it with its head; record an operator's override of a
log behind its anchor; compute the keyed input hashes of declarations, to match them with the
log's records."""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ._args import days, existing_file
from ._maintenance import open_record

if TYPE_CHECKING:
    from serving import Record, StoreUnavailable


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("audit", help="check or prune the decision log")
    audit = p.add_subparsers(dest="audit_command", required=True)
    audit.add_parser(
        "verify",
        help="recompute the hash chain and compare the head with its "
        "anchor; exit 1 naming broken records, or a damaged file",
    )
    export = audit.add_parser(
        "export", help="write the log as JSON Lines, the head and its anchor first"
    )
    export.add_argument("--out", type=Path, required=True, help="file to write")
    reanchor = audit.add_parser(
        "reanchor",
        help="accept a log that is behind its head anchor (a restore from a "
        "backup): record the override and the reason in the log, and move the anchor",
    )
    reanchor.add_argument("--reason", required=True, help="why (recorded in the log)")
    prune = audit.add_parser(
        "prune",
        help="delete records older than the retention period and record a checkpoint in the chain",
    )
    prune.add_argument(
        "--days",
        type=days,
        default=None,
        help="retention in days (default: the retention_days setting)",
    )
    hashes = audit.add_parser(
        "input-hash",
        help="print each declaration's item ID and keyed "
        "input hash, as the decision log records them",
    )
    hashes.add_argument(
        "declarations", type=existing_file, help="declarations (JSON, JSON Lines, CSV or Parquet)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from serving import Settings

    settings = Settings()
    if args.audit_command == "input-hash":
        return _input_hashes(args.declarations, settings.pseudonymisation_key)
    from serving import StoreUnavailable

    try:
        record = open_record(settings)
    except StoreUnavailable as exc:  # a file that is not a database, or damaged past opening
        return _unavailable(settings.state_path, exc)
    if record is None:
        return 2
    try:
        if args.audit_command == "verify":
            return _verify(record)
        if args.audit_command == "export":
            print(json.dumps(record.audit.export(args.out)))
            return 0
        if args.audit_command == "reanchor":
            if not args.reason.strip():
                print("error: --reason must say why the log is accepted", file=sys.stderr)
                return 2
            print(json.dumps(record.audit.reanchor(args.reason.strip()[:500])))
            return 0
        days = settings.retention_days if args.days is None else args.days
        print(json.dumps(record.audit.prune(days, caller="cli")))
        return 0
    except StoreUnavailable as exc:
        return _unavailable(settings.state_path, exc)
    finally:
        record.close()


def _unavailable(path: Path, exc: StoreUnavailable) -> int:
    """A damaged file: named, exit 1 (the log fails verification); a store busy, full or
    read-only: exit 2 (nothing was checked)."""
    from screening import store_damaged

    if exc.__cause__ is not None and store_damaged(exc.__cause__):
        print(
            f"error: the record database {path} is damaged ({exc.__cause__}): the decision "
            "log in it cannot be read whole; restore it from a backup",
            file=sys.stderr,
        )
        return 1
    print(f"error: {path}: {exc.message}", file=sys.stderr)
    return 2


def _verify(record: Record) -> int:
    """The chain's report (exit 1 if broken); a damaged file is named, exit 1."""
    from serving import quick_check

    integrity = quick_check(record.db)
    if integrity != ["ok"]:
        print(
            f"error: the record database {record.db.path} is damaged (malformed): SQLite's "
            f"quick_check says {'; '.join(integrity[:5])}; the decision log in it cannot "
            "be verified: restore it from a backup",
            file=sys.stderr,
        )
        return 1
    report = record.audit.verify()
    print(json.dumps(report.as_dict(), indent=1))
    return 0 if report.ok else 1


def _input_hashes(path: Path, pseudonymisation_key: str) -> int:
    """One JSON line per valid declaration; problems to stderr; 1 if any record was invalid."""
    from data_contracts import ParcelDeclaration, iter_records, validate_records
    from serving import canonical_json, input_hash, input_key

    key = input_key(pseudonymisation_key)
    report = validate_records(ParcelDeclaration, iter_records(path, "declaration"))
    for _, decl in report.valid:
        record = decl.model_dump(mode="json")
        print(
            json.dumps(
                {  # records written before the hash was keyed hold the plain one
                    "item_id": decl.item_id,
                    "input_hash": input_hash(record, key),
                    "unkeyed_sha256": hashlib.sha256(canonical_json(record).encode()).hexdigest(),
                }
            )
        )
    for problem in report.errors:
        print(problem, file=sys.stderr)
    return 1 if report.rejected else 0
