"""``parcelscreen audit``: verify the decision log's hash chain; prune past retention."""

from __future__ import annotations

import argparse
import json


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("audit", help="check or prune the decision log")
    audit = p.add_subparsers(dest="audit_command", required=True)
    audit.add_parser("verify", help="recompute the hash chain; exit 1 naming broken records")
    prune = audit.add_parser("prune", help="delete records older than the retention period "
                             "and record a checkpoint in the chain")  # fmt: skip
    prune.add_argument("--days", type=float, default=None,
                       help="retention in days (default: the retention_days setting)")  # fmt: skip
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from serving import DecisionLog, Settings

    settings = Settings()
    log = DecisionLog(settings.audit_path)
    if args.audit_command == "verify":
        report = log.verify()
        print(json.dumps(report.as_dict(), indent=1))
        return 0 if report.ok else 1
    days = settings.retention_days if args.days is None else args.days
    print(json.dumps(log.prune(days, caller="cli")))
    return 0
