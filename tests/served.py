"""Helpers for tests that run ``parcelscreen serve`` as a real process on 127.0.0.1."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable

import httpx


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(
    url: str,
    proc: subprocess.Popen[str] | subprocess.Popen[bytes],
    log: Callable[[], str],
    timeout: float = 90,
) -> None:
    """Wait until the served process answers ``/v2/health/ready`` with 200; fail with its
    log (``log()``, read only once the process has exited: a pipe would block before) if it
    exits first, or if it is not ready within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, log()[-2000:]
        try:
            if httpx.get(f"{url}/v2/health/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"not ready within {timeout:g} s"
        time.sleep(0.2)
