"""``parcelscreen screen MANIFEST --out DIR``: batch screening of a manifest (resumable)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from ._args import existing_file, existing_folder, folder, share, whole


def capacity(text: str) -> str:
    """An inspection capacity as ``Capacity.parse`` reads it (a share like 2%% or a count)."""
    from serving.batch import Capacity

    try:
        Capacity.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("screen", help="score a manifest (CSV, JSON Lines, Parquet) in batch")
    p.add_argument("manifest", type=existing_file,
                   help=".csv, .jsonl, .json or .parquet declarations")  # fmt: skip
    p.add_argument("--out", type=folder, required=True, help="output folder (also resume state)")
    p.add_argument("--model", type=existing_folder, default=None,
                   help="bundle folder (default: registry)")  # fmt: skip
    p.add_argument("--registry", type=Path, default=Path("runs/registry"))
    p.add_argument("--alias", default="champion", help="registry alias or version to load")
    p.add_argument("--capacity", type=capacity, default="2%",
                   help="inspection capacity: 2%% or 500 (items)")  # fmt: skip
    p.add_argument("--random-share", type=share, default=0.10,
                   help="share of the capacity for random control")  # fmt: skip
    p.add_argument("--history", type=existing_file, default=None,
                   help="SQLite history store, read as a snapshot (default: none)")  # fmt: skip
    p.add_argument("--chunk-rows", type=whole(1), default=50_000, help="records per chunk")
    p.add_argument("--csv", action="store_true", help="also write CSV copies of the results")
    p.add_argument("--explain-all", action="store_true", help="reasons for every row")
    p.add_argument("--fresh", action="store_true", help="discard the state of an earlier run")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--dask", action="store_true", help="run on a local Dask cluster")
    where.add_argument("--scheduler", default=None, help="Dask scheduler, tcp://HOST:PORT")
    p.add_argument("--workers", type=whole(1), default=2, help="workers of the local Dask cluster")
    p.add_argument("--as-of", type=as_of, default="now", dest="as_of",
                   help="reference time of the posting window: a record posted more than 90 "
                   "days before it or 2 days after it is quarantined (ISO date or time, UTC "
                   "unless it says otherwise; default: now, kept when the run resumes; for an "
                   "old manifest, a time at its end)")  # fmt: skip
    p.set_defaults(func=run)


def as_of(text: str) -> datetime | Literal["now"]:
    """``now``, or an ISO date or time (a date is its start, UTC; a time without an offset is
    UTC)."""
    if text == "now":
        return "now"
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'now' or an ISO date or time such as "
                                         f"2026-05-04, got {text!r}") from None  # fmt: skip
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def run(args: argparse.Namespace) -> int:
    from screening import ModelRegistry, ScreeningError
    from serving import KeySettings
    from serving.batch import BatchConfig, BatchError, Capacity, EngineSpec, screen

    from ._env_keys import keys_from_env

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    try:
        keys = keys_from_env(KeySettings)  # the development keys: refused in production
        capacity = Capacity.parse(args.capacity)
        if not 0 <= args.random_share <= 1 or args.chunk_rows < 1:
            raise ValueError("--random-share must be within 0-1 and --chunk-rows at least 1")
        if args.model is not None:
            bundle, version = args.model, args.model.name
        else:
            registry = ModelRegistry(args.registry)
            bundle, version = registry.load(args.alias), registry.resolve(args.alias)
        spec = EngineSpec.from_keys(
            keys, bundle, version, capacity=capacity.share or 0.02, random_share=args.random_share,
            history=str(args.history) if args.history else None,
        )  # fmt: skip
        config = BatchConfig(
            args.manifest, args.out, spec, capacity, args.chunk_rows, args.csv,
            args.explain_all, args.fresh,
            dask="local" if args.dask else args.scheduler, dask_workers=args.workers,
            as_of=args.as_of,
        )  # fmt: skip
        summary = screen(config)
    except BatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except (ValueError, ScreeningError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=1))
    return 0
