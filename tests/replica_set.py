"""A real replicated deployment on 127.0.0.1: ``parcelscreen serve`` replicas on their own
ports behind HAProxy (Debian's package; ``.ci/install-haproxy``), one PostgreSQL record.

The balancer checks each replica's readiness (``/v2/health/ready``) every 300 ms, takes a
replica out after two failed checks, and sends a request that found a replica's connection
refused or closed without an answer to the other one (``retry-on conn-failure
empty-response``, ``option redispatch``): a replica that dies mid-request may have
committed it, and the other answers the retry from the record (same item, same
``X-Request-ID``).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.served import free_port

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"

_CONFIG = """\
# HAProxy in front of parcelscreen replicas (docs/OPERATIONS.md, "Replicas"): readiness
# checks every 300 ms, a replica out after two failed checks; a request that found a
# replica's connection refused or closed without an answer goes to another replica (a
# retry is answered from the record: same item, same X-Request-ID).
global
    maxconn 1024
defaults
    mode http
    timeout connect 1s
    timeout client 60s
    timeout server 60s
    retries 3
    option redispatch
    option forwardfor
    retry-on conn-failure empty-response
frontend parcelscreen
    # a client's own X-Forwarded-For / -Proto never reach a replica: forwardfor sets the
    # one address the replicas trust (PARCELSCREEN_FORWARDED_ALLOW_IPS)
    http-request del-header X-Forwarded-For
    http-request del-header X-Forwarded-Proto
    bind {bind}
    default_backend replicas
backend replicas
    balance roundrobin
    option httpchk GET /v2/health/ready
    default-server inter 300ms fall 2 rise 2 init-addr last,libc,none{resolve}
{servers}
{resolvers}"""
#: Docker's DNS, so that a replica restarted with a new address is found again.
DOCKER_RESOLVERS = """resolvers docker
    nameserver dns 127.0.0.11:53
    hold valid 1s
"""


def haproxy_config(bind: str, replicas: list[str], docker: bool = False) -> str:
    """HAProxy's configuration: a balancer on ``bind`` (ADDRESS:PORT) over the replicas
    (HOST:PORT each). ``deploy/haproxy.cfg`` is this for the Compose file's replicas
    (``docker``: their names looked up in Docker's DNS)."""
    servers = "\n".join(
        f"    server replica{k + 1} {address} check" for k, address in enumerate(replicas)
    )
    return _CONFIG.format(
        bind=bind,
        servers=servers,
        resolve=" resolvers docker" if docker else "",
        resolvers="\n" + DOCKER_RESOLVERS if docker else "",
    )


class ReplicaSet:
    """``replicas`` serve processes (each its own data folder and port) and one HAProxy."""

    def __init__(
        self,
        root: Path,
        registry: Path,
        record: dict[str, Any],
        replicas: int = 2,
        workers: int = 1,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.root, self.registry, self.record = root, registry, record
        self.workers = workers
        self.ports = [free_port() for _ in range(replicas)]
        self.lb_port = free_port()
        self.url = f"http://127.0.0.1:{self.lb_port}"
        self.extra_env = extra_env or {}
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * replicas
        self.balancer: subprocess.Popen[bytes] | None = None

    def env(self, k: int = 0) -> dict[str, str]:
        """The environment of replica ``k`` (and of commands run beside it)."""
        return (
            os.environ
            | {
                "PARCELSCREEN_DATA_DIR": str(self.root / f"replica{k}"),
                "PARCELSCREEN_DATABASE_URL": self.record["database_url"],
                "PARCELSCREEN_DATABASE_SCHEMA": self.record["database_schema"],
                "PARCELSCREEN_REGISTRY": str(self.registry),
                "PARCELSCREEN_RELOAD_SECONDS": "0",
                "PARCELSCREEN_CAPACITY": "0.4",
                "PARCELSCREEN_LOCK_TIMEOUT": "10",
                # as behind the Compose file's balancer: the client it names is trusted
                "PARCELSCREEN_FORWARDED_ALLOW_IPS": "127.0.0.1",
            }
            | self.extra_env
        )

    def log(self, k: int) -> Path:
        return self.root / f"replica{k}.log"

    def start(self, k: int) -> None:
        """Start replica ``k`` (in a session of its own, so a kill takes its workers too)."""
        (self.root / f"replica{k}").mkdir(parents=True, exist_ok=True)
        with self.log(k).open("ab") as log:
            self.procs[k] = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "parcelscreen",
                    "serve",
                    "--port",
                    str(self.ports[k]),
                    "--workers",
                    str(self.workers),
                ],
                env=self.env(k),
                stdout=log,
                stderr=log,
                start_new_session=True,
            )

    def start_balancer(self) -> None:
        config = self.root / "haproxy.cfg"
        config.write_text(
            haproxy_config(f"127.0.0.1:{self.lb_port}", [f"127.0.0.1:{p}" for p in self.ports])
        )
        with (self.root / "haproxy.log").open("ab") as log:
            self.balancer = subprocess.Popen(
                [HAPROXY, "-f", str(config), "-db"], stdout=log, stderr=log
            )

    def wait_ready(self, k: int, timeout: float = 120) -> None:
        """Until replica ``k`` is ready; fails with its log if it exits or takes too long."""
        url = f"http://127.0.0.1:{self.ports[k]}/v2/health/ready"
        deadline = time.monotonic() + timeout
        while True:
            proc = self.procs[k]
            assert proc is not None and proc.poll() is None, self.log(k).read_text()[-3000:]
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"replica {k} not ready within {timeout:g} s"
            time.sleep(0.2)

    def wait_balanced(self, timeout: float = 30) -> None:
        """Until the balancer answers readiness (some replica is up behind it)."""
        deadline = time.monotonic() + timeout
        while True:
            assert self.balancer is not None and self.balancer.poll() is None, (
                self.root / "haproxy.log"
            ).read_text()[-3000:]
            try:
                if httpx.get(f"{self.url}/v2/health/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"the balancer not ready within {timeout:g} s"
            time.sleep(0.2)

    def up(self) -> ReplicaSet:
        for k in range(len(self.ports)):
            self.start(k)
        for k in range(len(self.ports)):
            self.wait_ready(k)
        self.start_balancer()
        self.wait_balanced()
        return self

    def kill(self, k: int) -> None:
        """SIGKILL replica ``k``: its supervisor and workers at once, as a lost machine."""
        proc = self.procs[k]
        assert proc is not None
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        self.procs[k] = None

    def cli(self, *argv: str, k: int = 0) -> subprocess.CompletedProcess[str]:
        """A ``parcelscreen`` command beside replica ``k``."""
        return subprocess.run(
            [sys.executable, "-m", "parcelscreen", *argv],
            env=self.env(k),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def close(self) -> None:
        for proc in [*self.procs, self.balancer]:
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
