"""``parcelscreen audit``: verify the decision log's hash chain; prune past retention; compute
the keyed input hashes of declarations, to match them with the log's records."""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from ._args import days, existing_file
from ._maintenance import open_record


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("audit", help="check or prune the decision log")
    audit = p.add_subparsers(dest="audit_command", required=True)
    audit.add_parser("verify", help="recompute the hash chain; exit 1 naming broken records")
    prune = audit.add_parser("prune", help="delete records older than the retention period "
                             "and record a checkpoint in the chain")  # fmt: skip
    prune.add_argument("--days", type=days, default=None,
                       help="retention in days (default: the retention_days setting)")  # fmt: skip
    hashes = audit.add_parser("input-hash", help="print each declaration's item ID and keyed "
                              "input hash, as the decision log records them")  # fmt: skip
    hashes.add_argument("declarations", type=existing_file,
                        help="declarations (JSON, JSON Lines, CSV or Parquet)")  # fmt: skip
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from serving import Settings

    settings = Settings()
    if args.audit_command == "input-hash":
        return _input_hashes(args.declarations, settings.pseudonymisation_key)
    record = open_record(settings)
    if record is None:
        return 2
    try:
        if args.audit_command == "verify":
            report = record.audit.verify()
            print(json.dumps(report.as_dict(), indent=1))
            return 0 if report.ok else 1
        days = settings.retention_days if args.days is None else args.days
        print(json.dumps(record.audit.prune(days, caller="cli")))
        return 0
    finally:
        record.close()


def _input_hashes(path: Path, pseudonymisation_key: str) -> int:
    """One JSON line per valid declaration; problems to stderr; 1 if any record was invalid."""
    from data_contracts import ParcelDeclaration, iter_records, validate_records
    from serving import input_hash, input_key
    from serving._audit import canonical_json

    key = input_key(pseudonymisation_key)
    report = validate_records(ParcelDeclaration, iter_records(path, "declaration"))
    for _, decl in report.valid:
        record = decl.model_dump(mode="json")
        print(json.dumps({  # records written before the hash was keyed hold the plain one
            "item_id": decl.item_id, "input_hash": input_hash(record, key),
            "unkeyed_sha256": hashlib.sha256(canonical_json(record).encode()).hexdigest()}))
    for problem in report.errors:
        print(problem, file=sys.stderr)
    return 1 if report.rejected else 0
