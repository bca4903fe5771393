"""``parcelscreen train``: train on a data directory and publish a bundle to the registry."""

from __future__ import annotations

import argparse
import json
import os
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from ._args import existing_file, existing_folder, folder, number, registry_of, whole


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("train", help="train a model and publish it to the registry")
    p.add_argument(
        "--data",
        type=existing_folder,
        default=Path("runs/data"),
        help="directory with declarations.parquet and outcomes.parquet",
    )
    p.add_argument(
        "--registry",
        type=folder,
        default=None,
        help="model registry (default: PARCELSCREEN_REGISTRY, else runs/registry)",
    )
    p.add_argument(
        "--truth",
        type=existing_file,
        default=None,
        help="simulator truth file: adds model-vs-oracle metrics (evaluation only)",
    )
    p.add_argument("--challenger", action="store_true", help="publish as challenger")
    p.add_argument(
        "--skip-validation",
        action="store_true",
        help="check the files' schema only, not every record",
    )
    p.add_argument("--gap-days", type=number(0), default=None, help="label-delay gap (days)")
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--dask", action="store_true", help="history replay and tree fit on a local Dask cluster"
    )
    where.add_argument(
        "--scheduler", default=None, help="the same on the Dask scheduler at tcp://HOST:PORT"
    )
    p.add_argument(
        "--workers", type=whole(1), default=None, help="workers of the local Dask cluster (2)"
    )
    ex = p.add_mutually_exclusive_group()
    ex.add_argument(
        "--exchange-config",
        type=existing_file,
        default=None,
        help="exchange settings (default: PARCELSCREEN_EXCHANGE_CONFIG); where set and the "
        "record database holds partners' indicators, the model reads the partner-seizure "
        "features (monotone: a partner's seizure can only raise a score)",
    )
    ex.add_argument(
        "--no-exchange",
        action="store_true",
        help="train without partner-seizure features even where the exchange is configured",
    )
    p.set_defaults(func=run)


def _exchange(args: argparse.Namespace, stack: ExitStack) -> tuple[bool, Any]:
    """(ok, the exchange source or None): none unless the exchange is configured and the
    record database holds partners' indicators; not ok (a message printed) where it is
    configured but cannot be used."""
    config = args.exchange_config or os.environ.get("PARCELSCREEN_EXCHANGE_CONFIG")
    if args.no_exchange or not config:
        return True, None
    from serving import Settings

    from ._exchange_source import exchange_source
    from ._maintenance import open_record

    record = open_record(Settings())
    if record is None:
        return False, None
    stack.callback(record.close)
    source = exchange_source(Path(config), record)
    if source is None:
        print(
            "no partners' indicators in the record database: training without the "
            "partner-seizure features",
            file=sys.stderr,
        )
    return True, source


def run(args: argparse.Namespace) -> int:
    from serving import PseudonymisationKeySettings
    from training import TrainConfig

    from ._env_keys import keys_from_env
    from ._models_cmd import env_signing_key

    if args.workers is not None and not args.dask:  # said, not ignored
        print(
            "error: --workers sets the workers of the local Dask cluster: use it with --dask "
            "(a --scheduler's cluster has the workers it was started with)",
            file=sys.stderr,
        )
        return 2
    config = TrainConfig() if args.gap_days is None else TrainConfig(gap_days=args.gap_days)
    try:  # read before training: a bad key fails in a second, not after the training
        key = keys_from_env(PseudonymisationKeySettings).pseudonymisation_key
        signing_key = env_signing_key()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from screening import ScreeningError

    with ExitStack() as stack:
        try:
            ok, exchange = _exchange(args, stack)
        except ScreeningError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        if not ok:
            return 2
        return _train(args, key, signing_key, config, exchange)


def _train(args: argparse.Namespace, key: str, signing_key: Any, config: Any, exchange: Any) -> int:
    from training import TrainingError, run_training

    try:
        result = run_training(
            args.data.resolve(),  # as a remote scheduler's workers must read it: absolute
            registry_of(args.registry),
            key,
            truth=args.truth,
            alias="challenger" if args.challenger else "champion",
            config=config,
            validate=not args.skip_validation,
            progress=lambda msg: print(msg, file=sys.stderr),
            signing_key=signing_key,
            dask="local" if args.dask else args.scheduler,
            dask_workers=args.workers or 2,
            exchange=exchange,
        )
    except (TrainingError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    summary = {
        "version": result.version,
        "bundle": str(result.bundle),
        "seconds": round(result.seconds, 1),
    }
    truth = result.metrics.get("truth")
    if truth:
        summary["model_to_oracle"] = truth["model_to_oracle"]
    print(json.dumps(summary, indent=1))
    return 0
