"""``parcelscreen screen MANIFEST --out DIR``: batch screening of a manifest (resumable)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ._args import existing_file, existing_folder, folder, registry_of, share, whole

if TYPE_CHECKING:
    from serving import Settings


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
    p.add_argument(
        "manifest", type=existing_file, help=".csv, .jsonl, .json or .parquet declarations"
    )
    p.add_argument("--out", type=folder, required=True, help="output folder (also resume state)")
    p.add_argument(
        "--model", type=existing_folder, default=None, help="bundle folder (default: registry)"
    )
    p.add_argument(
        "--registry",
        type=Path,
        default=None,
        help="model registry (default: PARCELSCREEN_REGISTRY, else runs/registry)",
    )
    p.add_argument("--alias", default="champion", help="registry alias or version to load")
    p.add_argument(
        "--capacity", type=capacity, default="2%", help="inspection capacity: 2%% or 500 (items)"
    )
    p.add_argument(
        "--random-share", type=share, default=0.10, help="share of the capacity for random control"
    )
    p.add_argument(
        "--history",
        type=existing_file,
        default=None,
        help="SQLite history store, read as a snapshot (default: none)",
    )
    p.add_argument("--chunk-rows", type=whole(1), default=50_000, help="records per chunk")
    p.add_argument("--csv", action="store_true", help="also write CSV copies of the results")
    p.add_argument("--explain-all", action="store_true", help="reasons for every row")
    p.add_argument("--fresh", action="store_true", help="discard the state of an earlier run")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--dask", action="store_true", help="run on a local Dask cluster")
    where.add_argument("--scheduler", default=None, help="Dask scheduler, tcp://HOST:PORT")
    p.add_argument("--workers", type=whole(1), default=2, help="workers of the local Dask cluster")
    p.add_argument(
        "--as-of",
        type=as_of,
        default="now",
        dest="as_of",
        help="reference time of the posting window: a record posted more than 90 "
        "days before it or 2 days after it is quarantined (ISO date or time, UTC "
        "unless it says otherwise; default: now, kept when the run resumes; for an "
        "old manifest, a time at its end)",
    )
    record = p.add_mutually_exclusive_group()
    record.add_argument(
        "--data-dir",
        type=existing_folder,
        default=None,
        help="folder of the record database (state.sqlite) the decisions are "
        "recorded in when the run completes (default: PARCELSCREEN_DATA_DIR, "
        "or PARCELSCREEN_STATE_DB; the service's own)",
    )
    record.add_argument(
        "--no-record",
        action="store_true",
        help="write the output files only: record no decision (they then "
        "reach no officer's worklist)",
    )
    p.add_argument(
        "--exchange-config",
        type=existing_file,
        default=None,
        help="exchange settings, for a model that reads the partner-seizure features "
        "(default: PARCELSCREEN_EXCHANGE_CONFIG)",
    )
    p.set_defaults(func=run)


def as_of(text: str) -> datetime | Literal["now"]:
    """``now``, or an ISO date or time (a date is its start, UTC; a time without an offset is
    UTC)."""
    if text == "now":
        return "now"
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected 'now' or an ISO date or time such as 2026-05-04, got {text!r}"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _record_settings(data_dir: Path | None) -> Settings:
    """The service's settings, whose record database the run's decisions go to; refused
    (naming where it looked) where none exists: a new empty one would be a record no
    service reads."""
    from serving import Settings, check_not_legacy

    settings = Settings(data_dir=data_dir) if data_dir is not None else Settings()
    path = settings.state_path
    if settings.database_url:  # the record is in PostgreSQL: state.sqlite is not used
        return settings
    if not path.is_file():
        where = (
            "--data-dir"
            if data_dir is not None
            else "PARCELSCREEN_STATE_DB"
            if settings.state_db
            else "PARCELSCREEN_DATA_DIR"
            if "PARCELSCREEN_DATA_DIR" in os.environ
            else "the default PARCELSCREEN_DATA_DIR"
        )
        raise ValueError(
            f"no record database at {path} (from {where}); point "
            "PARCELSCREEN_DATA_DIR or --data-dir at the service's folder (the "
            "one holding state.sqlite), or pass --no-record to write the files "
            "only"
        )
    check_not_legacy(settings)
    return settings


RECORD_HISTORY = "history-of-record.sqlite"  # the history read from PostgreSQL, while running


def _record_history(settings: Settings, out: Path, fresh: bool) -> Path | None:
    """The entity history the run takes its snapshot of: the record's ``state.sqlite``, or,
    where the history is in PostgreSQL, a copy of it in the run's folder (made when the run
    starts, kept while it resumes); None for Redis (not read by batch runs)."""
    if settings.history_store == "sqlite":
        return settings.state_path  # the entity history is a table of it
    if settings.history_store != "postgresql":
        return None
    copy = out / RECORD_HISTORY
    if copy.is_file() and not fresh:
        return copy
    from serving import Record

    out.mkdir(parents=True, exist_ok=True)
    copy.unlink(missing_ok=True)
    record = Record(settings, must_exist=True)
    try:
        record.history_backend.copy_to_sqlite(copy)
    finally:
        record.close()
    return copy


def run(args: argparse.Namespace) -> int:
    from screening import ModelRegistry, ScreeningError
    from serving import KeySettings
    from serving.batch import BatchConfig, BatchError, Capacity, EngineSpec, screen

    from ._env_keys import keys_from_env

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    stack = ExitStack()
    try:
        keys = keys_from_env(KeySettings)  # the development keys: refused in production
        capacity = Capacity.parse(args.capacity)
        if not 0 <= args.random_share <= 1 or args.chunk_rows < 1:
            raise ValueError("--random-share must be within 0-1 and --chunk-rows at least 1")
        settings = None if args.no_record else _record_settings(args.data_dir)
        history = args.history
        if history is None and settings is not None:
            history = _record_history(settings, args.out, args.fresh)
        if args.model is not None:
            bundle, version = args.model, args.model.name
        else:
            path = registry_of(args.registry)
            if not path.is_dir():
                raise ValueError(
                    f"no model registry at {path}: the folder does not exist "
                    "(--registry, or PARCELSCREEN_REGISTRY; `parcelscreen "
                    "train` makes one)"
                )
            registry = ModelRegistry(path)
            bundle, version = registry.load(args.alias), registry.resolve(args.alias)
        _partners(args, bundle, settings, stack)
        spec = EngineSpec.from_keys(
            keys,
            bundle,
            version,
            capacity=capacity.share or 0.02,
            random_share=args.random_share,
            history=str(history) if history else None,
        )
        config = BatchConfig(
            args.manifest,
            args.out,
            spec,
            capacity,
            args.chunk_rows,
            args.csv,
            args.explain_all,
            args.fresh,
            dask="local" if args.dask else args.scheduler,
            dask_workers=args.workers,
            as_of=args.as_of,
            record=settings,
        )
        summary = screen(config)
        (args.out / RECORD_HISTORY).unlink(missing_ok=True)  # the run's snapshot is done
    except BatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except (ValueError, ScreeningError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        stack.close()
    print(json.dumps(summary, indent=1))
    return 0


def _partners(
    args: argparse.Namespace, bundle: Path, settings: Settings | None, stack: ExitStack
) -> None:
    """For a model that reads the partner-seizure features: the exchange source of this
    process's batch engines (the exchange settings and the record database's partners'
    indicators), or a warning that every parcel is scored without partners' hits."""
    from serving import Record
    from serving import Settings as ServiceSettings
    from serving.batch import use_exchange

    from ._exchange_source import exchange_source, reads_exchange

    use_exchange(None)
    if not reads_exchange(bundle):
        return
    config = args.exchange_config or os.environ.get("PARCELSCREEN_EXCHANGE_CONFIG")
    if not config:
        print(
            "warning: the model reads the partner-seizure features but no exchange is "
            "configured (--exchange-config or PARCELSCREEN_EXCHANGE_CONFIG): every parcel is "
            "scored without partners' hits, and its reasons say so",
            file=sys.stderr,
        )
        return
    record = Record(settings or ServiceSettings(), must_exist=True)
    stack.callback(record.close)
    stack.callback(use_exchange, None)
    use_exchange(exchange_source(Path(config), record, require_indicators=False))
