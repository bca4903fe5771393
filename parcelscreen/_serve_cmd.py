"""``parcelscreen serve``: the scoring service under uvicorn on 127.0.0.1 (settings from env)."""

from __future__ import annotations

import argparse
import os
import sys


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="run the HTTP scoring service (PARCELSCREEN_* settings)")
    p.add_argument("--port", type=int, default=None, help="TCP port (default: the port setting)")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes (default: the workers setting, 1)")  # fmt: skip
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn
    from pydantic import ValidationError

    from serving import Settings, create_app

    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"error: refusing to start: {exc}", file=sys.stderr)
        return 2
    if args.port is not None:
        settings = settings.model_copy(update={"port": args.port})
    workers = args.workers or settings.workers
    if workers > 1:  # each worker builds its app from the environment
        os.environ["PARCELSCREEN_WORKERS"] = str(workers)
        uvicorn.run("serving:app_from_env", factory=True, workers=workers, host=settings.host,
                    port=settings.port, log_level="info", access_log=False)  # fmt: skip
        return 0
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port,
                log_level="info", access_log=False)  # fmt: skip
    return 0
