"""``parcelscreen import SOURCE --mapping MAP.toml --out DIR``: a foreign export to contract
files, with a quarantine and a coverage report; ``--check`` tries the mapping on the first
rows and writes nothing."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ._args import existing_file, folder, whole

if TYPE_CHECKING:
    from training.importing import ImportReport


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "import",
        help="turn a foreign CSV, JSON Lines or Parquet export into "
        "contract files by a mapping (TOML)",
    )
    p.add_argument("source", type=existing_file, help=".csv, .jsonl or .parquet export")
    p.add_argument(
        "--mapping",
        type=existing_file,
        required=True,
        help="mapping file (TOML): columns, constants, codes, units, label",
    )
    p.add_argument(
        "--out",
        type=folder,
        default=None,
        help="folder for declarations.parquet, outcomes.parquet, quarantine.csv, "
        "import-report.json and provenance.json",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="write into an --out folder that holds files already (its import files are replaced)",
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="check the mapping against the first rows; write nothing",
    )
    p.add_argument("--rows", type=whole(1), default=200, help="rows --check reads (default 200)")
    p.set_defaults(func=run)


def _summary(report: ImportReport, shown: int) -> str:
    lines = [
        f"{report.rows} rows read, {report.imported} imported, {report.quarantined} quarantined"
    ]
    for reason in report.reasons[:shown]:
        lines.append(
            f"  {reason['rows']} rows: column {reason['column']} -> field "
            f"{reason['field']}: {reason['reason']}"
        )
    for name, codes in report.codes.items():
        lines.append(
            f"  codes {name}: {codes['codes_translated']} of {codes['codes_seen']} "
            f"codes translated"
            + (
                f", untranslated: {', '.join(codes['untranslated'])}"
                if codes["untranslated"]
                else ""
            )
        )
    if report.labels:
        lines.append("  labels: " + ", ".join(f"{k} {v}" for k, v in sorted(report.labels.items())))
    if report.unused_columns:
        lines.append("  source columns not mapped: " + ", ".join(report.unused_columns))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from training.importing import import_source, load_mapping

    if not args.check and args.out is None:
        print(
            "error: --out is required (or --check to try the mapping without writing)",
            file=sys.stderr,
        )
        return 2
    if not args.check and not args.overwrite and args.out.is_dir() and any(args.out.iterdir()):
        print(
            f"error: --out {args.out}: the folder holds files already; choose an empty or new "
            "folder, or add --overwrite to replace its import files",
            file=sys.stderr,
        )
        return 2
    mapping = load_mapping(args.mapping)  # MappingError: one error line, exit 2 (cli.main)
    out: Path | None = None if args.check else args.out
    report = import_source(args.source, mapping, out, limit=args.rows if args.check else None)
    print(_summary(report, 10), file=sys.stderr)
    if args.check:
        print(
            json.dumps(report.as_dict() | {"first_quarantined": report.quarantine[:10]}, indent=1)
        )
        return 0 if report.imported else 1
    print(
        json.dumps(
            {
                "out": str(out),
                "rows": report.rows,
                "imported": report.imported,
                "quarantined": report.quarantined,
            },
            indent=1,
        )
    )
    return 0 if report.imported else 1
