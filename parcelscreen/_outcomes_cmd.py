"""``parcelscreen outcomes export``: the stored outcomes and pseudonymised declarations as the
next training data set (``parcelscreen train --data DIR`` takes the folder as it is)."""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from ._args import folder

if TYPE_CHECKING:
    from serving import Settings


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("outcomes", help="stored inspection outcomes")
    outcomes = p.add_subparsers(dest="outcomes_command", required=True)
    export = outcomes.add_parser("export", help="write declarations.parquet + outcomes.parquet")
    export.add_argument("--out", type=folder, required=True, help="folder to write")
    imports = outcomes.add_parser(
        "import",
        help="record inspection outcomes from a file (JSON, JSON Lines, CSV or "
        "Parquet), each as POST /v1/outcomes does: outcome, history link and decision-log "
        "record in one transaction; the service sees them at once. Outcomes are append-only: "
        "an item's second outcome is refused unless it corrects the current one (corrects, "
        "correction_reason: JSON forms only)",
    )
    imports.add_argument("outcomes", type=Path, help="file of inspection outcomes")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from serving import Settings
    from serving.officer import export_training_data

    if args.outcomes_command == "import":
        return _import(args.outcomes, Settings())
    settings = Settings()
    if settings.database_url:  # the record in PostgreSQL
        from serving import open_record_database

        db = open_record_database(settings)
        try:
            print(json.dumps(export_training_data(db, args.out)))
        finally:
            db.close()
        return 0
    print(json.dumps(export_training_data(settings.state_path, args.out)))
    return 0


def _import(path: Path, settings: Settings) -> int:
    """Record every valid outcome; problems to stderr; 1 if any record was refused."""
    from data_contracts import InspectionOutcome, iter_records, validate_records
    from serving import OutcomeConflict

    from ._maintenance import open_record

    if not path.is_file():
        print(f"error: no file {path}", file=sys.stderr)
        return 2
    record = open_record(settings)
    if record is None:
        return 2
    report = validate_records(InspectionOutcome, iter_records(path, "outcome"))
    batch = f"import-{uuid.uuid4().hex[:12]}"
    linked = recorded = conflicts = 0
    try:
        for n, (_, outcome) in enumerate(report.valid):
            try:
                done = record.record_outcome(outcome, "cli", f"{batch}-{n}")
            except OutcomeConflict as exc:  # refused, as the API answers 409; the rest go on
                print(f"refused: {exc.message}", file=sys.stderr)
                conflicts += 1
                continue
            recorded += 1
            linked += int(done["linked_to_history"])
    finally:
        record.close()
    for problem in report.errors:
        print(problem, file=sys.stderr)
    print(
        json.dumps(
            {
                "recorded": recorded,
                "linked_to_history": linked,
                "refused": len(report.rejected) + conflicts,
            }
        )
    )
    return 1 if report.rejected or conflicts else 0
