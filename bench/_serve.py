"""Start-and-wait for the benchmarks that run the service in processes of its own (http,
chaos, abuse): a free port, and a wait until the service answers ready."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

HOST = "127.0.0.1"


def free_port(host: str = HOST) -> int:
    """A port nobody listens on now (the service binds it next)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_ready(
    url: str,
    proc: subprocess.Popen[Any],
    timeout: float = 120,
    log: Path | None = None,
    every: float = 0.1,
) -> None:
    """Poll ``url``'s ``/v2/health/ready`` until it answers 200. RuntimeError where the
    process exits first (with the end of its ``log``, where one is given) or ``timeout``
    seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-1500:] if log is not None else ""
            raise RuntimeError(
                f"the service exited while starting (exit status {proc.returncode})"
                + (f": {tail}" if tail else "")
            )
        try:
            if httpx.get(f"{url}/v2/health/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(every)
    raise RuntimeError(f"the service at {url} did not become ready in {timeout:g} s")
