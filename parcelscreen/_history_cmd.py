"""``parcelscreen history load``: seed the service's entity history from past data;
``parcelscreen history prune``: delete what is past its retention period.

Declarations are pseudonymised with the service's key and replayed in time order with the
outcomes known at each moment, exactly as the service would have recorded them, then copied
into the configured history store (SQLite by default).
"""

from __future__ import annotations

import argparse
import json
import sys

from ._args import days, iso_time, parquet_of
from ._maintenance import open_record, record_and_print


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("history", help="manage the entity history store")
    history = p.add_subparsers(dest="history_command", required=True)
    load = history.add_parser("load", help="replay past declarations and outcomes into it")
    load.add_argument("declarations", type=parquet_of("declaration"), help="declarations (Parquet)")
    load.add_argument(
        "--outcomes", type=parquet_of("outcome"), default=None, help="outcomes (Parquet)"
    )
    load.add_argument(
        "--until",
        type=iso_time,
        default=None,
        help="ISO time: take parcels posted and outcomes recorded before it",
    )
    prune = history.add_parser(
        "prune",
        help="delete entities not seen within the retention "
        "period, their partner links and old item links",
    )
    prune.add_argument(
        "--days",
        type=days,
        default=None,
        help="retention in days (default: the history_retention_days setting)",
    )
    prune.add_argument(
        "--dry-run", action="store_true", help="count what would be deleted; delete nothing"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.history_command == "prune":
        return _prune(args)
    return _load(args)


def _prune(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime, timedelta

    from serving import Settings

    settings = Settings()
    days = settings.history_retention_days if args.days is None else args.days
    if days <= 0:
        print(
            "error: parcelscreen history prune: the retention period must be a positive "
            "number of days",
            file=sys.stderr,
        )
        return 2
    record = open_record(settings)
    if record is None:
        return 2
    cutoff = datetime.now(UTC) - timedelta(days=days)
    try:
        counts = record.history_backend.prune(
            int(cutoff.timestamp() * 1_000_000), dry_run=args.dry_run
        )
        from screening.exchange import FollowUps, PartnerStore  # partners' data past expiry

        today = datetime.now(UTC).date()
        counts = {
            **counts,
            **PartnerStore(record.db).prune(today, dry_run=args.dry_run),
            **FollowUps(record.db).prune(str(today), dry_run=args.dry_run),
        }
        result = {
            "dry_run": args.dry_run,
            "cutoff": cutoff.isoformat(),
            "backend": settings.history_store,
            "deleted": counts,
        }
        return record_and_print(record, "history_retention", result, args.dry_run)
    finally:
        record.close()


def _load(args: argparse.Namespace) -> int:
    from datetime import datetime

    import numpy as np
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from screening import (
        History,
        KnownOutcome,
        MemoryBackend,
        Pseudonymiser,
        copy_history,
        frame_from_table,
        replay,
    )
    from serving import Settings

    settings = Settings()
    table = pq.read_table(args.declarations)
    until = (
        None if args.until is None else int(datetime.fromisoformat(args.until).timestamp() * 1e6)
    )
    if until is not None:
        table = table.filter(pc.less(table.column("posted_at").cast("int64"), until))
    frame = frame_from_table(table, Pseudonymiser(settings.pseudonymisation_key))
    outcomes = []
    if args.outcomes:
        done = pq.read_table(args.outcomes).filter(pc.field("inspected"))
        if until is not None:
            done = done.filter(pc.less(done.column("recorded_at").cast("int64"), until))
        recorded = done.column("recorded_at").cast("int64").to_numpy()
        results = done.column("result").to_pylist()
        outcomes = [
            KnownOutcome(str(i), int(t), r == "seized", r != "seized")
            for i, t, r in zip(done.column("item_id").to_pylist(), recorded, results, strict=True)
        ]
    memory = MemoryBackend()
    history = History(memory)
    replay(frame, outcomes, history)
    last = int(np.max(frame.posted_us)) if len(frame) else np.iinfo(np.int64).min
    for o in sorted(outcomes, key=lambda o: o.known_us):  # known by now, though after the
        if o.known_us >= last:  # last parcel: applied all the same (a later one corrects)
            history.correct_outcome(o.item_id, o.seized, o.clean)
    record = open_record(settings, must_exist=False)
    if record is None:
        return 2
    try:
        parcels = copy_history(memory, record.history_backend)
    finally:
        record.close()
    seizures = int(np.sum([o.seized for o in outcomes])) if outcomes else 0
    print(
        json.dumps(
            {
                "parcels": parcels,
                "outcomes": len(outcomes),
                "seizures": seizures,
                "backend": settings.history_store,
            }
        )
    )
    print("history loaded", file=sys.stderr)
    return 0
