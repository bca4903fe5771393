"""``parcelscreen serve``: the scoring service under uvicorn on 127.0.0.1 (settings from env)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import TYPE_CHECKING, Any

from . import _listen
from ._args import port, whole

if TYPE_CHECKING:
    from serving import Settings


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="run the HTTP scoring service (PARCELSCREEN_* settings)")
    p.add_argument("--port", type=port, default=None, help="TCP port (default: the port setting)")
    p.add_argument(
        "--workers",
        type=whole(1),
        default=None,
        help="worker processes (default: the workers setting, 1)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from serving import Settings, SettingsError, StoreRefused, check_at_start, create_app

    try:
        settings = Settings()
    except SettingsError as exc:
        print(f"error: refusing to start: {exc}", file=sys.stderr)
        return 2
    try:  # once for every worker: SQLite's quick_check, the decision log against its anchor
        check_at_start(settings)
    except StoreRefused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if settings.legacy_stores:
        from serving import LegacyStores, check_not_legacy

        try:
            check_not_legacy(settings)
        except LegacyStores as exc:
            print(f"error: refusing to start: {exc}", file=sys.stderr)
            return 2
    if args.port is not None:
        settings = settings.model_copy(update={"port": args.port})
    workers = args.workers or settings.workers
    if workers > 1:  # each worker builds its app from the environment
        os.environ["PARCELSCREEN_WORKERS"] = str(workers)
        return serve_workers(
            "serving:app_from_env",
            settings.host,
            settings.port,
            workers,
            settings.forwarded_allow_ips,
            uvicorn_options(settings),
        )
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="info",
        access_log=False,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        **uvicorn_options(settings),
    )
    return 0


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options for every ``serve``: the httptools parser with limits on request
    heads and their time (``_protocol``), on idle connections and on requests in progress."""
    from ._protocol import HttpLimits, limited_protocol

    limits = HttpLimits(
        settings.max_header_bytes,
        settings.max_headers,
        settings.header_timeout,
        settings.body_timeout,
    )
    return {
        "http": limited_protocol(limits),
        "timeout_keep_alive": settings.keep_alive_timeout,
        "limit_concurrency": settings.max_concurrency,
    }


def serve_workers(
    app: str,
    host: str,
    port: int,
    workers: int,
    forwarded_allow_ips: str = "",
    options: dict[str, Any] | None = None,
) -> int:
    """Run the app factory ``app`` ("module:function") in ``workers`` processes under uvicorn's
    supervisor, each listening on a socket of its own where the kernel balances them.
    ``forwarded_allow_ips``: the proxies whose ``X-Forwarded-For`` uvicorn trusts (empty: none;
    uvicorn's own default trusts loopback, where anyone on the host may send the header).
    ``options``: more of uvicorn's options (default: ``uvicorn_options`` of the settings in the
    environment)."""
    import uvicorn

    if options is None:
        from serving import Settings

        options = uvicorn_options(Settings())
    if not _listen.AVAILABLE:
        uvicorn.run(
            app,
            factory=True,
            workers=workers,
            host=host,
            port=port,
            log_level="info",
            access_log=False,
            forwarded_allow_ips=forwarded_allow_ips,
            **options,
        )
        return 0
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config(
        app,
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_level="info",
        access_log=False,
        forwarded_allow_ips=forwarded_allow_ips,
        **options,
    )
    try:
        sock = _listen.supervisor_socket(host, port)
    except OSError as exc:
        print(f"error: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
        return 1
    logging.getLogger("uvicorn.error").info(
        "parcelscreen serving on http://%s:%d with %d workers, one socket each",
        host,
        sock.getsockname()[1],
        workers,
    )
    Multiprocess(config, sockets=[sock]).run()
    return 0
