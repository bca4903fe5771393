"""``parcelscreen run``: the main job on embedded defaults, end to end.

Simulates a data set, trains and publishes a model, screens the simulated declarations as a
batch manifest (its decisions recorded, so they reach the officer's worklist), makes an
officer account for the demo and prints how to sign in, makes one API key per role, and
serves on 127.0.0.1: SQLite and local files under ``--workdir``, nothing else needed.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ._args import folder, port
from ._simulate_cmd import config_value


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("run", help="simulate, train, screen, then serve (embedded defaults)")
    p.add_argument("--workdir", type=folder, default=Path("runs"), help="where everything goes")
    p.add_argument(
        "--parcels", type=config_value("parcels", int), default=200_000, help="simulated parcels"
    )
    p.add_argument(
        "--prevalence",
        type=config_value("prevalence", float),
        default=0.005,
        help="share of drug parcels in the simulated flow (default 0.005, a stress "
        "setting ten times the simulator's realistic 0.0005, so that a demo-sized "
        "data set holds enough seizures to train on)",
    )
    p.add_argument("--port", type=port, default=8000, help="port of the service on 127.0.0.1")
    p.add_argument("--no-serve", action="store_true", help="stop after screening")
    p.set_defaults(func=run)


def _last_week(data: Path) -> tuple[Path, str, str]:
    """Split off the last 7 days of simulated declarations as today's manifest; return it,
    the time it starts from and the last posting time in it (the screen's reference time:
    the simulated days lie in the past)."""
    from datetime import UTC, timedelta

    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(data / "declarations.parquet")
    last = pc.max(table.column("posted_at")).as_py()
    split = (last - timedelta(days=7)).replace(hour=0, minute=0, second=0, microsecond=0)
    split = split.astimezone(UTC) if split.tzinfo else split.replace(tzinfo=UTC)
    manifest = data / "manifest.parquet"
    pq.write_table(table.filter(pc.greater_equal(table.column("posted_at"), split)), manifest)
    return manifest, split.isoformat(), last.isoformat()


DEMO_OFFICER = "demo-officer"


def _demo_officer(port: int) -> None:
    """An officer account for the demo, with a new random password each run, and how to
    sign in with it (logged as every account change is)."""
    import secrets

    from serving import Entry, Settings
    from serving.officer import UserStore

    from ._maintenance import open_record

    record = open_record(Settings(), must_exist=True)
    if record is None:
        return
    password = secrets.token_urlsafe(12)
    try:
        store = UserStore(record.db)
        if store.exists(DEMO_OFFICER):  # run again: a new password, the account enabled
            store.set_password(DEMO_OFFICER, password)
            store.enable(DEMO_OFFICER)
            kind = "officer_account_reset"
        else:
            store.add(DEMO_OFFICER, password, "officer", "DEMO-OFFICER")
            kind = "officer_account_add"
        record.audit.append(
            Entry(kind, caller="cli", detail={"username": DEMO_OFFICER, "by": "parcelscreen run"})
        )
    finally:
        record.close()
    print(
        f"officer view: http://127.0.0.1:{port}/officer\n"
        f"  user name: {DEMO_OFFICER}\n  password:  {password}\n"
        "  (a demo account: make your own with `parcelscreen users add NAME`, a new "
        f"password with `parcelscreen users reset {DEMO_OFFICER}`)"
    )


def _step(title: str) -> None:
    print(f"\n== {title}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from .cli import main

    work: Path = args.workdir
    os.environ.setdefault("PARCELSCREEN_REGISTRY", str(work / "registry"))
    os.environ.setdefault("PARCELSCREEN_DATA_DIR", str(work / "serving"))
    data = work / "data"
    registry = os.environ["PARCELSCREEN_REGISTRY"]
    # the entity history is a set of tables of the record database; the batch run reads a
    # consistent copy of it (SQLite's backup), never its files
    history = Path(os.environ["PARCELSCREEN_DATA_DIR"]) / "state.sqlite"
    for title, argv in [
        (
            "simulate",
            [
                "simulate",
                "--out",
                str(data),
                "--parcels",
                str(args.parcels),
                "--prevalence",
                str(args.prevalence),
            ],
        ),
        (
            "train",
            [
                "train",
                "--data",
                str(data),
                "--registry",
                registry,
                "--truth",
                str(data / "truth.parquet"),
            ],
        ),
    ]:
        _step(f"{title}: parcelscreen {' '.join(argv)}")
        status = main(argv)
        if status:
            if title == "train":  # most often too few seizures in a small simulated flow
                print(
                    f"note: run simulated {args.parcels} parcels at prevalence {args.prevalence}; "
                    "if training found too few seizures, raise --parcels (200,000 by default) "
                    "or --prevalence",
                    file=sys.stderr,
                )
            return status
    manifest, split, last = _last_week(data)
    for title, argv in [
        (
            "history",
            [
                "history",
                "load",
                str(data / "declarations.parquet"),
                "--outcomes",
                str(data / "outcomes.parquet"),
                "--until",
                split,
            ],
        ),
        (
            "screen",
            [
                "screen",
                str(manifest),
                "--out",
                str(work / "screened"),
                "--registry",
                registry,
                "--history",
                str(history),
                "--fresh",
                "--as-of",
                last,
            ],
        ),
    ]:
        _step(f"{title}: parcelscreen {' '.join(argv)}")
        status = main(argv)
        if status:
            return status
    _step("officer view account (password shown once)")
    _demo_officer(args.port)
    if args.no_serve:
        return 0
    _step("API keys (shown once)")
    for role in ("sorter", "officer", "admin"):
        main(["keys", "create", "--role", role, "--name", f"parcelscreen run ({role})"])
    _step(f"serving on http://127.0.0.1:{args.port} (Ctrl-C to stop)")
    return main(["serve", "--port", str(args.port)])
