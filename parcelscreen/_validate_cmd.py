"""``parcelscreen validate FILE``: check a file in any form and print every problem."""

from __future__ import annotations

import argparse
import json
import sys

from data_contracts import (
    ContractError,
    InspectionOutcome,
    ParcelDeclaration,
    iter_records,
    validate_records,
)

from ._args import existing_file


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("validate", help="check a declaration or outcome file against the contract")
    p.add_argument("file", type=existing_file, help=".json, .jsonl, .csv or .parquet")
    p.add_argument("--kind", choices=("declaration", "outcome"), default="declaration")
    p.add_argument("--format", choices=("text", "json"), default="text", dest="fmt")
    p.add_argument("--no-warnings", action="store_true", help="print errors only")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    model = ParcelDeclaration if args.kind == "declaration" else InspectionOutcome
    try:
        report = validate_records(model, iter_records(args.file, args.kind))
    except (ContractError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    problems = report.errors if args.no_warnings else report.problems
    summary = {
        "file": str(args.file),
        "records": report.records,
        "valid": len(report.valid),
        "rejected": len(report.rejected),
        "errors": len(report.errors),
        "warnings": len(report.warnings),
    }
    if args.fmt == "json":
        json.dump({"summary": summary, "problems": [p.as_dict() for p in problems]}, sys.stdout)
        print()
    else:
        for problem in problems:
            print(problem)
        print(", ".join(f"{k}: {v}" for k, v in summary.items()))
    return 0 if not report.rejected else 1
