"""``parcelscreen state``: ``prune`` deletes scored parcels and outcomes past their retention;
``check`` cross-checks every store of the record database."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from ._maintenance import open_record, record_and_print

if TYPE_CHECKING:
    from serving import Settings


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("state", help="manage the service's state database")
    state = p.add_subparsers(dest="state_command", required=True)
    prune = state.add_parser(
        "prune",
        help="delete scored parcels, outcomes, feedback, claims, case records and "
        "attachments past their retention periods, and record the prune in the decision "
        "log",
    )
    prune.add_argument(
        "--days",
        type=float,
        default=None,
        help="retention of parcels never inspected, in days "
        "(default: the parcel_retention_days setting)",
    )
    prune.add_argument(
        "--labelled-days",
        type=float,
        default=None,
        help="retention of inspected parcels and their outcomes, in days "
        "(default: the labelled_retention_days setting)",
    )
    prune.add_argument(
        "--dry-run", action="store_true", help="count what would be deleted; delete nothing"
    )
    state.add_parser(
        "check",
        help="cross-check every store: each decision has its result, officer copy, "
        "decision-log record and one history item; the chain verifies; SQLite's integrity "
        "check is ok (exit 1 naming each mismatch)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from serving import Settings, prune_state

    settings = Settings()
    if args.state_command == "check":
        return _check(settings)
    parcel_days = settings.parcel_retention_days if args.days is None else args.days
    labelled_days = (
        settings.labelled_retention_days if args.labelled_days is None else args.labelled_days
    )
    if parcel_days <= 0 or labelled_days <= 0:
        print(
            "error: parcelscreen state prune: retention periods must be positive numbers of days",
            file=sys.stderr,
        )
        return 2
    record = open_record(settings)
    if record is None:
        return 2
    try:
        result = prune_state(record.db, parcel_days, labelled_days, dry_run=args.dry_run)
        return record_and_print(record, "retention", result, args.dry_run)
    finally:
        record.close()


def _check(settings: Settings) -> int:
    from serving import check_record

    record = open_record(settings)
    if record is None:
        return 2
    try:
        report = check_record(record)
    finally:
        record.close()
    print(json.dumps(report.as_dict(), indent=1))
    return 0 if report.ok else 1
